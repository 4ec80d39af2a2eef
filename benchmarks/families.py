"""Does a strategy hold up on landscapes of other shapes than the ones it was tuned on? The
search's settings were measured on the realistic family (tuning landscapes 0-11); this runs the
same strategies on several families - realistic, and ``boxes`` with other numbers of dims per
mode and other widths - over one space, with the same landscapes, seeds and budget for each
strategy (``examiner benchmark``'s function, one process per family and strategy), and prints
per family each strategy's recall and precision (mean and sd over landscapes and seeds) and its
recall's paired difference from ``--reference`` on the same landscapes and seeds, with its
standard error over the seeds.

A family is ``NAME`` or ``NAME:OPTION=VALUE,...`` with the options of ``examiner landscape``
(``boxes:dims=2,width=0.2``: six boxes, each bounding two dims to a fifth of their range).
Boxes of four dims cannot be reported as they are (a mode bounds at most three dims,
``ModeFinding.max_dims``); such a family measures what a search reports for modes it cannot
describe exactly.

    python benchmarks/families.py [--strategies lse marl random] [--reference lse]
        [--families realistic boxes:dims=2,width=0.2 boxes:dims=3] [--space scenes/search_all.yaml]
        [--first 400] [--landscapes 10] [--seeds 2] [--budget 600] [--jobs 2]
        [--json benchmarks/results/families.json]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from report import check_searches, report, search_options

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parse_family(text: str) -> tuple[str, dict]:
    """``NAME[:OPTION=VALUE,...]`` -> (name, options); a bad option exits with its name."""
    from examiner.landscape import OPTIONS

    name, _, rest = text.partition(":")
    options = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        if key not in OPTIONS:
            raise SystemExit(f"--families {text}: unknown option {key!r} (one of {', '.join(OPTIONS)})")
        try:
            options[OPTIONS[key][0]] = OPTIONS[key][1](value)
        except ValueError:
            raise SystemExit(f"--families {text}: {key} takes a number, got {value!r}") from None
    return name, options


def one_family(family: str, options: dict, strategy: str, args) -> list[dict]:
    """Every run of ``strategy`` on the family's landscapes and seeds (``benchmark``'s rows)."""
    from examiner.search.benchmark import benchmark
    from synthgen.workers import one_torch_thread

    with tempfile.TemporaryDirectory() as tmp, one_torch_thread():
        doc = benchmark(None, args.space, args.budget, args.seeds, tmp, args.agents, (strategy,), family=family,
                        landscapes=args.landscapes, first_landscape=args.first, family_options=options)
    return doc["runs"]


def paired(runs: list[dict], reference: list[dict]) -> tuple[float | None, float | None]:
    """Mean recall difference from the reference's runs on the same landscape and seed, and its
    standard error over the seeds (each seed's mean difference over the landscapes)."""
    ref = {(r["landscape"], r["seed"]): r["recall"] for r in reference}
    by_seed: dict[int, list[float]] = {}
    for r in runs:
        if (r["landscape"], r["seed"]) in ref:
            by_seed.setdefault(r["seed"], []).append(r["recall"] - ref[(r["landscape"], r["seed"])])
    if not by_seed:
        return None, None
    means = [statistics.mean(v) for v in by_seed.values()]
    diff = statistics.mean(d for v in by_seed.values() for d in v)
    return diff, (statistics.stdev(means) / math.sqrt(len(means)) if len(means) > 1 else None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--strategies", nargs="+", default=["lse", "marl", "random"])
    ap.add_argument("--reference", default="lse", help="the strategy the others are paired with")
    ap.add_argument("--families", nargs="+", default=["realistic", "boxes:dims=2,width=0.2", "boxes:dims=3"])
    ap.add_argument("--space", default="scenes/search_all.yaml")
    search_options(ap, 400, "first landscape seed (400: no search setting was tuned there)", 10, 2,
                   "families x strategies run at once", "benchmarks/results/families.json")
    args = ap.parse_args()
    check_searches(ap, args)
    if not Path(args.space).is_file():
        ap.error(f"--space: no such file: {args.space}")
    from examiner.landscape import FAMILIES

    families = [(text, *parse_family(text)) for text in args.families]
    for text, name, _ in families:
        if name not in FAMILIES:
            ap.error(f"--families {text}: unknown family {name!r} (one of {', '.join(FAMILIES)})")
    strategies = list(dict.fromkeys([args.reference, *args.strategies]))
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = {(text, s): pool.submit(one_family, name, options, s, args)
                   for text, name, options in families for s in strategies}
        runs = {key: f.result() for key, f in futures.items()}
    rows = []
    for text, _, _ in families:
        for s in strategies:
            rs = runs[(text, s)]
            diff, se = paired(rs, runs[(text, args.reference)]) if s != args.reference else (None, None)
            precision = [r["precision"] for r in rs if r["precision"] is not None]
            rows.append({"family": text, "strategy": s, "runs": len(rs),
                         "recall": statistics.mean(r["recall"] for r in rs),
                         "recall_sd": statistics.pstdev([r["recall"] for r in rs]),
                         "precision": statistics.mean(precision) if precision else float("nan"),
                         "paired": float("nan") if diff is None else diff,
                         "se": float("nan") if se is None else se})
    report(f"recall on landscape families, {args.landscapes} landscapes from {args.first} over {args.space}, "
           f"{args.budget} queries, {args.seeds} seeds ({time.perf_counter() - t0:.0f} s)",
           "python benchmarks/families.py --strategies {} --reference {} --families {} --space {} --first {} "
           "--landscapes {} --seeds {} --budget {}".format(" ".join(args.strategies), args.reference,
                                                           " ".join(args.families), args.space, args.first,
                                                           args.landscapes, args.seeds, args.budget),
           [("family", "family", "s"), ("strategy", "strategy", "s"), ("runs", "runs", "d"),
            ("recall", "recall", ".3f"), ("recall_sd", "sd", ".3f"), ("precision", "precision", ".3f"),
            ("paired", f"vs {args.reference}", "+.3f"), ("se", "se", ".3f")],
           rows, args.json, runs={f"{text} {s}": rs for (text, s), rs in runs.items()})


if __name__ == "__main__":
    main()
