"""``examiner search``: one strategy, one model, one space, one budget; writes
``failures.json`` (validated regions in named units), ``queries.jsonl`` (every query) and
``run.json`` (the settings, so that ``--resume`` continues only the same run)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from examiner.evaluate import Evaluator
from examiner.query_pool import pool_for
from examiner.search import make_strategy
from examiner.search.budget import BudgetExhausted
from examiner.search.context import SearchContext, Validation, base_samples
from examiner.search_space import SearchSpace
from synthgen.catalog import Categorical
from synthgen.dataset.files import json_bytes, sha256_file, write_atomic
from synthgen.errors import ParamError, SynthgenError

RUN, QUERIES, FAILURES = "run.json", "queries.jsonl", "failures.json"


def _read_log(path: Path) -> list[dict]:
    """Complete lines of an earlier run's query log; a line cut by a kill is dropped (and the
    file truncated to the complete ones)."""
    if not path.exists():
        return []
    raw = path.read_bytes()
    keep = raw[: raw.rfind(b"\n") + 1]
    if len(keep) != len(raw):
        path.write_bytes(keep)
    return [json.loads(line) for line in keep.decode().splitlines() if line.strip()]


def run_search(model: str, space: str | Path, strategy: str, budget: int, out: str | Path, agents: int = 4,
               seed: int = 0, resume: bool = False, validation: Validation = Validation(), progress=None,
               model_obj=None, size: int | None = None, tensorboard: bool = True, workers: int = 1,
               ray_address: str | None = None, policy: str | Path | None = None, strategy_obj=None) -> dict:
    """``workers`` > 1 or ``ray_address``: queries render (and per-image models predict) in a
    ``QueryPool``; the result does not depend on either (they are not part of run.json, so a
    search may resume with another count). ``policy``: marl's pretrained policy file.
    ``strategy_obj``: a ``Strategy`` to run instead of the one ``strategy`` names (which is then
    only its name in run.json), as ``model_obj`` is for the model: a benchmark's own rule."""
    out = Path(out)
    space = Path(space)
    if not space.is_file():
        raise ParamError("--space", f"no such file: {space}")
    if workers < 1:
        raise ParamError("--workers", f"expected at least 1 worker, got {workers}")  # before any model loads
    search = SearchSpace.from_yaml(space, size)
    settings = {"strategy": strategy, "model": model, "space": str(space), "space_sha256": sha256_file(space),
                "seed": seed, "budget": budget, "agents": agents, "size": size,
                "validation": {"samples": validation.samples, "threshold": validation.threshold}}
    chosen = {"policy": policy} if policy is not None else {}
    if chosen:
        from examiner.search.marl import check_policy

        check_policy((strategy,), policy)
        settings["policy"] = str(policy)
    if strategy_obj is None:
        make_strategy(strategy, agents, **chosen)  # unknown names and files fail before anything is written
    replay: list[dict] = []
    if (out / RUN).exists():
        if not resume:
            raise SynthgenError(f"{out}: holds a search already; add --resume to continue it, or choose another --out")
        earlier = json.loads((out / RUN).read_text())
        for k, v in settings.items():
            if earlier.get(k) != v:
                raise SynthgenError(f"{out}: was searched with {k} = {earlier.get(k)!r}, this run has {v!r}; "
                                    "resume needs the same settings")
        replay = _read_log(out / QUERIES)
    elif resume and out.exists() and any(out.iterdir()):
        raise SynthgenError(f"{out}: nothing to resume (no {RUN})")
    from examiner.models import load_model

    mut = model_obj if model_obj is not None else load_model(model)
    # started before anything is written: a missing Ray fails cleanly
    pool = pool_for(search, mut, None if model_obj is not None else model, workers, ray_address)
    start_run_folder(out, settings, replay)
    evaluator = Evaluator(mut, search, seed=seed, pool=pool)
    t0 = time.perf_counter()
    ctx = SearchContext(evaluator, budget, seed, validation, out / QUERIES, replay, progress)
    if strategy_obj is not None:
        strat = strategy_obj
    else:
        strat = make_strategy(strategy, agents, tensorboard=out / "tensorboard" if tensorboard else None, **chosen)
    try:
        try:
            ctx.draw_base_sample(base_samples(budget))
            strat.run(ctx)
        except BudgetExhausted:
            pass
        ctx.finalize()  # may query (logged, so a resumed run replays it)
    finally:
        ctx.close()
        if pool is not None:
            pool.close()
    result = failures_document(ctx, search, settings, mut.name)
    write_atomic(out / FAILURES, json_bytes(result))
    if model_obj is None:
        mut.close()
    # how this process went (not part of failures.json, which is the same for a resumed run):
    # the search's own overhead (strategy, surrogate, policy, describing the modes) is the wall
    # time not spent answering queries (render, predict, score)
    seconds = time.perf_counter() - t0
    return result | {"seconds": round(seconds, 2), "evaluating_seconds": round(evaluator.seconds, 2),
                     "overhead_seconds": round(seconds - evaluator.seconds, 2), "replayed_queries": len(replay),
                     "workers": f"ray ({ray_address}), {workers} actors" if ray_address else workers}


def start_run_folder(out: Path, settings: dict, replay: list[dict]) -> None:
    """``out`` with this run's ``run.json``; a query log not being resumed is removed."""
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / RUN, json_bytes(settings))
    if not replay and (out / QUERIES).exists():
        (out / QUERIES).unlink()


def failures_document(ctx: SearchContext, search: SearchSpace, settings: dict, model_name: str) -> dict:
    dims = []
    for d in search.space.dims:
        if isinstance(d, Categorical):
            dims.append({"name": d.name, "choices": list(d.choices)})
        else:
            dims.append({"name": d.name, "low": d.low, "high": d.high, "unit": d.unit, "doc": d.doc})
    graded = sum(q.graded for _, q in ctx.history if not q.cached)
    base_k, base_n = ctx.base_counts()
    return {
        "strategy": settings["strategy"], "model": settings["model"], "model_name": model_name,
        "space": settings["space"], "seed": settings["seed"], "budget": settings["budget"],
        "agents": settings["agents"], "queries_used": ctx.used, "failures": ctx.failures,
        "failure_rate": round(ctx.failures / max(graded, 1), 4),
        "base_rate": round(base_k / base_n, 4) if base_n else None, "base_samples": base_n,
        "first_region_at_query": ctx.first_region_at, "query_status": dict(ctx.evaluator.counts),
        "validation": settings["validation"], "searched_dims": dims, "fixed": search.space.fixed,
        "regions": [r.to_dict(search.space) for r in ctx.registry.regions],
        # confirmed during the search, refuted by the uniform points drawn in them afterwards
        "withdrawn": [r.to_dict(search.space) for r in ctx.withdrawn],
    }
