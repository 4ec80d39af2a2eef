"""``examiner pretrain``: the policy ``marl`` starts from, trained with PPO across a family of
planted landscapes (``landscape.py``; ``score: direct``, so a query costs no render) over one
search space. Every episode is one search of ``budget`` queries on the next landscape of the
family (seeds from ``first_landscape``, cycled); the K agents share the policy
(``candidate_policy.py``) and the environment is ``AcquisitionEnv``.

Keep the landscapes it trains on apart from the ones it is judged on: the shipped policy
(``assets/policies/make_marl.sh``) trains on seeds from 1000, and the benchmarks report held-out
seeds below that. Deterministic for its arguments (one torch thread, seeded)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from examiner.search.acquisition_env import AcquisitionConfig, AcquisitionEnv
from synthgen.errors import ParamError


def pretrain(space: str | Path, out: str | Path, family: str = "realistic", landscapes: int = 50,
             first_landscape: int = 1000, budget: int = 600, timesteps: int = 40_000, agents: int = 4, seed: int = 0,
             progress=None) -> dict:
    """Train and save the policy to ``out`` (a .zip); returns what was done."""
    import torch

    from examiner.evaluate import Evaluator
    from examiner.landscape import FAMILIES, landscape, write_landscape
    from examiner.models.planted import PlantedModel
    from examiner.search.context import SearchContext, base_samples
    from examiner.search.marl import new_model, vector_env
    from examiner.search_space import SearchSpace
    from synthgen.workers import one_torch_thread

    space, out = Path(space), Path(out)
    if not space.is_file():
        raise ParamError("--space", f"no such file: {space}")
    if family not in FAMILIES:
        raise ParamError("--family", f"unknown landscape family {family!r} (one of {', '.join(FAMILIES)})")
    for name, value, least in (("--landscapes", landscapes, 1), ("--budget", budget, 64), ("--timesteps", timesteps, 64),
                               ("--agents", agents, 1)):
        if value < least:
            raise ParamError(name, f"must be at least {least}, got {value}")
    if out.suffix != ".zip":
        raise ParamError("--out", f"the policy is saved as a .zip file, got {out}")
    search = SearchSpace.from_yaml(space)
    with tempfile.TemporaryDirectory() as tmp:  # planted models load from their files
        models = [PlantedModel.from_yaml(write_landscape(landscape(search.space, family, k), Path(tmp) / f"{k}.yaml"))
                  for k in range(first_landscape, first_landscape + landscapes)]
    episodes = {"n": 0, "modes": []}
    env: AcquisitionEnv | None = None

    def next_search() -> SearchContext:
        if env is not None and env.ctx is not None:
            episodes["modes"].append(env.modes_found)
            if progress:
                progress(episodes["n"], env.modes_found)
        k = episodes["n"]
        episodes["n"] += 1
        ctx = SearchContext(Evaluator(models[k % len(models)], search, seed=seed + k), budget, seed + k)
        ctx.draw_base_sample(base_samples(budget))
        return ctx

    config = AcquisitionConfig()
    env = AcquisitionEnv(next_search, agents, config, pretraining=True)
    vec = vector_env(env)
    t0 = time.perf_counter()
    with torch.random.fork_rng(), one_torch_thread():
        torch.manual_seed(seed)
        model = new_model(vec, agents, seed, online=False, config=config)
        model.learn(total_timesteps=timesteps)
    vec.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".partial.zip")
    model.save(tmp)
    tmp.replace(out)
    return {"out": str(out), "episodes": episodes["n"], "modes_per_episode": episodes["modes"],
            "seconds": round(time.perf_counter() - t0, 1), "family": family,
            "landscapes": [first_landscape, first_landscape + landscapes - 1], "budget": budget,
            "timesteps": timesteps, "agents": agents, "seed": seed}
