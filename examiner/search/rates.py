"""Failure rates and where they change: the Wilson interval of a rate, the one-sided test that
one rate is measurably below another, and the interval along one axis whose points fail at a
higher rate than the rest (by maximum likelihood, with its faces moved to the edges of the range
where nothing says the rate drops there). The characterization (characterize.py), the final
placement of faces (faces.py) and ``examiner map`` all use these."""

from __future__ import annotations

import numpy as np


def wilson(k: float, n: float, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for k successes of n."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def drop_is_significant(k_in: int, n_in: int, k_out: int, n_out: int, z: float, min_drop: float) -> bool:
    """The rate outside (k_out / n_out) is measurably below the rate inside."""
    if n_in == 0 or n_out == 0:
        return True  # no evidence that the bound does not matter
    p_in, p_out = k_in / n_in, k_out / n_out
    if p_in - p_out < min_drop * p_in:
        return False
    pooled = (k_in + k_out) / (n_in + n_out)
    se = np.sqrt(max(pooled * (1 - pooled), 1e-9) * (1 / n_in + 1 / n_out))
    return (p_in - p_out) / se >= z


def loglik(k, m):
    """Bernoulli log-likelihood of k failures among m points at their own rate k / m
    (elementwise; 0 where the rate is 0 or 1, or there are no points)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(m > 0, k / np.maximum(m, 1e-12), 0.0)
        return np.where((p > 0) & (p < 1), k * np.log(np.where(p > 0, p, 1)) + (m - k) * np.log(np.where(p < 1, 1 - p, 1)), 0.0)


def best_interval(x: np.ndarray, y: np.ndarray, lo_edge: float = -1.0, hi_edge: float = 1.0,
                  min_inside: int = 1, min_rate: float = 0.0, weight: np.ndarray | None = None) -> tuple[float, float]:
    """The interval [a, b] of the axis whose points fail at one rate and the rest at a lower
    one, by maximum likelihood (cuts halfway between neighbouring points, or at the edges),
    holding at least ``min_inside`` points that fail at ``min_rate`` or more. ``weight``: each
    x stands for that many points, of which ``y`` failed (binned data)."""
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order].astype(np.float64)
    w = np.ones(len(xs)) if weight is None else np.asarray(weight, dtype=np.float64)[order]
    n = len(xs)
    cuts = np.concatenate([[lo_edge], 0.5 * (xs[1:] + xs[:-1]), [hi_edge]])  # cut i: before point i
    csum = np.concatenate([[0.0], np.cumsum(ys)])
    wsum = np.concatenate([[0.0], np.cumsum(w)])
    total, mass = csum[-1], wsum[-1]

    i = np.arange(n + 1)[:, None]
    j = np.arange(n + 1)[None, :]
    k_in = csum[j] - csum[i]
    m_in = wsum[j] - wsum[i]
    valid = (j > i) & (m_in >= max(1.0, min(min_inside, mass)) - 1e-9) & (k_in >= min_rate * m_in)
    k_out, m_out = total - k_in, mass - m_in
    score = loglik(k_in, m_in) + loglik(k_out, m_out)
    higher = k_in / np.maximum(m_in, 1e-12) > np.where(m_out > 1e-12, k_out / np.maximum(m_out, 1e-12), -1.0)
    score = np.where(valid & higher, score, -np.inf)
    if not np.isfinite(score).any():
        return lo_edge, hi_edge
    bi, bj = np.unravel_index(np.argmax(score), score.shape)
    return float(cuts[bi]), float(cuts[bj])


def to_the_edges(x: np.ndarray, y: np.ndarray, a: float, b: float, z: float, min_drop: float) -> tuple[float, float]:
    """[a, b] with each face moved to the edge of the range (-1 or 1) unless the points between
    it and that edge fail measurably less often than those inside: their failures are fewer than
    the rate inside makes likely (one-sided binomial, exact for the few points there are, at the
    level of ``z``) and their rate is at least ``min_drop`` of the rate inside below it. A mode
    that fails 70-95% of the time has passing points near its faces, and the two-rate interval
    always leaves the outermost of them out, so a mode that reaches the edge would otherwise
    stop short of it."""
    from scipy import stats  # here, not at the top: the CLI starts without scipy.stats

    inside = (x >= a) & (x <= b)
    p_in = y[inside].mean() if inside.any() else 0.0
    alpha = stats.norm.sf(z)

    def drops(part: np.ndarray) -> bool:
        k, n = int(y[part].sum()), int(part.sum())
        return n > 0 and k / n <= (1 - min_drop) * p_in and stats.binom.cdf(k, n, p_in) < alpha

    if a > -1.0 and not drops(x < a):
        a = -1.0
    if b < 1.0 and not drops(x > b):
        b = 1.0
    return a, b
