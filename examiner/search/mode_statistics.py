"""What failures.json says of a mode, the same for a search's modes and ``examiner map``'s:
its failure rate and interval, the base rate, lift, coverage, and its bounded dims ranked by how
much each matters."""

from __future__ import annotations

import numpy as np

from examiner.search.rates import wilson
from examiner.search.regions import Region


def mode_statistics(names: list[str], region: Region, restricted: np.ndarray, count, base: float | None,
                    coverage: float | None) -> dict:
    """What failures.json says of a mode. ``count(lo, hi) -> (failures, points)`` over the
    points that measure it; each restricted dim's importance is the drop in failure rate when
    that dim is relaxed to its full range."""
    k, n = count(region.lo, region.hi)
    rate = k / n if n else 0.0
    ci = wilson(k, n)
    importance = {}
    for d in np.nonzero(restricted)[0]:
        wide_lo, wide_hi = region.lo.copy(), region.hi.copy()
        wide_lo[d], wide_hi[d] = -1.0, 1.0
        kw, nw = count(wide_lo, wide_hi)
        importance[int(d)] = round(rate - (kw / nw if nw else rate), 4)
    ranked = sorted(importance, key=lambda d: -importance[d])
    return {"failure_rate": round(rate, 4), "interval": [round(ci[0], 4), round(ci[1], 4)], "samples": n,
            "base_rate": None if base is None else round(base, 4),
            "lift": None if not base else round(rate / base, 2),
            "coverage": None if coverage is None else round(coverage, 4),
            "restricted": [names[d] for d in ranked], "importance": {names[d]: importance[d] for d in ranked}}
