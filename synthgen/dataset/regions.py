"""Datasets drawn from failure regions (``synthgen generate --from-regions failures.json``):
sample i falls in region i mod R, uniformly inside its box; every other parameter follows the
scene's distribution. This is the training data that fixes the failures a search found.

A region may also (or only) bound derived factors (``synthgen.derived``: what the image shows,
e.g. ``person_height_px: [0, 45]``; ``--derived`` takes the modes ``examiner map`` found in
them): a sample's parameters are then drawn again (from its own generator, so the result is
the same for any worker count) until its image shows the mode - rejection sampling, at most
``MAX_DRAWS`` draws per sample; ``probe`` measures the acceptance rate before anything is
written, and a mode that no probe draw reaches is an error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from synthgen.catalog import Categorical, lookup
from synthgen.errors import ConfigError, ParamError


MAX_DRAWS = 400  # draws of one sample's parameters before a derived mode counts as out of reach
PROBE_DRAWS = 24  # draws per derived mode that measure its acceptance before anything is written


def load_regions(path: str | Path, derived: bool = False) -> list[dict]:
    """The regions of an examiner ``failures.json`` (its map's modes in derived factors with
    ``derived``): [{"id", "bounds": {param: [lo, hi] or [choices]}, "derived": {factor: [lo, hi]}}]."""
    from synthgen.derived import FACTORS

    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(str(path), f"cannot read a failures.json ({e})") from None
    if derived:
        regions = (doc.get("derived") or {}).get("modes") if isinstance(doc, dict) else None
        if not isinstance(regions, list) or not regions:
            raise ConfigError(str(path), "holds no modes in derived factors (examiner map writes them)")
    else:
        regions = doc.get("regions") if isinstance(doc, dict) else None
    if not isinstance(regions, list) or not regions:
        raise ConfigError(str(path), "holds no regions (the search found none to sample from)")
    out = []
    for k, r in enumerate(regions):
        bounds = r.get("bounds") if isinstance(r, dict) else None
        if not isinstance(bounds, dict) or not bounds:
            raise ParamError(f"regions[{k}].bounds", "expected {name: [low, high], ...}", str(path))
        scene, factors = {}, {}
        for name, b in bounds.items():
            if name in FACTORS:
                if (not isinstance(b, list) or len(b) != 2 or not all(isinstance(x, (int, float)) for x in b)
                        or not b[0] <= b[1]):
                    raise ParamError(name, f"region {k}: expected [low, high], got {b!r}", str(path))
                factors[name] = b
                continue
            scene[name] = b
            dim = lookup(name, str(path))
            if isinstance(dim, Categorical):
                if not isinstance(b, list) or not b or any(c not in dim.choices for c in b):
                    raise ParamError(name, f"region {k}: expected a list of {list(dim.choices)}, got {b!r}", str(path))
            elif (not isinstance(b, list) or len(b) != 2 or not all(isinstance(x, (int, float)) for x in b)
                  or not b[0] <= b[1]):
                raise ParamError(name, f"region {k}: expected [low, high], got {b!r}", str(path))
        out.append({"id": r.get("id", k), "bounds": scene, "derived": factors})
    return out


def shows(factors: dict, bounds: dict) -> bool:
    """Whether a sample's derived factors fall inside a region's derived bounds."""
    return all(factors[k] is not None and lo <= factors[k] <= hi for k, (lo, hi) in bounds.items())


def probe(config, renderer, regions: list[dict], seed: int) -> dict:
    """{region id: (accepted, draws)} of ``PROBE_DRAWS`` draws of each region with derived
    bounds (rendered by ``renderer`` of the scene ``config``, before anything is written); a
    region none reaches is an error."""
    from synthgen.derived import derived_factors

    out = {}
    rng = np.random.default_rng([seed, 7])
    for r in regions:
        if not r["derived"]:
            continue
        hits = sum(shows(derived_factors(renderer.render(in_region(config.space.sample(rng), r, rng), seed)),
                         r["derived"]) for _ in range(PROBE_DRAWS))
        if hits == 0:
            raise ParamError("--from-regions", f"mode {r['id']}: none of {PROBE_DRAWS} draws of the scene showed "
                             f"{r['derived']} (acceptance too low to reach): widen the mode, or use a scene whose "
                             "ranges reach it more often")
        out[r["id"]] = (hits, PROBE_DRAWS)
    return out


def in_region(params: dict, region: dict, rng: np.random.Generator) -> dict:
    """``params`` with the region's dims drawn uniformly inside its box."""
    out = dict(params)
    for name, b in region["bounds"].items():
        if isinstance(lookup(name), Categorical):
            out[name] = b[int(rng.integers(len(b)))]
        else:
            out[name] = float(rng.uniform(b[0], b[1]))
    return out
