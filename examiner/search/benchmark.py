"""``examiner benchmark``: every strategy on the same model, space, budget and seeds, in one
run. Per strategy: validated distinct regions, regions per 1000 queries, queries to the first
validated region and, for ``planted:`` models, recall of the planted regions (a planted region
counts as found when a reported region's centre lies inside it) and precision (reported
regions whose centre lies inside some planted region)."""

from __future__ import annotations

import statistics
from pathlib import Path

from examiner.search import STRATEGIES
from examiner.search.run import run_search
from synthgen.catalog import lookup
from synthgen.dataset.files import json_bytes, write_atomic


def centre_inside(centre: dict, bounds: dict, fixed: dict) -> bool:
    for name, (lo, hi) in bounds.items():
        v = centre.get(name, fixed.get(name, lookup(name).default))
        if not lo <= float(v) <= hi:
            return False
    return True


def planted_scores(result: dict, planted) -> dict:
    centres = [r["center"] for r in result["regions"]]
    fixed = result["fixed"]
    found = [any(centre_inside(c, p.bounds, fixed) for c in centres) for p in planted.regions]
    true = [any(centre_inside(c, p.bounds, fixed) for p in planted.regions) for c in centres]
    return {"recall": sum(found) / len(found), "precision": (sum(true) / len(true)) if true else 0.0,
            "planted_found": [p.name for p, f in zip(planted.regions, found) if f]}


def benchmark(model: str, space: str | Path, budget: int, seeds: int, out: str | Path, agents: int = 4,
              strategies: tuple[str, ...] = STRATEGIES, progress=None) -> dict:
    from examiner.models import load_model
    from examiner.models.planted import PlantedModel

    out = Path(out)
    mut = load_model(model)
    planted = mut if isinstance(mut, PlantedModel) else None
    runs = []
    for strategy in strategies:
        for seed in range(seeds):
            if progress:
                progress(strategy, seed)
            r = run_search(model, space, strategy, budget, out / f"{strategy}_seed{seed}", agents, seed,
                           model_obj=mut, tensorboard=False)
            row = {"strategy": strategy, "seed": seed, "regions": len(r["regions"]), "queries_used": r["queries_used"],
                   "regions_per_1000": 1000.0 * len(r["regions"]) / max(r["queries_used"], 1),
                   "first_region_at": r["first_region_at_query"], "seconds": r["seconds"],
                   "curve": sorted(reg["found_at_query"] for reg in r["regions"])}
            if planted:
                row |= planted_scores(r, planted)
            runs.append(row)
    mut.close()
    summary = []
    for strategy in strategies:
        rows = [r for r in runs if r["strategy"] == strategy]
        firsts = [r["first_region_at"] for r in rows if r["first_region_at"] is not None]
        s = {"strategy": strategy, "seeds": len(rows),
             "regions": statistics.mean(r["regions"] for r in rows),
             "regions_sd": statistics.pstdev(r["regions"] for r in rows),
             "regions_per_1000": statistics.mean(r["regions_per_1000"] for r in rows),
             "first_region_at": statistics.mean(firsts) if firsts else None,
             "seconds": statistics.mean(r["seconds"] for r in rows)}
        if planted:
            s["recall"] = statistics.mean(r["recall"] for r in rows)
            s["precision"] = statistics.mean(r["precision"] for r in rows)
        summary.append(s)
    doc = {"model": model, "space": str(space), "budget": budget, "seeds": seeds, "agents": agents,
           "planted_regions": len(planted.regions) if planted else None, "summary": summary, "runs": runs}
    write_atomic(out / "benchmark.json", json_bytes(doc))
    return doc
