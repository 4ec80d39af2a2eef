"""How well ``examiner map`` describes planted landscapes, by how it proposes modes: the greedy
one-dim-at-a-time boxes (the default) against PRIM (``--method prim``), on the same uniform
queries of each landscape, scored with the search benchmark's metrics (one-to-one recall,
precision, IoU on the mode's dims, spurious dims); mean and sd over the landscapes.

    python benchmarks/map.py [--family realistic] [--landscapes 10] [--first 100] [-n 1500]
                             [--space scenes/search_all.yaml] [--json benchmarks/results/map.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from report import report

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", default="realistic")
    ap.add_argument("--landscapes", type=int, default=10)
    ap.add_argument("--first", type=int, default=100, help="first landscape seed (held out from tuning: 100+)")
    ap.add_argument("-n", type=int, default=1500, help="uniform queries per map")
    ap.add_argument("--space", default="scenes/search_all.yaml")
    ap.add_argument("--json", default="benchmarks/results/map.json")
    args = ap.parse_args()

    from examiner.landscape import landscape, write_landscape
    from examiner.map import run_map
    from examiner.models.planted import PlantedModel
    from examiner.search.scoring import score_run
    from examiner.search_space import SearchSpace

    space = SearchSpace.from_yaml(args.space).space
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.first, args.first + args.landscapes):
            path = write_landscape(landscape(space, args.family, k), Path(tmp) / f"{args.family}_{k}.yaml")
            planted = PlantedModel.from_yaml(path)
            first = None
            for method in ("greedy", "prim"):
                out = Path(tmp) / f"{method}_{k}"
                if first is not None:  # the same uniform queries for both methods
                    out.mkdir()
                    (out / "queries.jsonl").write_bytes((first / "queries.jsonl").read_bytes())
                    settings = json.loads((first / "run.json").read_text()) | {"method": method}
                    (out / "run.json").write_text(json.dumps(settings))
                r = run_map(f"planted:{path}", args.space, args.n, out, seed=k, method=method, model_obj=planted,
                            resume=first is not None)
                first = first or out
                runs.append({"method": method, "landscape": k, "modes": len(r["regions"]),
                             **{m: v for m, v in score_run(r, planted, space, k).items() if m not in ("matches", "curve")}})
    rows = []
    for method in ("greedy", "prim"):
        mine = [r for r in runs if r["method"] == method]
        row = {"method": method, "landscapes": len(mine)}
        for m in ("modes", "recall", "precision", "iou", "spurious_dims", "restricted_dims"):
            values = [r[m] for r in mine if r[m] is not None]
            row[m] = statistics.mean(values) if values else float("nan")
            row[m + "_sd"] = statistics.pstdev(values) if values else float("nan")
        rows.append(row)
    command = (f"python benchmarks/map.py --family {args.family} --landscapes {args.landscapes} --first {args.first} "
               f"-n {args.n} --space {args.space}")
    report(f"examiner map on {args.landscapes} {args.family} landscapes, {args.n} uniform queries each", command,
           [("method", "method", ""), ("modes", "modes", ".2f"), ("recall", "recall", ".2f"),
            ("recall_sd", "sd", ".2f"), ("precision", "precision", ".2f"), ("precision_sd", "sd", ".2f"),
            ("iou", "IoU", ".2f"), ("iou_sd", "sd", ".2f"), ("spurious_dims", "spurious", ".2f"),
            ("restricted_dims", "bounded", ".2f")], rows, args.json, runs=runs)


if __name__ == "__main__":
    main()
