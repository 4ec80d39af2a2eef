"""Growing a failure region from one failing point: confirm the point is not a sporadic failure,
grow a first box, describe it in the dims that matter and validate it (characterize.py: the
same for every strategy); if the box does not hold, it is peeled once where its own uniform
points (those that validated it) say the failures lie, or when none of its dims separates them,
shrunk towards the seed, and validated again on fresh points. Two ways to grow the first box:

- ``bracket`` (the default): from the seed, each face is probed along its own axis - first at
  the edge of the space, and where that probe passes, by bisection between the last failing
  and the first passing coordinate. All faces are probed in one batch per round, so a region
  costs ``2 D + bisections x (bounded faces)`` queries plus validation, and its box is exact
  for failure sets that are boxes.
- ``slab`` (PoseExaminer's boundary search): start with a small box and push each face outward
  while points sampled in a thin slab just outside that face still fail, all faces at once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from examiner.search.context import SearchContext
from examiner.search.rates import best_interval, drop_is_significant, loglik
from examiner.search.regions import Region
from synthgen.errors import ParamError


#: a box that failed validation marks at most this far around its seed (normalized units)
REJECT_RADIUS = 0.25
#: a peel keeps at least this many of the box's uniform points
MIN_PEEL = 8


@dataclass(frozen=True)
class Growth:
    method: str = "bracket"  # bracket | slab
    bisections: int = 1  # bracket: bisection rounds for a face whose edge probe passes (the
    # characterization then places the faces on more points)
    start_half_width: float = 0.04  # initial box half-width (normalized units)
    first_step: float = 0.15  # how far a face moves at first
    step_factor: float = 2.0  # ... and the factor its step grows by after each success
    slab_samples: int = 1  # points per face slab per round (a miss gets one half-step retry)
    slab_threshold: float = 1.0  # share of them that must fail for the face to move
    max_rounds: int = 10
    inner: float = 0.7  # slab points take their other coordinates from the box shrunk to this share
    retries: int = 1  # a face whose slab passes tries again with half the step this many times
    shrink: float = 0.6  # on failed validation with nothing to peel, keep this share of the box around the seed

    def __post_init__(self):
        if self.method not in ("bracket", "slab"):
            raise ParamError("growth.method", f"bracket or slab, got {self.method!r}")


def grow_region(ctx: SearchContext, x0: np.ndarray, growth: Growth = Growth(), owner: str = "") -> Region | None:
    """A validated region around the failing point ``x0`` (registered in ``ctx``), or None
    (the box is remembered as rejected)."""
    x0 = np.asarray(x0, dtype=np.float64)
    ch = ctx.characterizer
    if not ch.confirm(x0):
        return None
    with ctx.defining():
        lo, hi = _METHODS[growth.method](ctx, x0, growth)
    lo, hi = ch.describe(lo, hi, x0)
    if not ch.restricted(lo, hi).any():  # no dim matters: the failures were not a mode
        ctx.rejected.append(Region.around(x0, REJECT_RADIUS))
        return None
    region = Region(lo, hi, owner=owner, fixed_at=len(ctx.history))
    if ctx.validate(region):
        return ctx.accept(region)
    peeled = _peel(ch, lo, hi)
    if peeled is None:  # the bounded dims shrunk towards the seed (free dims stay free)
        bounded = ch.restricted(lo, hi)
        centre = np.clip(x0, lo, hi)
        peeled = ch.snap(np.where(bounded, centre + growth.shrink * (lo - centre), -1.0),
                         np.where(bounded, centre + growth.shrink * (hi - centre), 1.0), centre=centre)
    small = Region(*peeled, owner=owner, fixed_at=len(ctx.history))
    if ctx.validate(small):
        return ctx.accept(small)
    # no growth from this neighbourhood again (not from the whole box: it may hold other modes)
    ctx.rejected.append(Region.around(x0, REJECT_RADIUS))
    return None


def _peel(ch, lo: np.ndarray, hi: np.ndarray, rounds: int = 2) -> tuple[np.ndarray, np.ndarray] | None:
    """A box that failed validation, narrowed where its own uniform points say the failures
    lie (PRIM's peeling, on the points that validated it): per round, the bounded dim whose
    two-rate interval inside the box separates them best, when the part it cuts off fails
    measurably less often. None when no dim does."""
    c = ch.config
    X, y = ch.uniform_in(lo, hi)
    lo, hi = lo.copy(), hi.copy()
    peeled = False
    for _ in range(rounds):
        if len(y) < 2 * MIN_PEEL or not y.any():
            break
        best = None
        for d in np.nonzero(ch.restricted(lo, hi) & (ch.choices == 0))[0]:
            a, b = best_interval(X[:, d], y, lo_edge=lo[d], hi_edge=hi[d], min_inside=MIN_PEEL)
            inside = (X[:, d] >= a) & (X[:, d] <= b)
            k_in, n_in, k_out, n_out = int(y[inside].sum()), int(inside.sum()), int(y[~inside].sum()), int((~inside).sum())
            if (hi[d] - lo[d]) - (b - a) < c.resolution or not drop_is_significant(k_in, n_in, k_out, n_out, c.z_fit, c.min_drop):
                continue
            gain = float(loglik(k_in, n_in) + loglik(k_out, n_out) - loglik(k_in + k_out, n_in + n_out))
            if best is None or gain > best[0]:
                best = (gain, d, a, b, inside)
        if best is None:
            break
        _, d, lo[d], hi[d], inside = best
        X, y, peeled = X[inside], y[inside], True
    return ch.snap(lo, hi) if peeled else None


def _bracket(ctx: SearchContext, x0: np.ndarray, growth: Growth) -> tuple[np.ndarray, np.ndarray]:
    """Per face: the farthest coordinate along its axis from x0 that still fails. The first
    round probes the edge of the space and halfway to it; a face reaches the edge only if both
    fail (a single failure there may be a sporadic one, and an unbounded dim is never bounded
    again, while a needless bound is dropped by the characterization)."""
    inner = np.stack([x0, x0], axis=1)  # (D, 2): last failing coordinate below / above x0
    outer = np.stack([np.full(ctx.dims, -1.0), np.full(ctx.dims, 1.0)], axis=1)  # first passing (or the edge)
    active = np.abs(outer - inner) > 1e-9
    for round_ in range(1 + growth.bisections):
        faces = list(zip(*np.nonzero(active)))
        if not faces:
            break
        if round_ == 0:
            probes = [(d, s, v) for d, s in faces for v in (outer[d, s], 0.5 * (x0[d] + outer[d, s]))]
        else:
            probes = [(d, s, 0.5 * (inner[d, s] + outer[d, s])) for d, s in faces]
        pts = np.repeat(x0[None], len(probes), axis=0)
        for k, (d, _, v) in enumerate(probes):
            pts[k, d] = v
        results = {(d, s, v): q.failed for (d, s, v), q in zip(probes, ctx.evaluate_vectors(pts))}
        for d, s in faces:
            if round_ == 0:
                edge, mid = outer[d, s], 0.5 * (x0[d] + outer[d, s])
                if results[(d, s, edge)] and results[(d, s, mid)]:  # fails to the edge of the space
                    inner[d, s] = edge
                    active[d, s] = False
                elif results[(d, s, mid)]:
                    inner[d, s] = mid
                else:
                    outer[d, s] = mid
                continue
            v = 0.5 * (inner[d, s] + outer[d, s])
            if results[(d, s, v)]:
                inner[d, s] = v
            else:
                outer[d, s] = v
    return inner[:, 0].copy(), inner[:, 1].copy()


def _slabs(ctx: SearchContext, x0: np.ndarray, growth: Growth) -> tuple[np.ndarray, np.ndarray]:
    """Faces pushed outward while a thin slab just outside each still fails."""
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
    return lo, hi


_METHODS = {"bracket": _bracket, "slab": _slabs}
