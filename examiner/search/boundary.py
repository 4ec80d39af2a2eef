"""Growing a failure region from one failing point: start with a small box around it, and push
each face outward while points sampled in a thin slab just outside that face still fail
(PoseExaminer's boundary search, run on all faces of the box at once); then validate the box,
and if it does not hold, shrink it towards the seed once and validate again."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from examiner.search.context import SearchContext
from examiner.search.regions import Region


@dataclass(frozen=True)
class Growth:
    start_half_width: float = 0.04  # initial box half-width (normalized units)
    first_step: float = 0.15  # how far a face moves at first
    step_factor: float = 2.0  # ... and the factor its step grows by after each success
    slab_samples: int = 1  # points per face slab per round (a miss gets one half-step retry)
    slab_threshold: float = 1.0  # share of them that must fail for the face to move
    max_rounds: int = 10
    inner: float = 0.7  # slab points take their other coordinates from the box shrunk to this share
    retries: int = 1  # a face whose slab passes tries again with half the step this many times
    shrink: float = 0.6  # on failed validation, keep this share of the box around the seed


def grow_region(ctx: SearchContext, x0: np.ndarray, growth: Growth = Growth(), owner: str = "") -> Region | None:
    """A validated region around the failing point ``x0`` (registered in ``ctx``), or None
    (the box is remembered as rejected)."""
    D = ctx.dims
    lo = np.clip(x0 - growth.start_half_width, -1, 1)
    hi = np.clip(x0 + growth.start_half_width, -1, 1)
    step = np.full((D, 2), growth.first_step)
    retries = np.full((D, 2), growth.retries)
    active = np.stack([lo > -1, hi < 1], axis=1)
    for _ in range(growth.max_rounds):
        faces = list(zip(*np.nonzero(active)))
        if not faces:
            break
        pts = []
        mid, half = 0.5 * (lo + hi), 0.5 * growth.inner * (hi - lo)
        for d, side in faces:
            for _ in range(growth.slab_samples):
                p = ctx.rng.uniform(mid - half, mid + half)
                if side == 1:
                    p[d] = ctx.rng.uniform(hi[d], min(1.0, hi[d] + step[d, 1]))
                else:
                    p[d] = ctx.rng.uniform(max(-1.0, lo[d] - step[d, 0]), lo[d])
                pts.append(p)
        qs = ctx.evaluate_vectors(np.array(pts))
        for k, (d, side) in enumerate(faces):
            chunk = qs[k * growth.slab_samples:(k + 1) * growth.slab_samples]
            graded = [q for q in chunk if q.graded]
            rate = sum(q.failed for q in graded) / len(graded) if graded else 0.0
            if rate >= growth.slab_threshold:
                if side == 1:
                    hi[d] = min(1.0, hi[d] + step[d, 1])
                    active[d, 1] = hi[d] < 1.0
                else:
                    lo[d] = max(-1.0, lo[d] - step[d, 0])
                    active[d, 0] = lo[d] > -1.0
                step[d, side] *= growth.step_factor
            elif retries[d, side] > 0:
                retries[d, side] -= 1
                step[d, side] *= 0.5
            else:
                active[d, side] = False
    region = Region(lo.copy(), hi.copy(), owner=owner)
    if ctx.validate(region):
        return ctx.accept(region)
    small = Region(x0 + growth.shrink * (lo - x0), x0 + growth.shrink * (hi - x0), owner=owner)
    if ctx.validate(small):
        return ctx.accept(small)
    ctx.rejected.append(small)
    return None
