"""Faces of the reported modes placed by everything a search queried, once it has ended.

A mode's box is fixed when it is confirmed, from what was known then (a surrogate's boundary, a
growth's probes). By the end of a search many more queries lie around it: the points a search
concentrates near boundaries, other modes' validation, later proposals. Each face is placed again
on them, one dim at a time: the queries inside the box in every other dim (its slab along that
dim), less those inside the other modes (their failures are explained; a search that samples
where failures are would otherwise pull a face towards another mode), are split by the
maximum-likelihood interval of two failure rates (``best_interval``, the same cut the boxes were
grown with). A face moves only where the slab holds at least ``MIN_SLAB`` queries,
``MIN_FAILED`` of them failing, and the new interval either overlaps the old one by at least
half of their union (the same mode, better placed) or holds it, each face to within the
resolution (a bound placed too tightly: with the other dims too wide when it was placed, the
slab's rate was diluted); a bound at the edge of a range stays there, and no bound becomes
narrower than the resolution, nor so wide that its dim would be free (the description decided
which dims matter). Categorical dims keep their choices.

A mode's failure rate is measured only on points drawn uniformly from a box that holds it, after
it was first fixed (``Characterizer.statistics``). So the new box must hold like any mode: it is
validated on those points, and where they are too few (its validation points were drawn from
the narrower box) on fresh ones, from the queries the search held back for this
(``FINAL_RESERVE`` per mode, ``context.py``); where it reaches beyond the confirmed box, the part
it adds must not fail measurably less often than the confirmed box. Failing that, the part of
the new box inside the confirmed one is tried, on the points already there (the confirmed box's
validation points mostly), and then the confirmed box is kept.
Some of the points that measure the rate also placed the faces, which makes the rate of a box
whose faces moved slightly optimistic."""

from __future__ import annotations

import numpy as np

from examiner.search.budget import BudgetExhausted
from examiner.search.rates import best_interval, drop_is_significant
from examiner.search.regions import Region

MIN_SLAB = 20  # queries in a face's slab before it is placed again ...
MIN_FAILED = 5  # ... of which at least this many failed
MIN_OVERLAP = 0.5  # the new interval overlaps the old one by at least this share of their union
EDGE = 0.1  # a bound within this of the edge of the range that was at the edge stays there


def refine_faces(region: Region, X: np.ndarray, failed: np.ndarray, characterizer,
                 others: list[Region] = ()) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) of ``region`` with its faces placed on the queries X (n, D), ``failed`` (n,),
    leaving out those inside ``others`` (the other modes: their failures are theirs)."""
    if others:
        keep = ~np.any([characterizer.inside(X, r.lo, r.hi) for r in others], axis=0)
        X, failed = X[keep], failed[keep]
    resolution = characterizer.config.resolution
    lo, hi = region.lo.copy(), region.hi.copy()
    restricted = characterizer.restricted(lo, hi)
    for d in np.nonzero(restricted & (characterizer.choices == 0))[0]:
        wlo, whi = lo.copy(), hi.copy()
        wlo[d], whi[d] = -1.0, 1.0
        slab = characterizer.inside(X, wlo, whi)
        if slab.sum() < MIN_SLAB or failed[slab].sum() < MIN_FAILED:
            continue
        a, b = best_interval(X[slab, d], failed[slab], min_inside=MIN_FAILED)
        if lo[d] <= -1.0 and a < -1.0 + EDGE:
            a = -1.0
        if hi[d] >= 1.0 and b > 1.0 - EDGE:
            b = 1.0
        union = max(b, hi[d]) - min(a, lo[d])
        overlap = max(0.0, min(b, hi[d]) - max(a, lo[d]))
        # a bound placed too tightly, widened around it (its faces kept to within the resolution)
        holds = a <= lo[d] + resolution and b >= hi[d] - resolution
        # the description decided which dims matter: a bound moves, it is not dropped
        stays_bounded = characterizer.restricted(np.array([a]), np.array([b]))[0]
        if (overlap < MIN_OVERLAP * union and not holds) or b - a < resolution or not stays_bounded:
            continue
        lo[d], hi[d] = a, b
    return characterizer.snap(lo, hi)


def final_box(region: Region, X: np.ndarray, failed: np.ndarray, characterizer,
              others: list[Region] = (), fresh: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The box a mode is reported with (see the module docstring): ``refine_faces``, or else the
    part of it inside the confirmed box, whichever first holds - validated on the uniform points
    drawn since the mode was confirmed (and for the new box, up to ``fresh`` fresh ones: those the
    search held back), and, where it reaches beyond the confirmed box, with the part it adds
    failing not measurably less often than the confirmed box. Else the confirmed box."""
    lo, hi = refine_faces(region, X, failed, characterizer, others)
    if np.array_equal(lo, region.lo) and np.array_equal(hi, region.hi):
        return lo, hi
    c = characterizer.config
    within = np.maximum(lo, region.lo), np.minimum(hi, region.hi)
    for (a, b), draw in (((lo, hi), fresh), (within, 0)):
        if (b - a < c.resolution - 1e-9).any():
            continue
        try:
            if not characterizer.validate(Region(a, b, fixed_at=region.fixed_at), samples=draw):
                continue
        except BudgetExhausted:
            continue
        if (a < region.lo - 1e-9).any() or (b > region.hi + 1e-9).any():
            k_in, n_in = characterizer.counts(region.lo, region.hi, since=region.fixed_at)
            k_add, n_add = characterizer.counts(a, b, exclude=(region.lo, region.hi), since=region.fixed_at)
            if drop_is_significant(k_in, n_in, k_add, n_add, c.z, c.min_drop):
                continue
        return a, b
    return region.lo, region.hi
