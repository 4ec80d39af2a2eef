"""Strategies that only propose and observe (``bo``, ``tpe``): the loop - propose a batch,
evaluate it, tell the strategy, grow a region from each new failure outside known regions - is
written once here, so a model-based optimizer fills in two steps and shares the rest.

The optimizers maximize the error; a point inside (or within ``KNOWN_MARGIN`` of) a region
already found, or inside a box that failed validation, counts ``known_penalty`` less, as in
``cmaes``, so a search that has found a mode moves on to the next one. The penalty is applied
to the whole history whenever a region is added, not only to points queried after it."""

from __future__ import annotations

import abc

import numpy as np

from examiner.evaluate import Query
from examiner.search.boundary import grow_region
from examiner.search.context import KNOWN_MARGIN, SearchContext
from examiner.search.strategy import Strategy


def known_mask(ctx: SearchContext, X: np.ndarray) -> np.ndarray:
    """(N,) bool: ``ctx.known`` for every row of X (N, D), in one pass per region."""
    X = np.atleast_2d(X)
    mask = np.zeros(len(X), dtype=bool)
    for r in ctx.registry.regions:
        mask |= r.contains(X, KNOWN_MARGIN)
    for r in ctx.rejected:
        mask |= r.contains(X)
    return mask


def observations(ctx: SearchContext, known_penalty: float) -> tuple[np.ndarray, np.ndarray]:
    """(X (n, D), value (n,)) of ``ctx.queried()``: the error (0 for a query that could not be
    graded), minus ``known_penalty`` for points in known regions."""
    X, queries = ctx.queried()
    value = np.array([q.error if q.graded else 0.0 for q in queries])
    return X, value - known_penalty * known_mask(ctx, X)


def grow_from_new_failures(ctx: SearchContext, X: np.ndarray, queries: list[Query], strategy: Strategy) -> int:
    """Grow a region from each failure of a batch that no region (found meanwhile, too) holds,
    worst first; returns how many growths were tried."""
    tried = 0
    for i in np.argsort([-(q.error if q.graded else 0.0) for q in queries], kind="stable"):
        if queries[i].failed and not ctx.known(X[i]):
            grow_region(ctx, X[i], strategy.growth, owner=strategy.name)
            tried += 1
    return tried


class Proposer(Strategy):
    """Fill in ``propose`` (and ``observe`` if the optimizer keeps state); ``run`` owns the loop.

    Shapes: ``propose(ctx) -> X (q, D)`` in [-1, 1]; ``observe(ctx, X, queries)`` gets the
    queries of the rows that were evaluated (all of them unless the budget ran out, which ends
    the run); ``regions_changed`` is True when the last batch tried to grow a region, so known
    regions (and the penalty) may differ from the last call. A proposer never calls the
    evaluator itself."""

    def run(self, ctx: SearchContext) -> None:
        self.start(ctx)
        while True:
            X = np.atleast_2d(self.propose(ctx))
            queries = ctx.evaluate_vectors(X)
            self.observe(ctx, X, queries)
            self.regions_changed = grow_from_new_failures(ctx, X, queries, self) > 0

    def start(self, ctx: SearchContext) -> None:
        """Called once before the first proposal (the base sample is in ``ctx.history``)."""
        self.regions_changed = False

    @abc.abstractmethod
    def propose(self, ctx: SearchContext) -> np.ndarray:
        """The next batch, (q, D) in [-1, 1]."""

    def observe(self, ctx: SearchContext, X: np.ndarray, queries: list[Query]) -> None:
        """The results of the batch just proposed (growth queries are in ``ctx.history``)."""
