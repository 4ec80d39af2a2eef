"""Families of planted failure landscapes over any search space: what search strategies and the
characterization are judged on, so that nothing is tuned to one file.

- ``realistic``: the shapes real pose models fail in, mixed: two 1-dim thresholds at the edge
  of a range ("camera elevation above 59 deg"), two 2-dim interactions at a corner ("far away
  and small"), two 3-dim pockets inside the space, one oblique boundary (a threshold on a
  weighted sum of two dims, which no box fits exactly), one pocket placed to overlap another
  mode on a shared dim, failures that fade out around every mode (``falloff``), and sporadic
  failures everywhere (``background``). Modes fail 70-95% of the time inside, not always.
- ``boxes``: ``modes`` interior boxes, each bounding ``dims`` dims to ``width`` of their range,
  hard edges, always failing, no background (the project's older planted benchmarks).

A landscape is a planted model file (``examiner.models.planted``) with ``score: direct``: a
query costs no render, so a strategy can be benchmarked over many landscapes and seeds. The
same seed and space always give the same file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from examiner.models.planted import EFFECTS
from synthgen.catalog import Continuous
from synthgen.errors import ParamError

FAMILIES = ("realistic", "boxes")
#: ``examiner landscape``'s family options -> the family function's arguments (and their types)
OPTIONS = {"modes": ("modes", int), "dims": ("dims_per_mode", int), "width": ("width", float)}


def option_flags(options: dict) -> str:
    """``examiner landscape``'s flags that give a family's ``options`` (its arguments' names)."""
    flag = {name: key for key, (name, _) in OPTIONS.items()}
    return " ".join(f"--{flag[name]} {value}" for name, value in options.items())


def _picker(rng: np.random.Generator, names: list[str]):
    """Draws dims without replacement while any are left, then from all of them again."""
    pool: list[str] = []

    def pick(k: int, avoid: tuple = ()) -> list[str]:
        out: list[str] = []
        while len(out) < k:
            if not pool:
                pool.extend(rng.permutation(names).tolist())
            candidates = [n for n in pool if n not in out and n not in avoid] or [n for n in names if n not in out]
            n = candidates[0]
            if n in pool:
                pool.remove(n)
            out.append(n)
        return out

    return pick


def _interval(rng: np.random.Generator, lo: float, hi: float, width: float, where: str) -> list[float]:
    """An interval of ``width`` (share of [lo, hi]) at the low edge, the high edge or inside."""
    span = hi - lo
    w = width * span
    if where == "edge":
        return [lo, lo + w] if rng.random() < 0.5 else [hi - w, hi]
    start = lo + span * rng.uniform(0.08, 0.92 - width)
    return [start, start + w]


def _round(values: list[float], span: float) -> list[float]:
    return [float(round(v, max(0, int(4 - np.floor(np.log10(span)))))) for v in values]


def _continuous(space) -> dict:
    """The space's continuous dims with a range, by name."""
    return {d.name: d for d in space.dims if isinstance(d, Continuous) and d.high > d.low}


def realistic(space, seed: int) -> dict:
    rng = np.random.default_rng([seed, 16])
    dims = _continuous(space)
    if len(dims) < 2:
        raise ParamError("--space", "a realistic landscape needs at least 2 continuous searched dims")
    pick = _picker(rng, list(dims))
    regions = []

    def box(kind: str, names: list[str], widths, where: str, rate: tuple) -> dict:
        bounds = {n: _round(_interval(rng, dims[n].low, dims[n].high, w, where), dims[n].high - dims[n].low)
                  for n, w in zip(names, widths)}
        return {"name": f"{kind}_{len(regions)}", "bounds": bounds,
                "effect": str(rng.choice(EFFECTS)), "rate": round(float(rng.uniform(*rate)), 2)}

    for _ in range(2):
        regions.append(box("edge", pick(1), [rng.uniform(0.05, 0.1)], "edge", (0.7, 0.95)))
    for _ in range(2):
        regions.append(box("interaction", pick(2), rng.uniform(0.16, 0.26, 2), "edge", (0.7, 0.95)))
    for _ in range(2):
        regions.append(box("pocket", pick(3), rng.uniform(0.25, 0.36, 3), "inside", (0.75, 0.95)))
    # an oblique boundary: positions p, q in [0, 1] along each dim's chosen direction fail where
    # p + q >= above; that corner holds (2 - above)^2 / 2 of the plane
    a, b = pick(2)
    area = rng.uniform(0.03, 0.06)
    oblique = {}
    for n in (a, b):
        lo, hi = dims[n].low, dims[n].high
        oblique[n] = _round([lo, hi] if rng.random() < 0.5 else [hi, lo], hi - lo)
    regions.append({"name": f"oblique_{len(regions)}", "oblique": oblique, "above": round(2 - float(np.sqrt(2 * area)), 3),
                    "effect": str(rng.choice(EFFECTS)), "rate": round(float(rng.uniform(0.75, 0.95)), 2)})
    # a pocket that overlaps an earlier box mode on one of its dims
    host = regions[int(rng.integers(0, 6))]
    shared = str(rng.choice(list(host["bounds"])))
    others = pick(2, avoid=(shared,))
    lo, hi = host["bounds"][shared]
    d = dims[shared]
    width = (hi - lo) * rng.uniform(0.8, 1.2)
    start = float(np.clip(lo + (hi - lo) * rng.uniform(-0.5, 0.5), d.low, d.high - width))
    pocket = box("overlap", others, rng.uniform(0.25, 0.36, 2), "inside", (0.75, 0.95))
    pocket["bounds"] = {shared: _round([start, start + width], d.high - d.low), **pocket["bounds"]}
    regions.append(pocket)
    return {"description": f"realistic landscape, seed {seed}: edge thresholds, interactions, pockets, an oblique "
                           "boundary and an overlap, with fading edges and sporadic failures",
            "score": "direct", "background": round(float(rng.uniform(0.01, 0.03)), 3), "falloff": 0.06,
            "falloff_rate": 0.2, "ranges": {n: [d.low, d.high] for n, d in dims.items()}, "regions": regions}


def boxes(space, seed: int, modes: int = 6, dims_per_mode: int = 3, width: float = 0.35) -> dict:
    rng = np.random.default_rng([seed, 17])
    dims = _continuous(space)
    if len(dims) < dims_per_mode:
        raise ParamError("--space", f"boxes of {dims_per_mode} dims need at least that many continuous searched dims")
    pick = _picker(rng, list(dims))
    regions = []
    for i in range(modes):
        names = pick(dims_per_mode)
        regions.append({"name": f"box_{i}", "effect": str(rng.choice(EFFECTS)),
                        "bounds": {n: _round(_interval(rng, dims[n].low, dims[n].high, width, "inside"),
                                             dims[n].high - dims[n].low) for n in names}})
    return {"description": f"{modes} boxes of {dims_per_mode} dims x {width:.0%} of range, seed {seed}, hard edges",
            "score": "direct", "ranges": {n: [d.low, d.high] for n, d in dims.items()}, "regions": regions}


def landscape(space, family: str, seed: int, **options) -> dict:
    """The planted model document of ``family`` number ``seed`` over ``space`` (a ParamSpace)."""
    if family == "realistic":
        if options:
            raise ParamError("--family", f"realistic takes no options, got {', '.join(options)}")
        return realistic(space, seed)
    if family == "boxes":
        return boxes(space, seed, **options)
    raise ParamError("--family", f"unknown landscape family {family!r} (one of {', '.join(FAMILIES)})")


def write_landscape(doc: dict, out: str | Path, header: str = "") -> Path:
    import yaml

    from synthgen.dataset.files import write_atomic

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(f"# {line}\n" for line in header.splitlines()) + yaml.safe_dump(doc, sort_keys=False, width=120, default_flow_style=None)
    write_atomic(out, text.encode())
    return out
