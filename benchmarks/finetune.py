"""The whole loop on this CPU: (train the baseline if no checkpoint is given) -> search it for
failure regions -> fine-tune on them -> re-measure on held-out samples and search again with
the same budget and seed. Prints the before/after table and writes JSON.

The defaults search the arm, leg and trunk joints (the baseline is trained on the studio's
preset poses, so unusual joint angles are where it fails, and those failures are learnable)
and report a region where the model fails at least half the time: its failures there are
spread, and few boxes reach the search's usual 80%.

    python benchmarks/finetune.py --model out/baseline/baseline.pt [--space scenes/search_pose.yaml]
        [--strategy cmaes] [--budget 600] [--threshold 0.5] [--n 400] [--heldout 100] [--steps 300]
        [--mix 0.3] [--json benchmarks/results/finetune.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from report import report


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None, help="baseline checkpoint (default: train one, ~20 min)")
    ap.add_argument("--space", default="scenes/search_pose.yaml")
    ap.add_argument("--strategy", default="cmaes")
    ap.add_argument("--budget", type=int, default=600)
    ap.add_argument("--threshold", type=float, default=0.5, help="failure rate a region must reach to be reported")
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--heldout", type=int, default=100)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--mix", type=float, default=0.3, help="share of region samples in the training mix")
    ap.add_argument("--out", default="out/bench_finetune")
    ap.add_argument("--json", default="benchmarks/results/finetune.json")
    args = ap.parse_args()
    out = Path(args.out)
    t0 = time.perf_counter()
    model = args.model
    if model is None:
        model = str(out / "baseline.pt")
        subprocess.run([sys.executable, "-m", "examiner.cli", "train-baseline", "--scene", "scenes/studio.yaml",
                        "--out", model], check=True)
    from examiner.finetune import finetune
    from examiner.search.context import Validation
    from examiner.search.run import run_search

    search = out / "search_before"
    if not (search / "failures.json").is_file():
        run_search(f"torch:{model}", args.space, args.strategy, args.budget, search, seed=0, tensorboard=False,
                   validation=Validation(threshold=args.threshold))
    found = json.loads((search / "failures.json").read_text())
    if not found["regions"]:
        print(f"# the search found no failure region of {model} in {args.budget} queries: nothing to fine-tune on")
        return
    r = finetune(model, search / "failures.json", "scenes/studio.yaml", out / "finetune", steps=args.steps, mix=args.mix,
                 n_train=args.n, n_heldout=args.heldout, search_budget=args.budget)
    rows = [
        {"measure": "failure rate inside found regions (held-out)", "before": r["region_failure_rate"]["before"],
         "after": r["region_failure_rate"]["after"]},
        {"measure": "default scene error 1 - OKS (held-out)", "before": r["default_error"]["before"],
         "after": r["default_error"]["after"]},
        {"measure": "default scene PCK@0.1 (held-out)", "before": r["before"]["default_heldout"]["pck@0.1"],
         "after": r["after"]["default_heldout"]["pck@0.1"]},
        {"measure": f"regions found by a fresh search ({args.budget} q)", "before": r["search"]["regions_before"],
         "after": r["search"]["regions_after"]},
    ]
    report("fine-tuning on found failures", "python benchmarks/finetune.py " + " ".join(sys.argv[1:]),
           [("measure", "measure", "s"), ("before", "before", ".4f"), ("after", "after", ".4f")], rows, args.json,
           relative_drop_in_regions=r["region_failure_rate"]["relative_drop"],
           relative_change_default_error=r["default_error"]["relative_change"],
           seconds=round(time.perf_counter() - t0, 1))


if __name__ == "__main__":
    main()
