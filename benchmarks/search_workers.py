"""Parallel evaluation for searches: queries/s of one search with 1, 2, ... local worker
processes (and Ray actors on a local Ray, where Ray is installed), every run checked to give
the same failures.json as the one-worker run. It also prints how many CPU cores each run kept
busy on average (CPU seconds of this process and its workers over wall seconds): a machine
cannot run a search faster than its cores allow, so that column says how far more workers
could go here. "search overhead" is the share of the search's wall time not spent answering
queries: the strategy, its surrogate and policy, and describing the modes.

    python benchmarks/search_workers.py [--model mediapipe] [--budget 200] [--workers 1 2] [--ray]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from report import report


def _cpu_seconds() -> float:
    """CPU seconds used so far by this process and its ended children (the workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="mediapipe")
    ap.add_argument("--space", default="scenes/search_all.yaml")
    ap.add_argument("--strategy", nargs="+", default=["random", "marl"])
    ap.add_argument("--budget", type=int, default=200)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--ray", action="store_true", help="also Ray actors on a local Ray (as many as the most workers)")
    ap.add_argument("--json", default="benchmarks/results/search_workers.json")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from examiner.search.run import run_search

    rows = []
    tmp = Path(tempfile.mkdtemp())
    try:
        for strategy in args.strategy:
            settings = [(w, None) for w in args.workers] + ([(max(args.workers), "local")] if args.ray else [])
            first = None
            for workers, ray in settings:
                out = tmp / f"{strategy}_{workers}_{ray}"
                t0, cpu0 = time.perf_counter(), _cpu_seconds()
                result = run_search(args.model, args.space, strategy, args.budget, out, seed=0, tensorboard=False,
                                    workers=workers, ray_address=ray)
                seconds = time.perf_counter() - t0
                cores = (_cpu_seconds() - cpu0) / seconds
                doc = json.loads((out / "failures.json").read_text())
                first = first or (doc, seconds)
                rows.append({"strategy": strategy, "evaluation": f"ray local, {workers} actors" if ray else
                             f"{workers} worker{'s' * (workers > 1)}", "queries": result["queries_used"],
                             "seconds": seconds, "queries_per_s": result["queries_used"] / seconds,
                             "speedup": first[1] / seconds, "cores_busy": cores,
                             "overhead_pct": 100 * result["overhead_seconds"] / result["seconds"], "modes": len(doc["regions"]),
                             "same_failures_json": doc == first[0]})
                print(rows[-1], flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    cmd = (f"python benchmarks/search_workers.py --model {args.model} --space {args.space} --strategy "
           f"{' '.join(args.strategy)} --budget {args.budget} --workers {' '.join(map(str, args.workers))}"
           + (" --ray" if args.ray else ""))
    report(f"search throughput by worker count ({args.model}, {args.space}, {args.budget} queries, seed 0; "
           f"wall time of the whole search, start-up included; {os.cpu_count()} cores)", cmd,
           [("strategy", "strategy", "s"), ("evaluation", "evaluation", "s"), ("queries_per_s", "queries/s", ".2f"),
            ("speedup", "speedup", ".2f"), ("cores_busy", "cores busy", ".2f"),
            ("overhead_pct", "search overhead %", ".1f"), ("modes", "modes", "d"),
            ("same_failures_json", "same result", "")],
           rows, args.json)


if __name__ == "__main__":
    main()
