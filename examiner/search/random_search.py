"""``random``: uniform sampling; failures outside known regions seed boundary growth and
validation, so nearby failures are clustered into one region."""

from __future__ import annotations

import numpy as np

from examiner.search.boundary import grow_region
from examiner.search.context import SearchContext
from examiner.search.strategy import Strategy


class RandomSearch(Strategy):
    name = "random"
    batch = 32

    def run(self, ctx: SearchContext) -> None:
        while True:
            X = ctx.rng.uniform(-1.0, 1.0, (self.batch, ctx.dims))
            qs = ctx.evaluate_vectors(X, support=(-1.0, 1.0))
            order = np.argsort([-(q.error if q.graded else 0.0) for q in qs], kind="stable")
            for i in order:
                if qs[i].failed and not ctx.known(X[i]):
                    grow_region(ctx, X[i], self.growth, owner=self.name)
