"""``cmaes``: CMA-ES (the ``cma`` package) restarts that seek high error, penalized inside
regions already found; each restart that reaches a new failure grows a region from it."""

from __future__ import annotations

import numpy as np

from examiner.search.boundary import grow_region
from examiner.search.context import SearchContext
from examiner.search.strategy import Strategy


class CmaEs(Strategy):
    name = "cmaes"
    sigma0 = 0.35
    max_generations = 25
    known_penalty = 0.5

    def run(self, ctx: SearchContext) -> None:
        import cma

        popsize = max(4, int(4 + 3 * np.log(ctx.dims)))
        while True:
            x0 = ctx.rng.uniform(-0.8, 0.8, ctx.dims)
            es = cma.CMAEvolutionStrategy(x0, self.sigma0, {
                "bounds": [-1.0, 1.0], "popsize": popsize, "seed": int(ctx.rng.integers(1, 2**31 - 1)),
                "verbose": -9})
            for _ in range(self.max_generations):
                X = np.array(es.ask())
                qs = ctx.evaluate_vectors(X)
                known = [ctx.known(x) for x in X]
                es.tell(list(X), [-(q.error if q.graded else 0.0) + self.known_penalty * k for q, k in zip(qs, known)])
                new = [i for i, q in enumerate(qs) if q.failed and not known[i]]
                if new:
                    best = max(new, key=lambda i: qs[i].error)
                    grow_region(ctx, X[best], self.growth, owner=self.name)
                    break
                if es.stop():
                    break
