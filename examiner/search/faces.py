"""Faces of the reported modes placed by everything a search queried, once it has ended.

A mode's box is fixed when it is confirmed, from what was known then (a surrogate's boundary, a
growth's probes). By the end of a search many more queries lie around it: the points a search
concentrates near boundaries, other modes' validation, later proposals. Each face is placed again
on them, one dim at a time: the queries inside the box in every other dim (its slab along that
dim) are split by the maximum-likelihood interval of two failure rates (``best_interval``, the
same cut the boxes were grown with). A face moves only where the slab holds at least
``MIN_SLAB`` queries, ``MIN_FAILED`` of them failing, and the new interval overlaps the old one
by at least half of their union (the same mode, better placed); a bound at the edge of a range
stays there, and no bound becomes narrower than the resolution. Categorical dims keep their
choices. No query is spent.

A mode's failure rate is measured only on points drawn uniformly from a box that holds it, after
it was first fixed (``Characterizer.statistics``). A box whose faces moved out may hold too few
such points (its validation points were drawn from the narrower box): then only the part of the
new box inside the confirmed one is kept, and if even that is not measurable, the confirmed box.
Some of the points that measure the rate also placed the faces, which makes the rate of a box
whose faces moved slightly optimistic."""

from __future__ import annotations

import numpy as np

from examiner.search.characterize import MIN_SAMPLES
from examiner.search.rates import best_interval
from examiner.search.regions import Region

MIN_SLAB = 20  # queries in a face's slab before it is placed again ...
MIN_FAILED = 5  # ... of which at least this many failed
MIN_OVERLAP = 0.5  # the new interval overlaps the old one by at least this share of their union
EDGE = 0.1  # a bound within this of the edge of the range that was at the edge stays there


def refine_faces(region: Region, X: np.ndarray, failed: np.ndarray, characterizer) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) of ``region`` with its faces placed on the queries X (n, D), ``failed`` (n,)."""
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
        if overlap < MIN_OVERLAP * union or b - a < characterizer.config.resolution:
            continue
        lo[d], hi[d] = a, b
    return characterizer.snap(lo, hi)


def final_box(region: Region, X: np.ndarray, failed: np.ndarray, characterizer) -> tuple[np.ndarray, np.ndarray]:
    """The box a mode is reported with: ``refine_faces`` where its rate can be measured (see the
    module docstring)."""
    lo, hi = refine_faces(region, X, failed, characterizer)
    within = np.maximum(lo, region.lo), np.minimum(hi, region.hi)
    for a, b in ((lo, hi), within):
        if (b - a >= characterizer.config.resolution - 1e-9).all() and \
                characterizer.counts(a, b, since=region.fixed_at)[1] >= MIN_SAMPLES:
            return a, b
    return region.lo, region.hi
