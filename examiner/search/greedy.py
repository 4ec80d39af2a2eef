"""Failure modes as boxes grown one dim at a time over a sample (``examiner map`` on its uniform
queries, ``surrogate_modes.py`` on a surrogate's predictions): each step bounds the dim whose
best two-rate interval explains the failures inside best, by likelihood ratio."""

from __future__ import annotations

import numpy as np

from examiner.search.rates import best_interval

MAX_MODES = 8
MAX_DIMS = 3  # a mode bounds at most this many dims
MIN_GAIN = 10.0  # likelihood-ratio statistic a bound must add (about p < 0.002 for one cut)


def _log_likelihood(k: float, n: float) -> float:
    if n <= 0 or k <= 0 or k >= n:
        return 0.0
    p = k / n
    return k * np.log(p) + (n - k) * np.log(1.0 - p)


def greedy_boxes(X: np.ndarray, y: np.ndarray, max_dims: int = MAX_DIMS, min_gain: float = MIN_GAIN,
                 min_share: float = 0.03, min_rate: float = 0.0, soft: bool = False,
                 bins: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Boxes grown one dim at a time: each step bounds the dim whose best two-rate interval
    (``best_interval``, holding at least ``min_share`` of the points) explains the failures
    inside the box best, by likelihood ratio, while that ratio is at least ``min_gain`` (twice
    the log-likelihood gain); at most ``max_dims`` dims. Then the points inside are set aside
    and the next box is grown on the rest (covering). ``min_rate``: each interval's points fail
    at least this often (for one-dim boxes, which have no later dim to make them purer)."""
    X, y = X.copy(), (np.asarray(y, dtype=np.float64) if soft else y.astype(bool)).copy()
    D = X.shape[1]
    boxes = []
    for _ in range(MAX_MODES):
        lo, hi = -np.ones(D), np.ones(D)
        for _ in range(max_dims):
            inside = ((X >= lo) & (X <= hi)).all(1)
            xs, ys = X[inside], y[inside]
            if not len(ys):
                break
            best = None
            for d in range(D):
                if hi[d] - lo[d] < 2.0 - 1e-9:
                    continue
                need = max(10, int(min_share * len(y)))
                if bins:
                    at = np.minimum(((xs[:, d] + 1.0) / 2.0 * bins).astype(int), bins - 1)
                    w, k = np.bincount(at, minlength=bins), np.bincount(at, ys, minlength=bins)
                    used = w > 0
                    centres = -1.0 + (np.arange(bins) + 0.5) * 2.0 / bins
                    a, b = best_interval(centres[used], k[used], min_inside=need, min_rate=min_rate, weight=w[used])
                else:
                    a, b = best_interval(xs[:, d], ys, min_inside=need, min_rate=min_rate)
                m = (xs[:, d] >= a) & (xs[:, d] <= b)
                k1, n1, k0, n0 = ys[m].sum(), m.sum(), ys[~m].sum(), (~m).sum()
                gain = 2.0 * (_log_likelihood(k1, n1) + _log_likelihood(k0, n0) - _log_likelihood(k1 + k0, n1 + n0))
                if n1 and k1 / n1 > ys.mean() and (best is None or gain > best[0]):
                    best = (gain, d, a, b)
            if best is None or best[0] < min_gain:
                break
            _, d, a, b = best
            lo[d], hi[d] = a, b
        if (hi - lo >= 2.0 - 1e-9).all():
            break
        boxes.append((lo, hi))
        inside = ((X >= lo) & (X <= hi)).all(1)
        X, y = X[~inside], y[~inside]
    return boxes
