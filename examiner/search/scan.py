"""Failure clusters found by a scan statistic over the queries themselves: how ``lse`` and
``marl`` propose the modes their surrogate does not see.

A forest (``surrogate.py``) learns a mode from splits on one dim at a time, so a mode that
needs three dims at once - a pocket a quarter of each range wide, 2-3% of the space - barely
moves any one dim's failure rate and stays invisible to it. On the tuning landscapes (realistic
family 0-3 over ``scenes/search_all.yaml``, the histories of 1500-query ``lse`` searches) the
forest predicted a failure on 35% of the pockets' volume, although about 90% of the queries
inside them failed, and ``lse`` found 1 pocket in 20 on the held-out landscapes. The scan looks
for such clusters directly, in the manner of Kulldorff's spatial scan statistic over
axis-aligned boxes:

1. every dim is cut into ``bins`` equal bins; for every pair of dims, every rectangle of
   contiguous bins is scored by the likelihood ratio of "the queries inside fail more often than
   the rest" (from prefix sums: the 190 pairs x 1,296 rectangles of a 20-dim space at once);
2. the best rectangles of the ``pairs`` best pairs are each extended by the interval of a third
   dim that raises the ratio most, if it raises it by at least ``third_gain``, and the box with
   the highest ratio is kept;
3. the queries inside are set aside and the next box is scanned on the rest (``rounds``);
4. a box is kept when its ratio beats the best one the same scan finds on the same queries with
   their failures shuffled (the best of ``shuffles`` shuffles: Monte Carlo inference, as the
   scan statistic's own test), so the bar follows the number of queries and of dims. Each size
   has its own bar: a box on three dims beats the shuffles' best box that may take a third
   dim, a rectangle on two the shuffles' best rectangle; where the best box found (three dims)
   misses its bar, the best rectangle is held to the rectangles' bar. With one bar for both, a
   third dim's freedom on shuffled failures raised the bar over 2-dim interactions: a corner
   mode whose 14 queries outside known modes had all failed stayed under it (its rectangle
   8.9, the bar 9.4; realistic tuning landscapes 0-11, 600 queries, 12 seeds: ``lse`` recall
   0.586 against 0.576, paired +0.010, standard error 0.005; interactions 0.67 against 0.64);
5. the kept box's faces are moved from bin edges to the maximum-likelihood cut between queries
   (``rates.best_interval``, each dim given the others), and the box is proposed if its queries
   fail at least ``min_rate`` of the time: a box on bin edges holds some of the space around
   a mode and fails less often than the mode, and a rectangle on two of a pocket's three dims
   fails at a diluted rate - validated on fresh queries, either would fail.

``best_cut`` does the same on one dim for the queries inside a known mode that fails less often
than a mode should (the cut that would make it one), with ``cut_shuffles`` shuffles for its bar.

The boxes are proposals, nothing more: ``surrogate_modes.ModeFinder`` confirms each on fresh
queries like the surrogate's own proposals. Deterministic for the generator it is given."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from examiner.search.rates import best_interval, loglik


@dataclass(frozen=True)
class ScanConfig:
    bins: int = 8  # equal bins per dim (a rectangle spans contiguous ones)
    min_inside: int = 8  # queries a box holds at least
    third_gain: float = 6.0  # log-likelihood ratio a third dim must add (9 and 12: the same recall on
    # realistic tuning landscapes 0-11 at 600 queries, 12 seeds: 0.591 each against 0.589, paired
    # standard errors 0.008 and 0.009)
    rounds: int = 3  # boxes scanned one after another, each on the queries the earlier ones leave
    pairs: int = 6  # the best rectangles of this many pairs of dims are tried with a third dim (16:
    # recall 0.569 against 0.589 on the same landscapes, paired standard error 0.010)
    min_rate: float = 0.65  # a box's queries fail at least this often (a box of many queries
    # that fail at a lower rate has the higher ratio, and fails its validation)
    shuffles: int = 2  # the bars: the best ratios over this many shuffles of the failures
    passes: int = 2  # refine's passes over the box's dims
    cut_shuffles: int = 8  # ``best_cut``'s bar: the best ratio over this many shuffles (a cut
    # is cheap to scan, and a mode that fails alike throughout would be cut every other scan)


def _inside(X: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return ((X >= lo) & (X <= hi)).all(1)


def _ratio(k, n, total_k: float, total_n: float) -> np.ndarray:
    """Log-likelihood ratio of "k of n inside fail at one rate, the rest at another" against one
    rate for all, where the inside fails more often (0 elsewhere)."""
    k_out, n_out = total_k - k, total_n - n
    higher = k / np.maximum(n, 1e-12) > np.where(n_out > 0, k_out / np.maximum(n_out, 1e-12), 1.0)
    value = loglik(k, n) + loglik(k_out, n_out) - loglik(np.float64(total_k), np.float64(total_n))
    return np.where(higher, value, 0.0)


def _intervals(bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, end, whole): every run of contiguous bins [start, end), and which is all of them."""
    start, end = np.triu_indices(bins + 1, 1)
    return start, end, (start == 0) & (end == bins)


Box = tuple[np.ndarray, np.ndarray, float]  # (lo, hi, likelihood ratio)


def best_boxes(X: np.ndarray, y: np.ndarray, config: ScanConfig = ScanConfig()) -> tuple[Box, Box]:
    """(rectangle, box): with faces on bin edges, the rectangle on two dims and the box on two or
    three dims whose queries fail more often than the rest by the largest likelihood ratio
    (ratio 0 and the whole space when nothing qualifies), from one pass over the rectangles."""
    n, D = X.shape
    B = config.bins
    y = np.asarray(y, dtype=np.float64)
    total_k, total_n = float(y.sum()), float(n)
    nothing = (-np.ones(D), np.ones(D), 0.0)
    if D < 2 or n < 2 * config.min_inside or total_k in (0.0, total_n):
        return nothing, nothing
    b = np.minimum(((X + 1.0) / 2.0 * B).astype(int), B - 1)
    first, second = np.triu_indices(D, 1)
    P = len(first)
    cell = (np.arange(P)[None, :] * B * B + b[:, first] * B + b[:, second]).ravel()

    def prefix(weights) -> np.ndarray:
        grid = np.bincount(cell, weights, minlength=P * B * B).reshape(P, B, B)
        c = np.zeros((P, B + 1, B + 1))
        c[:, 1:, 1:] = grid.cumsum(1).cumsum(2)
        return c

    start, end, whole = _intervals(B)
    s, e = start[:, None], end[:, None]
    S, E = start[None, :], end[None, :]

    def rectangles(c: np.ndarray) -> np.ndarray:
        return c[:, e, E] - c[:, s, E] - c[:, e, S] + c[:, s, S]

    counts, fails = rectangles(prefix(None)), rectangles(prefix(np.repeat(y, P)))
    ratio = np.where((counts >= config.min_inside) & ~whole[None, :, None] & ~whole[None, None, :],
                     _ratio(fails, counts, total_k, total_n), 0.0)
    per_pair = ratio.reshape(len(ratio), -1).max(1)
    rectangle = found = nothing
    for p in np.argsort(-per_pair, kind="stable")[:config.pairs]:
        if per_pair[p] <= 0.0:
            break
        u, v = np.unravel_index(int(np.argmax(ratio[p])), ratio[p].shape)
        dims, runs = (first[p], second[p]), (u, v)
        if rectangle is nothing:  # the first pair holds the best rectangle
            rectangle = (*_rectangle(D, dims, runs, B), float(ratio[p, u, v]))
        box = _extended(X, y, b, dims, runs, float(ratio[p, u, v]), config)
        if box[2] > found[2]:
            found = box
    return rectangle, found


def _rectangle(D: int, dims, runs, B: int) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) of the rectangle on ``dims`` spanning the bin runs ``runs`` (``_intervals``)."""
    start, end, _ = _intervals(B)
    lo, hi = -np.ones(D), np.ones(D)
    for d, w in zip(dims, runs):
        lo[d], hi[d] = -1.0 + 2.0 * start[w] / B, -1.0 + 2.0 * end[w] / B
    return lo, hi


def _extended(X, y, b, dims, runs, ratio, config) -> tuple[np.ndarray, np.ndarray, float]:
    """The rectangle on two dims, extended by the interval of a third dim that raises its ratio
    by at least ``third_gain`` (the most), if one does."""
    B = config.bins
    start, end, whole = _intervals(B)
    total_k, total_n = float(y.sum()), float(len(y))
    lo, hi = _rectangle(X.shape[1], dims, runs, B)
    inside = _inside(X, lo, hi)
    third, best = None, ratio + config.third_gain
    for d in range(X.shape[1]):
        if d in dims:
            continue
        c = np.concatenate([[0.0], np.bincount(b[inside, d], minlength=B).cumsum()])
        f = np.concatenate([[0.0], np.bincount(b[inside, d], y[inside], minlength=B).cumsum()])
        m, k = c[end] - c[start], f[end] - f[start]
        r = np.where((m >= config.min_inside) & ~whole, _ratio(k, m, total_k, total_n), 0.0)
        w = int(np.argmax(r))
        if r[w] > best:
            third, best = (d, w), float(r[w])
    if third is None:
        return lo, hi, ratio
    d, w = third
    lo[d], hi[d] = -1.0 + 2.0 * start[w] / B, -1.0 + 2.0 * end[w] / B
    return lo, hi, best


def refine(X: np.ndarray, y: np.ndarray, lo: np.ndarray, hi: np.ndarray, min_inside: int,
           min_rate: float = 0.0, passes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """The box with each bounded dim's interval re-cut at the maximum-likelihood cut between the
    queries inside the box on its other dims (an interval whose queries fail at least
    ``min_rate`` of the time), ``passes`` times over: each pass cuts every dim given the others'
    cuts of the pass before, the first given the bins."""
    lo, hi = lo.copy(), hi.copy()
    bounded = np.nonzero((lo > -1.0) | (hi < 1.0))[0]
    for _ in range(passes):
        for d in bounded:
            others = np.ones(len(X), dtype=bool)
            for o in bounded:
                if o != d:
                    others &= (X[:, o] >= lo[o]) & (X[:, o] <= hi[o])
            if others.sum() >= 2 * min_inside:
                a, b = best_interval(X[others, d], y[others], min_inside=min_inside, min_rate=min_rate)
                if b - a < 2.0:  # the whole range: no interval qualifies, the scan's bins stay
                    lo[d], hi[d] = a, b
    return lo, hi


def _bars(X: np.ndarray, y: np.ndarray, rng: np.random.Generator, config: ScanConfig) -> tuple[float, float]:
    """(rectangles, boxes): the best ratio over ``shuffles`` shufflings of the failures of a
    rectangle on two dims, and of a box that may take a third."""
    best = [best_boxes(X, rng.permutation(y), config) for _ in range(config.shuffles)]
    return (max((r[2] for r, _ in best), default=0.0), max((b[2] for _, b in best), default=0.0))


def _boxes(X: np.ndarray, y: np.ndarray, config: ScanConfig,
           bars: tuple[float, float]) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Up to ``rounds`` boxes, each scanned on the queries the earlier ones leave, each beating
    the bar of its size (``_bars``)."""
    out = []
    left = np.ones(len(X), dtype=bool)
    for _ in range(config.rounds):
        rectangle, (lo, hi, ratio) = best_boxes(X[left], y[left], config)
        three = int(((lo > -1.0) | (hi < 1.0)).sum()) > 2
        if three and ratio <= bars[1]:
            lo, hi, ratio = rectangle
            three = False
        if ratio <= bars[three]:
            break
        out.append((lo, hi, ratio))
        left &= ~_inside(X, lo, hi)
    return out


def scan_boxes(X: np.ndarray, y: np.ndarray, rng: np.random.Generator,
               config: ScanConfig = ScanConfig()) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Boxes (lo, hi, ratio), highest ratio first, whose queries fail more often than the rest by
    more than shuffled failures do (see the module docstring); faces refined between queries."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=bool)
    if len(X) < 2 * config.min_inside or y.all() or not y.any():
        return []
    found = []
    for lo, hi, ratio in _boxes(X, y, config, _bars(X, y, rng, config)):
        lo, hi = refine(X, y, lo, hi, config.min_inside, config.min_rate, config.passes)
        inside = _inside(X, lo, hi)
        if inside.sum() >= config.min_inside and y[inside].mean() >= config.min_rate:
            found.append((lo, hi, ratio))
    return sorted(found, key=lambda t: -t[2])


def best_cut(X: np.ndarray, y: np.ndarray, rng: np.random.Generator,
             config: ScanConfig = ScanConfig()) -> tuple[int, float, float] | None:
    """(dim, a, b): the interval of one dim whose queries fail more often than the rest, by the
    largest likelihood ratio, holding at least ``min_inside`` queries that fail at least
    ``min_rate`` of the time - if that ratio beats the best one found with the failures
    shuffled (``cut_shuffles`` times); else None. For the queries inside a mode that fails less
    often than a mode should, in the mode's own coordinates: a box on the wrong dims, or on too
    few, holding a mode that needs one more cut."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=bool)
    if len(X) < 2 * config.min_inside or y.all() or not y.any():
        return None

    def best(failed: np.ndarray) -> tuple[float, tuple[int, float, float] | None]:
        top: tuple[float, tuple[int, float, float] | None] = (0.0, None)
        for d in range(X.shape[1]):
            a, b = best_interval(X[:, d], failed, min_inside=config.min_inside, min_rate=config.min_rate)
            if b - a >= 2.0:
                continue
            inside = (X[:, d] >= a) & (X[:, d] <= b)
            ratio = float(_ratio(np.float64(failed[inside].sum()), np.float64(inside.sum()),
                                 float(failed.sum()), float(len(failed))))
            if ratio > top[0]:
                top = (ratio, (d, a, b))
        return top

    bar = max(best(rng.permutation(y))[0] for _ in range(config.cut_shuffles))
    ratio, cut = best(y)
    return cut if ratio > bar else None
