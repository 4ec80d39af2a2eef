"""``examiner benchmark``: every strategy on the same model (or the same landscapes), space,
budget and seeds, in one run. Per run: validated distinct regions, regions per 1000 queries,
queries to the first region and, for planted models and landscape families, the metrics of
``scoring.py`` (one-to-one recall, precision, box IoU on the mode's dims, spurious dims, the
anytime curve). The summary gives each strategy's mean and standard deviation over every
landscape and seed, and ``paired`` each strategy's recall against the best one's on the same
landscapes and seeds (the mean difference and its standard error): landscapes and seeds vary far
more than strategies do, so a gap between two means says little without it."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from examiner.search import STRATEGIES
from examiner.search.run import run_search
from synthgen.dataset.files import json_bytes, write_atomic

METRICS = ("recall", "precision", "iou", "spurious_dims", "restricted_dims")


def _mean_sd(values: list) -> tuple[float | None, float | None]:
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.mean(values), statistics.pstdev(values)


def paired_against_best(runs: list[dict], metric: str = "recall") -> dict | None:
    """The strategy with the highest mean ``metric`` and, for every other, the mean difference
    from it over the runs both made on the same landscape and seed, with its standard error
    (None with one run); None where fewer than two strategies have the metric."""
    by: dict[str, dict] = {}
    for r in runs:
        if r.get(metric) is not None:
            by.setdefault(r["strategy"], {})[(r["landscape"], r["seed"])] = r[metric]
    if len(by) < 2:
        return None
    best = max(by, key=lambda s: statistics.mean(by[s].values()))
    against = []
    for s, values in by.items():
        d = [values[k] - by[best][k] for k in values if k in by[best]]
        if s != best and d:
            se = statistics.stdev(d) / math.sqrt(len(d)) if len(d) > 1 else None
            against.append({"strategy": s, "runs": len(d), "difference": statistics.mean(d), "se": se})
    return {"metric": metric, "best": best, "against": against}


def benchmark(model: str | None, space: str | Path, budget: int, seeds: int, out: str | Path, agents: int = 4,
              strategies: tuple[str, ...] = STRATEGIES, progress=None, family: str | None = None,
              landscapes: int = 10, first_landscape: int = 0, policy: str | Path | None = None,
              family_options: dict | None = None) -> dict:
    """``model`` (a spec), or ``family`` with ``landscapes`` seeds from ``first_landscape``
    (``family_options``: the family's own, e.g. ``dims_per_mode`` and ``width`` of ``boxes``).
    ``policy``: the pretrained policy the marl variants that start from one use (``marl``,
    ``marl-frozen``; default: the shipped one)."""
    from examiner.landscape import landscape, option_flags, write_landscape
    from examiner.models import load_model
    from examiner.models.planted import PlantedModel
    from examiner.search.marl import check_policy, uses_policy
    from examiner.search.scoring import score_run
    from examiner.search_space import SearchSpace

    if policy is not None:  # before any search runs
        check_policy(strategies, policy)
    out = Path(out)
    search = SearchSpace.from_yaml(space)
    if family is not None:
        models, family_options = [], family_options or {}
        flags = option_flags(family_options)
        for k in range(first_landscape, first_landscape + landscapes):
            path = write_landscape(landscape(search.space, family, k, **family_options),
                                   out / "landscapes" / f"{family}_{k}.yaml",
                                   f"examiner landscape --family {family} --space {space} --seed {k} {flags}".strip())
            models.append((f"planted:{path}", k))
    else:
        models = [(model, None)]
    runs = []
    for spec, land in models:
        mut = load_model(spec)
        planted = mut if isinstance(mut, PlantedModel) else None
        for strategy in strategies:
            for seed in range(seeds):
                if progress:
                    progress(strategy, seed if land is None else f"{seed}, landscape {land}")
                name = f"{strategy}_seed{seed}" + ("" if land is None else f"_landscape{land}")
                r = run_search(spec, space, strategy, budget, out / name, agents, seed, model_obj=mut, tensorboard=False,
                               policy=policy if uses_policy(strategy) else None)
                row = {"strategy": strategy, "seed": seed, "landscape": land, "regions": len(r["regions"]),
                       "queries_used": r["queries_used"], "base_rate": r["base_rate"],
                       "regions_per_1000": 1000.0 * len(r["regions"]) / max(r["queries_used"], 1),
                       "first_region_at": r["first_region_at_query"], "seconds": r["seconds"],
                       "found_at": sorted(reg["found_at_query"] for reg in r["regions"])}
                if planted:
                    row |= score_run(r, planted, search.space, seed) | {"planted_modes": len(planted.regions)}
                runs.append(row)
        mut.close()
    summary = []
    scored = any("recall" in r for r in runs)
    for strategy in strategies:
        rows = [r for r in runs if r["strategy"] == strategy]
        firsts = [r["first_region_at"] for r in rows if r["first_region_at"] is not None]
        regions, regions_sd = _mean_sd([r["regions"] for r in rows])
        s = {"strategy": strategy, "runs": len(rows), "regions": regions, "regions_sd": regions_sd,
             "regions_per_1000": statistics.mean(r["regions_per_1000"] for r in rows),
             "first_region_at": statistics.mean(firsts) if firsts else None,
             "seconds": statistics.mean(r["seconds"] for r in rows)}
        if scored:
            for m in METRICS:
                s[m], s[m + "_sd"] = _mean_sd([r[m] for r in rows])
            s["curve"] = [[q, statistics.mean(r["curve"][i][1] for r in rows)] for i, (q, _) in enumerate(rows[0]["curve"])]
        summary.append(s)
    doc = {"model": model, "family": family, "family_options": family_options or None,
           "landscapes": list(range(first_landscape, first_landscape + landscapes)) if family else None,
           "space": str(space), "budget": budget, "seeds": seeds, "agents": agents,
           "policy": None if policy is None else str(policy),
           "planted_regions": statistics.mean(r["planted_modes"] for r in runs) if scored else None,
           "summary": summary, "paired": paired_against_best(runs) if scored else None, "runs": runs}
    write_atomic(out / "benchmark.json", json_bytes(doc))
    return doc
