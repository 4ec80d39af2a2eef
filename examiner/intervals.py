"""95% intervals for before / after numbers on held-out images, and whether a held-out set is
large enough for the comparison made on it.

Every interval is a percentile bootstrap over the held-out images (``scipy.stats.bootstrap``,
fixed seed). A change is bootstrapped *paired*: the same images are resampled for the model
before and after (and, over training seeds, for every fine-tuned model at once), so the
interval of a change reflects which images were drawn, not the spread of two independent
means. The held-out size a comparison needs for a given half-width follows from the
bootstrap's own half-width, which shrinks as one over the square root of the image count."""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
RESAMPLES = 2000
#: the widest 95% interval (half-width, relative change) a comparison may have before a
#: warning says its held-out set is too small: the forgetting target (+2% at the interval's
#: upper end) needs about +-1% on the default scene's error; a failure rate that should halve
#: is resolved by +-10%
RESOLUTION = {"default": 0.01, "modes": 0.10}


def _interval(samples: tuple[np.ndarray, ...], statistic, seed: int) -> tuple[float, float]:
    n = len(samples[0])
    if n < 2:
        return float("nan"), float("nan")
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        # a resample whose mean before is 0 has no relative change: the interval is then NaN
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        res = stats.bootstrap(samples, statistic, paired=True, vectorized=True, axis=-1, n_resamples=RESAMPLES,
                              confidence_level=CONFIDENCE, method="percentile", random_state=seed)
    lo, hi = res.confidence_interval
    return float(lo), float(hi)


def mean_interval(values, seed: int = 0) -> list[float]:
    """[mean, low, high] of per-image ``values``, or of the mean over several models' per-image
    values of the same images (a list of arrays, one per training seed)."""
    arrays = [np.asarray(v, dtype=np.float64) for v in (values if isinstance(values, list) else [values])]
    if not len(arrays[0]):
        return [float("nan")] * 3

    def stat(*a, axis=-1):
        return np.mean([x.mean(axis=axis) for x in a], axis=0)

    lo, hi = _interval(tuple(arrays), stat, seed)
    return [float(stat(*arrays)), lo, hi]


def relative_change(before, afters, seed: int = 0) -> list[float]:
    """[change, low, high] of the relative change of a mean, ``mean(after) / mean(before) - 1``,
    averaged over the fine-tuned models in ``afters`` (one per training seed); per-image arrays
    of the same images. NaN when the mean before is 0."""
    b = np.asarray(before, dtype=np.float64)
    a = [np.asarray(x, dtype=np.float64) for x in afters]
    if any(len(x) != len(b) for x in a):
        raise ValueError("before and after scores must be of the same images")

    def stat(*arrays, axis=-1):
        base = arrays[0].mean(axis=axis)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.mean([x.mean(axis=axis) / base - 1.0 for x in arrays[1:]], axis=0)

    point = float(stat(b, *a))
    if not np.isfinite(point):
        return [float("nan")] * 3
    lo, hi = _interval((b, *a), stat, seed)
    return [point, lo, hi]


def needed_images(n: int, interval: list[float], half_width: float) -> int | None:
    """Held-out images for a 95% interval of +-``half_width`` on the statistic whose interval,
    on ``n`` images, is ``interval`` ([value, low, high])."""
    hw = (interval[2] - interval[1]) / 2
    if not np.isfinite(hw) or n < 2:
        return None
    return max(2, math.ceil(n * (hw / half_width) ** 2))


def resolution_warning(what: str, n: int, change: list[float], half_width: float) -> str | None:
    """A warning when ``change`` (a relative change with its interval, on ``n`` images per
    set) is resolved more coarsely than +-``half_width``; else None."""
    need = needed_images(n, change, half_width)
    if need is None or need <= n:
        return None
    hw = (change[2] - change[1]) / 2
    return (f"warning: {what}: {n} held-out images give a 95% interval of +-{100 * hw:.1f}% on the relative "
            f"change, wider than the +-{100 * half_width:g}% this comparison needs; about {need} images "
            f"per set would resolve it (--heldout)")
