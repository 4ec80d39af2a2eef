"""``poseexaminer``: the PoseExaminer search (Liu et al., ICCV 2023), re-implemented as a
baseline. K independent agents; each is a Gaussian policy N(mu, sigma^2) over the normalized
space, trained with REINFORCE and an exponential-moving-average reward baseline to reach a
worst case (phase 1); from the failure it found, it grows a box by sampling thin slabs just
outside each face and moving faces outward while those samples still fail (phase 2), then
starts again from a random point. Agents share nothing (duplicate regions are merged when
they are registered)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from examiner.search.boundary import Growth, grow_region
from examiner.search.context import SearchContext
from examiner.search.strategy import Strategy


@dataclass
class _Agent:
    mu: np.ndarray
    log_sigma: np.ndarray
    baseline: float = 0.0
    iters: int = 0


class PoseExaminerSearch(Strategy):
    name = "poseexaminer"
    default_growth = Growth(method="slab")  # the published phase 2
    samples_per_agent = 4  # policy samples per agent per iteration
    lr_mu = 0.15
    lr_sigma = 0.05
    sigma_init = 0.3
    sigma_min = 0.02
    ema = 0.8  # baseline smoothing
    max_iters = 30  # phase-1 iterations before an agent restarts

    def _new_agent(self, ctx: SearchContext) -> _Agent:
        return _Agent(ctx.rng.uniform(-1.0, 1.0, ctx.dims), np.full(ctx.dims, np.log(self.sigma_init)))

    def run(self, ctx: SearchContext) -> None:
        agents = [self._new_agent(ctx) for _ in range(self.agents)]
        n = self.samples_per_agent
        while True:
            eps = ctx.rng.normal(size=(len(agents), n, ctx.dims))
            X = np.clip(np.stack([a.mu for a in agents])[:, None] + np.exp(np.stack([a.log_sigma for a in agents]))[:, None] * eps,
                        -1.0, 1.0)
            qs = ctx.evaluate_vectors(X.reshape(-1, ctx.dims))
            for k, a in enumerate(agents):
                mine = qs[k * n:(k + 1) * n]
                r = np.array([q.error if q.graded else 0.0 for q in mine])
                adv = r - a.baseline
                a.baseline = self.ema * a.baseline + (1 - self.ema) * r.mean() if a.iters else r.mean()
                a.iters += 1
                # REINFORCE on the Gaussian's mean and log-std (the sample is mu + sigma * eps)
                sigma = np.exp(a.log_sigma)
                a.mu = np.clip(a.mu + self.lr_mu * (adv[:, None] * eps[k] / sigma).mean(0) * sigma, -1.0, 1.0)
                a.log_sigma = np.maximum(a.log_sigma + self.lr_sigma * (adv[:, None] * (eps[k] ** 2 - 1)).mean(0),
                                         np.log(self.sigma_min))
                failing = [i for i, q in enumerate(mine) if q.failed]
                if failing:  # phase 2 from the worst case found
                    worst = max(failing, key=lambda i: mine[i].error)
                    grow_region(ctx, X[k, worst], self.growth, owner=f"{self.name}_{k}")
                    agents[k] = self._new_agent(ctx)
                elif a.iters >= self.max_iters:
                    agents[k] = self._new_agent(ctx)
