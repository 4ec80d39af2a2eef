#!/usr/bin/env bash
# Makes assets/policies/marl.zip, the policy `examiner search --strategy marl` starts from:
# PPO across 50 realistic landscapes over scenes/search_all.yaml (seeds 1000-1049, apart from
# the seeds the benchmarks report), 600 queries per training search, 4 agents.
# The same weights for these arguments (seeded, one torch thread; the zip's metadata differs);
# about 15 minutes on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
"${EXAMINER:-examiner}" pretrain --space scenes/search_all.yaml --family realistic --landscapes 50 \
    --first-landscape 1000 --budget 600 --timesteps 20000 --agents 4 --seed 0 --out assets/policies/marl.zip
