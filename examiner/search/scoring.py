"""How well a search's reported regions explain a planted landscape's modes; metrics that cannot
flatter:

- **one-to-one matching**: a reported region can explain a planted mode only if most of its box
  lies in that mode (``purity``, the share of uniform points of the box that the mode holds, at
  least ``MIN_PURITY``); among those pairs, an optimal assignment (``linear_sum_assignment``)
  gives each region at most one mode and each mode at most one region, by IoU. Two regions for
  one mode explain it once.
- **recall**: planted modes explained / planted modes; **precision**: regions that explain a
  mode / regions reported.
- **box IoU on the mode's dims**: the region's box and the mode, both over the dims the mode
  depends on (other dims are free in the mode, and an extra bound there is counted below), by
  Monte Carlo over uniform points (exact for boxes up to sampling noise; an oblique mode cannot
  reach 1 with a box).
- **spurious dims**: per matched region, the dims it bounds to under ``FREE_SHARE`` of their
  range that the mode leaves free.
- **anytime curve**: recall counting only the regions found by each share of the budget.

A real model has no planted modes: ``match_reported`` matches a search's regions by the same rule
to the modes another result reports (``examiner map``'s, with enough lift and coverage;
``benchmarks/real_modes.py``)."""

from __future__ import annotations

import numpy as np

from synthgen.catalog import lookup

MIN_PURITY = 0.5
FREE_SHARE = 0.9
CURVE_POINTS = 10


def _physical(space, X: np.ndarray, names: list[str], fixed: dict) -> dict:
    """Values of ``names`` (continuous dims) at normalized points X (N, D); dims not searched
    take their fixed value or default."""
    out = {}
    for n in names:
        if n in space.names:
            d = space[n]
            out[n] = d.low + (X[:, space.names.index(n)] + 1.0) / 2.0 * (d.high - d.low)
        else:
            out[n] = np.full(len(X), float(fixed.get(n, lookup(n).default)))
    return out


def membership(planted, space, X: np.ndarray, fixed: dict | None = None) -> np.ndarray:
    """(N, M) bool: which of the planted model's M modes hold each normalized point of X (N, D)."""
    return np.column_stack([m.contains_array(_physical(space, X, m.dims, fixed or {})) for m in planted.regions]) \
        if planted.regions else np.zeros((len(X), 0), dtype=bool)


def bounded_dims(lo: np.ndarray, hi: np.ndarray) -> list[int]:
    """The dims a normalized box bounds to under ``FREE_SHARE`` of their range."""
    return np.nonzero(np.asarray(hi) - np.asarray(lo) < 2.0 * FREE_SHARE - 1e-9)[0].tolist()


def restricted_dims(space, lo: np.ndarray, hi: np.ndarray) -> list[str]:
    return [space.names[d] for d in bounded_dims(lo, hi)]


def match(boxes: list[tuple[np.ndarray, np.ndarray]], planted, space, fixed: dict, rng: np.random.Generator,
          n: int = 20000) -> list[tuple[int, int, float]]:
    """(region index, mode index, IoU on the mode's dims) for each matched pair."""
    dims = [[space.names.index(k) for k in mode.dims if k in space.names] for mode in planted.regions]
    return match_boxes(boxes, lambda X: membership(planted, space, X, fixed), dims, len(space), rng, n)


def match_boxes(boxes: list[tuple[np.ndarray, np.ndarray]], holds, mode_dims: list[list[int]], D: int,
                rng: np.random.Generator, n: int = 20000) -> list[tuple[int, int, float]]:
    """``match`` for any reference modes: ``holds(X)`` gives the (N, M) bool membership of
    normalized points X (N, D) in the M modes, ``mode_dims`` each mode's dims (indices)."""
    from scipy.optimize import linear_sum_assignment

    if not boxes or not mode_dims:
        return []
    U = rng.uniform(-1.0, 1.0, (n, D))
    iou = np.zeros((len(boxes), len(mode_dims)))
    inside = [rng.uniform(lo, hi, (2000, D)) for lo, hi in boxes]  # uniform points of each box
    in_modes = holds(U)
    purity = np.stack([holds(P).mean(0) for P in inside])  # (boxes, modes)
    for j, idx in enumerate(mode_dims):
        in_mode = in_modes[:, j]
        for i, (lo, hi) in enumerate(boxes):
            in_box = ((U[:, idx] >= lo[idx]) & (U[:, idx] <= hi[idx])).all(1) if idx else np.ones(n, bool)
            union = (in_box | in_mode).sum()
            iou[i, j] = (in_box & in_mode).sum() / union if union else 0.0
    ok = purity >= MIN_PURITY
    cost = np.where(ok, -iou - 1.0, 0.0)  # any valid pair beats none
    rows, cols = linear_sum_assignment(cost)
    return [(int(i), int(j), float(iou[i, j])) for i, j in zip(rows, cols) if ok[i, j]]


def reported_boxes(result: dict, min_lift: float = 0.0, min_coverage: float = 0.0) -> list[tuple[np.ndarray, np.ndarray]]:
    """The normalized boxes of a result's regions (``failures.json``) with at least this lift and
    coverage."""
    return [(np.array(r["normalized"]["lo"]), np.array(r["normalized"]["hi"])) for r in result["regions"]
            if (r.get("lift") or 0.0) >= min_lift and (r.get("coverage") or 0.0) >= min_coverage]


def match_reported(result: dict, reference: dict, min_lift: float = 2.0, min_coverage: float = 0.1,
                   seed: int = 0) -> tuple[list[tuple[int, int, float]], int, list[bool]]:
    """A result's regions matched to another result's modes (a map's, on a real model) with at least
    ``min_lift`` and ``min_coverage``, by ``match``'s rule: (pairs, reference modes, per pair
    whether the region bounds the mode's own dims and no other)."""
    modes = reported_boxes(reference, min_lift, min_coverage)
    boxes = reported_boxes(result)
    dims = [bounded_dims(lo, hi) for lo, hi in modes]

    def holds(X: np.ndarray) -> np.ndarray:
        return np.column_stack([((X >= lo) & (X <= hi)).all(1) for lo, hi in modes])

    pairs = match_boxes(boxes, holds, dims, len(boxes[0][0]) if boxes else 0, np.random.default_rng(seed))
    same = [bounded_dims(*boxes[i]) == dims[j] for i, j, _ in pairs]
    return pairs, len(modes), same


def score_run(result: dict, planted, space, seed: int = 0) -> dict:
    """Recall, precision, IoU, spurious dims and the anytime curve of one search result."""
    fixed = result.get("fixed", {})
    regions = result["regions"]
    boxes = reported_boxes(result)
    rng = np.random.default_rng(seed)
    pairs = match(boxes, planted, space, fixed, rng)
    spurious = []
    for i, j, _ in pairs:
        free = set(restricted_dims(space, *boxes[i])) - set(planted.regions[j].dims)
        spurious.append(len(free))
    budget = result["budget"]
    curve = []
    for k in range(1, CURVE_POINTS + 1):
        q = budget * k / CURVE_POINTS
        keep = [b for b, r in zip(boxes, regions) if r["found_at_query"] <= q]
        curve.append([round(q), len(match(keep, planted, space, fixed, np.random.default_rng(seed))) / len(planted.regions)])
    return {
        "recall": len(pairs) / len(planted.regions),
        "precision": len(pairs) / len(regions) if regions else None,
        "iou": float(np.mean([p[2] for p in pairs])) if pairs else None,
        "spurious_dims": float(np.mean(spurious)) if spurious else None,
        "restricted_dims": float(np.mean([len(restricted_dims(space, *b)) for b in boxes])) if boxes else None,
        "planted_found": [planted.regions[j].name for _, j, _ in pairs],
        "matches": [{"region": regions[i]["id"], "mode": planted.regions[j].name, "iou": round(v, 4),
                     "spurious_dims": sorted(set(restricted_dims(space, *boxes[i])) - set(planted.regions[j].dims))}
                    for i, j, v in pairs],
        "curve": curve,
    }
