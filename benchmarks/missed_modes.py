"""Where do the planted modes a search misses go? For every planted mode of a realistic landscape
(``score: direct``, no render) that a search did not report, this looks at the search's own
queries at its end and sorts the miss into one of four causes:

- **few queries**: fewer than ``ScanConfig.min_inside`` queries inside the mode and outside the
  reported ones, fewer than the scan's smallest box holds;
- **no box**: the queries are there, but a scan of the final queries outside the reported
  modes (``scan.scan_boxes``, as the mode finder runs it) proposes no box that the mode holds
  at least half of (``scoring.MIN_PURITY``, the match rule);
- **box would fail**: such a box is proposed, but its failure rate, expected from the planted
  landscape (its modes' rates at 4,000 uniform points inside, the background elsewhere), is
  under ``PASSES`` - its validation would most likely refuse it;
- **box would pass**: the box would most likely pass its validation; what a search that had
  queries left at its end could still confirm.

For the missed modes it also prints the median number of queries inside each, of them failing,
and of those failing that no reported mode holds. A cause that takes most misses is where the
next gain has to come from: more queries inside the modes (their evidence), better proposals
from the same queries, or the budget at the end.

    python benchmarks/missed_modes.py [--strategy lse] [--first 0] [--landscapes 12] [--seeds 2] [--budget 600] [--jobs 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from report import check_searches, report, search_options

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CAUSES = ("few queries", "no box", "box would fail", "box would pass")
KINDS = ("edge", "interaction", "pocket", "oblique", "overlap")
#: a box whose expected failure rate is at least this passes its validation at least as often as
#: not: a one-sided 90% bound over 0.5 needs 11 failures in 16 uniform points, which a box
#: failing 65% of the time gets about half the time (60%: a third, 75%: four times in five)
PASSES = 0.65


def expected_rate(planted, space, lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """(share of the box each mode holds, the box's expected failure rate): at uniform points
    inside, the highest rate of the modes holding each (the planted model fails a point on one
    draw against every mode holding it), the background elsewhere (the fading edges left out)."""
    from examiner.search.scoring import membership

    P = rng.uniform(lo, hi, (4000, len(lo)))
    inside = membership(planted, space, P)
    rates = np.array([m.rate for m in planted.regions])
    per_point = np.where(inside.any(1), (inside * rates[None, :]).max(1), planted.background)
    return inside.mean(0), float(per_point.mean())


def one_search(strategy: str, landscape_seed: int, seed: int, budget: int, agents: int) -> list[dict]:
    """One row per planted mode: its kind, whether the search found it, and for a miss its
    evidence and cause."""
    from examiner.landscape import landscape, write_landscape
    from examiner.models import load_model
    from examiner.search.run import QUERIES, _read_log, run_search
    from examiner.search.scan import ScanConfig, scan_boxes
    from examiner.search.scoring import MIN_PURITY, membership, reported_boxes, score_run
    from examiner.search_space import SearchSpace
    from synthgen.workers import one_torch_thread

    space_file = ROOT / "scenes" / "search_all.yaml"
    space = SearchSpace.from_yaml(space_file).space
    with tempfile.TemporaryDirectory() as tmp, one_torch_thread():
        path = write_landscape(landscape(space, "realistic", landscape_seed), Path(tmp) / "planted.yaml")
        planted = load_model(f"planted:{path}")
        result = run_search(f"planted:{path}", space_file, strategy, budget, Path(tmp) / "run", agents, seed,
                            model_obj=planted, tensorboard=False)
        found = set(score_run(result, planted, space, seed)["planted_found"])
        lines = _read_log(Path(tmp) / "run" / QUERIES)
    X = np.array([q["x"] for q in lines])
    y = np.array([bool(q["query"]["failed"]) for q in lines])
    boxes = reported_boxes(result)
    explained = np.zeros(len(X), dtype=bool)
    for lo, hi in boxes:
        explained |= ((X >= lo) & (X <= hi)).all(1)
    held = membership(planted, space, X, result.get("fixed", {}))
    config = ScanConfig()
    rng = np.random.default_rng([seed, landscape_seed])
    scanned = [(lo, hi, *expected_rate(planted, space, lo, hi, rng))
               for lo, hi, _ in scan_boxes(X[~explained], y[~explained], rng, config)]
    rows = []
    for j, mode in enumerate(planted.regions):
        row = {"kind": mode.name.split("_")[0], "found": mode.name in found}
        if not row["found"]:
            failing = held[:, j] & y
            row |= {"inside": int(held[:, j].sum()), "failing": int(failing.sum()),
                    "unexplained": int((failing & ~explained).sum())}
            best = max((b for b in scanned if b[2][j] >= MIN_PURITY), key=lambda b: b[3], default=None)
            if (held[:, j] & ~explained).sum() < config.min_inside:
                row["cause"] = "few queries"
            else:
                row["cause"] = "no box" if best is None else "box would pass" if best[3] >= PASSES else "box would fail"
        rows.append(row)
    return rows


def summary(kind: str, rows: list[dict]) -> dict:
    missed = [r for r in rows if not r["found"]]
    out = {"kind": kind, "planted": len(rows), "recall": sum(r["found"] for r in rows) / max(1, len(rows)),
           "missed": len(missed)}
    for key in ("inside", "failing", "unexplained"):
        out[key] = statistics.median(r[key] for r in missed) if missed else float("nan")
    for cause in CAUSES:
        out[cause] = sum(r["cause"] == cause for r in missed) / len(missed) if missed else float("nan")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--strategy", default="lse")
    search_options(ap, 0, "first realistic landscape (0-11: the tuning ones)", 12, 2,
                   "searches run at once, one per process", "benchmarks/results/missed_modes.json")
    args = ap.parse_args()
    check_searches(ap, args)
    tasks = [(k, s) for s in range(args.seeds) for k in range(args.first, args.first + args.landscapes)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(one_search, args.strategy, k, s, args.budget, args.agents) for k, s in tasks]
        modes = [row for f in futures for row in f.result()]
    rows = [summary(kind, [r for r in modes if r["kind"] == kind]) for kind in KINDS]
    rows.append(summary("all", modes))
    report(f"planted modes {args.strategy} misses and why: realistic landscapes {args.first}-"
           f"{args.first + args.landscapes - 1} over scenes/search_all.yaml, {args.budget} queries, {args.seeds} seeds "
           f"({time.perf_counter() - t0:.0f} s)",
           f"python benchmarks/missed_modes.py --strategy {args.strategy} --first {args.first} "
           f"--landscapes {args.landscapes} --seeds {args.seeds} --budget {args.budget}",
           [("kind", "kind", "s"), ("planted", "planted", "d"), ("recall", "recall", ".2f"), ("missed", "missed", "d"),
            ("inside", "inside", ".0f"), ("failing", "failing", ".0f"), ("unexplained", "unexplained", ".0f"),
            *[(c, c, ".0%") for c in CAUSES]],
           rows, args.json, strategy=args.strategy, landscapes=[args.first, args.first + args.landscapes - 1],
           seeds=args.seeds, budget=args.budget)


if __name__ == "__main__":
    main()
