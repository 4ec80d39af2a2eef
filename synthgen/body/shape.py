"""Body shape sampling: Anny's population model (height, weight, muscle and proportions
conditioned on age and gender, calibrated on WHO growth data)."""

from __future__ import annotations

import functools

import torch


@functools.lru_cache(maxsize=1)
def _distribution():
    from anny.shape_distribution import SimpleShapeDistribution

    from synthgen.body.anny_body import load_anny

    return SimpleShapeDistribution(load_anny())


def sample_anny_shapes(seed: int, n: int) -> list[dict[str, float]]:
    """``n`` realistic Anny phenotype dicts (``shape.*`` names), deterministic for ``seed``."""
    dist = _distribution()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        _, phen = dist.sample(n)
    return [{f"shape.{k}": float(v[i].clamp(0.0, 1.0)) for k, v in phen.items()} for i in range(n)]


#: the shape priors a scene's ``shape_prior:`` can name, given to its ParamSpace
SHAPE_PRIORS = {"anny": sample_anny_shapes}
