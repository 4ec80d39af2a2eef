"""Which dims a mode around a failing point bounds, as a posterior over every set of at most
``max_dims`` dims, updated query by query (noisy adaptive group testing, Bayesian decoding).

A query keeps the point's value (up to a jitter) on some dims and moves the ``freed`` ones
(``anchor.py`` draws them at least half a range's width away). Under the hypothesis "the mode
bounds the dims S and fails at rate r inside, and a freed dim of S still lands inside it with
probability w", the query fails with probability ``r w^m + (1 - r w^m) q`` (m: the freed dims of
S; q: the rate of failures from elsewhere), and with probability q under "no mode here". Every query
updates all hypotheses at once (nothing is decided and then built on: a test that came out
wrong is outweighed by the ones after it), and the next freed set is the one whose answer is
expected to tell most (information gain over a pool of candidate sets: none, each dim, random
groups). Modes fail 70-95% of the time inside, and rates and shares are not known, so a single
answer says little; a posterior needs about 20-30 of them to name three dims of twenty (and a
few to see that a sporadic failure is no mode's)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations

import numpy as np


@dataclass(frozen=True)
class DimPosteriorConfig:
    max_dims: int = 3  # hypotheses bound at most this many dims
    rates: tuple = (0.35, 0.6, 0.8, 0.95)  # failure rates inside a mode (the grid marginalized over)
    shares: tuple = (0.05, 0.2)  # chances that a freed dim of the mode lands inside it (the grid)
    elsewhere: float = 0.08  # failure rate of the queries that no hypothesised mode holds
    size_prior: tuple = (0.3, 0.15, 0.25, 0.3)  # no mode, a mode on 1, 2, 3 dims
    candidates: int = 64  # random freed groups weighed per query (besides none and each dim)
    confident: float = 0.9  # stop when one set of dims (or "no mode") holds this posterior
    favour: float = 4.0  # prior weight of each favoured dim in a set
    low_rate: float = 0.5  # a mode whose rate is more likely under this than over it is no mode


@lru_cache(maxsize=8)
def dim_sets(D: int, max_dims: int) -> np.ndarray:
    """(H, D) bool: the empty set (no mode) first, then every set of 1 .. max_dims dims."""
    rows = [()] + [c for k in range(1, min(max_dims, D) + 1) for c in combinations(range(D), k)]
    M = np.zeros((len(rows), D), dtype=bool)
    for i, c in enumerate(rows):
        M[i, list(c)] = True
    return M


def _entropy(p: np.ndarray) -> np.ndarray:
    return -(p * np.log(p) + (1.0 - p) * np.log(1.0 - p))


class DimPosterior:
    def __init__(self, D: int, config: DimPosteriorConfig = DimPosteriorConfig(), favoured=()):
        """``favoured``: dims a proposal named (a scanned box that failed its validation); each of
        them in a set multiplies its prior by ``favour``."""
        c = self.config = config
        self.M = dim_sets(D, c.max_dims)
        sizes = self.M.sum(1)
        prior = np.array(c.size_prior)[sizes] / np.bincount(sizes)[sizes]
        if len(favoured):
            boost = c.favour ** self.M[:, list(favoured)].sum(1)
            for k in range(1, sizes.max() + 1):  # the prior of each size stays the same
                m = sizes == k
                prior[m] *= boost[m] / boost[m].mean()
        self.sizes = sizes
        self.rates, self.shares = np.array(c.rates), np.array(c.shares)
        self.table = self._table()
        self.log = np.broadcast_to(np.log(prior)[:, None, None], (len(prior), len(c.rates), len(c.shares))).copy()
        self.n = 0

    def _table(self) -> np.ndarray:
        """(max_dims + 2, rates, shares): the failure probability with m = 0 .. max_dims freed dims
        of the set (the last row: no mode)."""
        q = self.config.elsewhere
        m = np.arange(self.config.max_dims + 1, dtype=np.float64)
        inside = self.rates[None, :, None] * self.shares[None, None, :] ** m[:, None, None]
        table = np.concatenate([inside + (1.0 - inside) * q, np.full((1,) + inside.shape[1:], q)])
        return np.clip(table, 1e-4, 1.0 - 1e-4)

    def _freed_counts(self, F: np.ndarray) -> np.ndarray:
        """(H, C) int: per set, how many of its dims each freed set of F (C, D) frees (the last row
        of ``_table`` for the no-mode set)."""
        m = self.M.astype(np.int64) @ np.atleast_2d(F).T.astype(np.int64)
        m[0] = self.config.max_dims + 1
        return m

    def posterior(self) -> np.ndarray:
        w = np.exp(self.log - self.log.max())
        return w / w.sum()

    def next_freed(self, rng: np.random.Generator) -> np.ndarray:
        """(D,) bool: the freed set whose answer is expected to tell most."""
        D = self.M.shape[1]
        sizes = rng.integers(2, max(3, D // 2 + 1), self.config.candidates)
        random = np.argsort(rng.random((len(sizes), D)), axis=1) < sizes[:, None]
        F = np.concatenate([np.zeros((1, D), bool), np.eye(D, dtype=bool), random])
        table = self.table
        m = self._freed_counts(F)
        onehot = m[:, :, None] == np.arange(len(table))[None, None, :]  # (H, C, M)
        mass = np.einsum("hrw,hcm->cmrw", self.posterior(), onehot.astype(np.float64))  # (C, M, R, W)
        pbar = (mass * table[None]).sum((1, 2, 3))
        gain = _entropy(pbar) - (mass * _entropy(table)[None]).sum((1, 2, 3))
        return F[int(np.argmax(gain))]

    def update(self, freed: np.ndarray, failed: bool) -> None:
        p = self.table[self._freed_counts(freed[None])[:, 0]]  # (H, R, W)
        self.log += np.log(p if failed else 1.0 - p)
        self.n += 1

    def at_least(self, k: int) -> float:
        """The posterior that the mode bounds at least k dims."""
        return float(self.posterior().sum((1, 2))[self.sizes >= k].sum())

    def best(self) -> tuple[list[int], float, float]:
        """(dims of the most probable set, its posterior, the posterior that the mode's rate is
        under ``low_rate`` or there is none)."""
        post = self.posterior()
        per_set = post.sum((1, 2))
        i = int(np.argmax(per_set))
        low = float(post[0].sum() + post[1:, self.rates < self.config.low_rate].sum())
        return [int(d) for d in np.nonzero(self.M[i])[0]], float(per_set[i]), low
