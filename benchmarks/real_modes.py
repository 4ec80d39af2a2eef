"""Does a search find the failure modes a larger uniform map finds, on a real model (BlazePose by
default)? A real model has no planted truth; the reference is ``examiner map`` (uniform queries,
modes proposed on half of them and measured on the other half), run at several seeds. Each map's
modes with lift at least 2 and coverage at least 10% are matched one-to-one to each search's
reported modes by the search benchmark's rule (``scoring.match_reported``: most of a reported box
lies in the map's mode, the best pairs by IoU on the mode's dims). The maps are matched to each
other the same way: that row says how far two maps of the same size agree, the most a search
can be asked to agree with one. A third row counts only the modes of a map that another map finds
too (the modes maps agree on), a steadier reference than one map's.

    python benchmarks/real_modes.py [--model mediapipe] [--space scenes/search_all.yaml]
        [--maps 0 1 2] [-n 1500] [--strategy lse] [--seeds 0 1 2 3 4 5 6 7] [--budget 600]
        [--workers 1] [--dir benchmarks/results/real_modes] [--json benchmarks/results/real_modes.json]

Every map and search is written under ``--dir`` (``map_S``, ``STRATEGY_S``) and resumed from
there, so an interrupted run goes on where it stopped and a second run reads the first's
results (the search overhead it prints then counts only the searches it ran: a search read back
from its queries takes no time a search would)."""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from report import report

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def only(match: tuple, modes: set[int]) -> tuple:
    """``match_reported``'s (pairs, reference modes, same dims) counting only the reference modes
    ``modes`` (indices)."""
    pairs, _, same = match
    keep = [k for k, (_, j, _) in enumerate(pairs) if j in modes]
    return [pairs[k] for k in keep], len(modes), [same[k] for k in keep]


def main() -> None:
    from examiner.search import DEFAULT_STRATEGY

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mediapipe")
    ap.add_argument("--space", default="scenes/search_all.yaml")
    ap.add_argument("--maps", type=int, nargs="+", default=[0, 1, 2], help="map seeds")
    ap.add_argument("-n", type=int, default=1500, help="uniform queries per map")
    ap.add_argument("--strategy", default=DEFAULT_STRATEGY)
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(8)), help="search seeds")
    ap.add_argument("--budget", type=int, default=600)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--dir", default="benchmarks/results/real_modes", help="where the maps and searches are kept")
    ap.add_argument("--json", default="benchmarks/results/real_modes.json")
    args = ap.parse_args()
    if len(args.maps) < 2:
        ap.error("--maps: give at least two seeds (the maps are also matched to each other)")

    from examiner.labels import rate_sentence
    from examiner.map import run_map
    from examiner.report import plain_summary
    from examiner.search.run import run_search
    from examiner.search.scoring import match_reported

    work = Path(args.dir)
    maps, searches, overhead = {}, [], []
    for s in args.maps:
        out = work / f"map_{s}"
        maps[s] = run_map(args.model, args.space, args.n, out, seed=s, resume=(out / "queries.jsonl").exists(),
                          workers=args.workers)
        print(f"map seed {s}: " + " / ".join("; ".join(plain_summary(m, maps[s]["searched_dims"])) + ": " + rate_sentence(m)
                                             for m in maps[s]["regions"]), flush=True)
    for s in args.seeds:
        out = work / f"{args.strategy}_{s}"
        r = run_search(args.model, args.space, args.strategy, args.budget, out, seed=s,
                       resume=(out / "queries.jsonl").exists(), tensorboard=False, workers=args.workers)
        searches.append(r)
        if not r["replayed_queries"]:
            overhead.append(r["overhead_seconds"] / max(r["seconds"], 1e-9))
        print(f"{args.strategy} seed {s}: {len(r['regions'])} modes", flush=True)

    label = f"{args.strategy}, {args.budget} queries"
    agreed_label = f"{label}, on the modes another map finds too"
    # finder -> reference seed -> match_reported's
    matched = {"maps (the other seeds)": {}, label: {}, agreed_label: {}}
    for ref in args.maps:
        matched["maps (the other seeds)"][ref] = [match_reported(r, maps[ref]) for s, r in maps.items() if s != ref]
        matched[label][ref] = [match_reported(r, maps[ref]) for r in searches]
        agreed = {j for pairs, _, _ in matched["maps (the other seeds)"][ref] for _, j, _ in pairs}
        matched[agreed_label][ref] = [only(m, agreed) for m in matched[label][ref]]
    rows = []
    for ref in [*args.maps, None]:  # None: every map's modes together
        for finder, by_ref in matched.items():
            found = [m for s, ms in by_ref.items() if ref in (None, s) for m in ms]
            modes = sum(m for _, m, _ in found)
            if not modes:
                continue  # no mode of this map is found by another map
            n = found[0][1]
            rows.append({
                "reference": f"map seed {ref} ({n} mode{'s' * (n != 1)})" if ref is not None else "all maps",
                "finder": finder, "runs": len(found), "every_mode": sum(len(p) == m for p, m, _ in found),
                "modes_found": sum(len(p) for p, _, _ in found) / modes,
                "on_its_dims": sum(sum(same) for _, _, same in found) / modes,
                "iou": statistics.mean([v for p, _, _ in found for _, _, v in p] or [0.0]),
            })
    cmd = ("python benchmarks/real_modes.py --model {} --space {} --maps {} -n {} --strategy {} --seeds {} "
           "--budget {} --workers {}").format(args.model, args.space, " ".join(map(str, args.maps)), args.n,
                                               args.strategy, " ".join(map(str, args.seeds)), args.budget,
                                               args.workers)
    share = f"{100 * statistics.mean(overhead):.0f}% (mean of {len(overhead)} searches)" if overhead else \
        "not measured (every search was read back from --dir)"
    report(f"modes of {args.model} a search finds, against maps of {args.n} uniform queries", cmd,
           [("reference", "reference", ""), ("finder", "matched", ""), ("runs", "runs", "d"),
            ("every_mode", "runs finding every mode", "d"), ("modes_found", "modes found", ".2f"),
            ("on_its_dims", "on the mode's own dims", ".2f"), ("iou", "IoU", ".2f")],
           rows, args.json, search_overhead=share,
           modes={s: [{"bounds": {k: v for k, v in m["bounds"].items() if k in m["restricted"]},
                       "failure_rate": m["failure_rate"], "lift": m["lift"], "coverage": m["coverage"]}
                      for m in maps[s]["regions"]] for s in args.maps})
    print(f"# search overhead (strategy, surrogate, policy, describing the modes): {share}")


if __name__ == "__main__":
    main()
