"""Datasets drawn from failure regions (``synthgen generate --from-regions failures.json``):
sample i falls in region i mod R, uniformly inside its box; every other parameter follows the
scene's distribution. This is the training data that fixes the failures a search found."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from synthgen.catalog import Categorical, lookup
from synthgen.errors import ConfigError, ParamError


def load_regions(path: str | Path) -> list[dict]:
    """The regions of an examiner ``failures.json``: [{"id", "bounds": {name: [lo, hi] or [choices]}}]."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(str(path), f"cannot read a failures.json ({e})") from None
    regions = doc.get("regions") if isinstance(doc, dict) else None
    if not isinstance(regions, list) or not regions:
        raise ConfigError(str(path), "holds no regions (the search found none to sample from)")
    out = []
    for k, r in enumerate(regions):
        bounds = r.get("bounds") if isinstance(r, dict) else None
        if not isinstance(bounds, dict) or not bounds:
            raise ParamError(f"regions[{k}].bounds", "expected {name: [low, high], ...}", str(path))
        for name, b in bounds.items():
            dim = lookup(name, str(path))
            if isinstance(dim, Categorical):
                if not isinstance(b, list) or not b or any(c not in dim.choices for c in b):
                    raise ParamError(name, f"region {k}: expected a list of {list(dim.choices)}, got {b!r}", str(path))
            elif (not isinstance(b, list) or len(b) != 2 or not all(isinstance(x, (int, float)) for x in b)
                  or not b[0] <= b[1]):
                raise ParamError(name, f"region {k}: expected [low, high], got {b!r}", str(path))
        out.append({"id": r.get("id", k), "bounds": bounds})
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
