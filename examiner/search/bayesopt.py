"""``bo``: Bayesian optimization with BoTorch maximizing the error, the baseline a user of BoTorch
reaches for.

- Surrogate: an exact ``SingleTaskGP`` (BoTorch's default ARD RBF kernel with dimension-scaled
  lengthscale priors, which hold up at 20 dims, and a learned noise level: a planted or real
  model's error is noisy inside a failure mode) on the points of the history -> their error,
  ``known_penalty`` less inside known regions (``proposer.py``). It is refit every batch. An
  exact GP fits in time here: at most ``max_train`` points (600 by default, a 600 x 600 Cholesky
  per step), and each fit is warm-started from the last batch's hyperparameters and capped at
  ``fit_maxiter`` L-BFGS steps, which moves the lengthscales that matter to where a full fit
  puts them at a fraction of its time (a sparse or tree model would only pay off for budgets of
  thousands). Past ``max_train`` points the training set keeps the most recent points outside
  known regions first (that is where the search looks for a new mode), then the most recent
  inside them.
- Acquisition: ``qLogExpectedImprovement`` over the best value so far, for ``batch`` points
  jointly. LogEI needs no exploration weight to tune (UCB's beta would be one more knob per
  space), and its log form keeps a useful gradient where the plain EI is numerically zero -
  which is most of the space once the best value is a failure (error above 0.6): improving on
  it is unlikely almost everywhere, so the search is driven by the posterior's spread, and it
  leaves a found mode because the penalty lowers the best value outside known regions.
- Optimizer: ``optimize_acqf`` over the box (the unit cube the GP sees) from ``raw_samples``
  quasi-random starts of which ``num_restarts`` are refined by L-BFGS, ``acq_maxiter`` steps
  each: a 600-query search at 20 dims takes a minute or two on 2 CPU cores.
- A proposed point inside a known region, or one that would not count (already queried, or a
  repeat within the batch), is replaced by a uniform point outside known regions: it would
  waste a query, or a deterministic optimizer could ask for the same point forever.

Deterministic for the seed: each batch draws a torch seed from ``ctx.rng`` and runs inside
``torch.random.fork_rng`` on one torch thread (float sums depend on the thread count)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from examiner.search.context import SearchContext
from examiner.search.proposer import Proposer, known_mask, observations
from synthgen.workers import one_torch_thread


@dataclass(frozen=True)
class BoConfig:
    batch: int = 8  # q: points per acquisition (and per GP refit)
    num_restarts: int = 4  # L-BFGS starts for the acquisition
    raw_samples: int = 128  # quasi-random points the starts are chosen from
    acq_maxiter: int = 50  # L-BFGS steps per start
    mc_samples: int = 64  # quasi-Monte-Carlo samples of the q-batch posterior
    fit_maxiter: int = 50  # L-BFGS steps per GP fit (warm-started from the last one)
    max_train: int = 600  # training points at most (see the module docstring for which)
    known_penalty: float = 0.5  # value taken off a point in a known region (as cmaes)
    replace_draws: int = 64  # uniform draws tried for each wasted candidate


class BayesOpt(Proposer):
    name = "bo"

    def __init__(self, agents: int = 4, growth=None, config: BoConfig = BoConfig()):
        super().__init__(agents, growth)
        self.config = config

    def start(self, ctx: SearchContext) -> None:
        super().start(ctx)
        self._hyper: dict | None = None  # the last fit's kernel, noise and mean parameters

    def training_set(self, ctx: SearchContext) -> tuple[np.ndarray, np.ndarray]:
        """(X (n, D), value (n,)), n <= max_train."""
        X, value = observations(ctx, self.config.known_penalty)
        if len(X) <= self.config.max_train:
            return X, value
        order = np.arange(len(X))[::-1]  # most recent first
        outside = ~known_mask(ctx, X)[order]
        keep = np.sort(np.concatenate([order[outside], order[~outside]])[: self.config.max_train])
        return X[keep], value[keep]

    def propose(self, ctx: SearchContext) -> np.ndarray:
        import torch
        from botorch.acquisition.logei import qLogExpectedImprovement
        from botorch.exceptions.warnings import BotorchWarning
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import SingleTaskGP
        from botorch.models.transforms import Standardize
        from botorch.optim import optimize_acqf
        from botorch.sampling import SobolQMCNormalSampler
        from gpytorch.mlls import ExactMarginalLogLikelihood

        c = self.config
        X, value = self.training_set(ctx)
        seed = int(ctx.rng.integers(1, 2**31 - 1))
        with torch.random.fork_rng(), one_torch_thread(), warnings.catch_warnings():
            warnings.simplefilter("ignore", BotorchWarning)  # L-BFGS stopping at its cap is intended
            torch.manual_seed(seed)
            train_x = torch.as_tensor((X + 1.0) / 2.0, dtype=torch.float64)  # the GP works in the unit cube
            train_y = torch.as_tensor(value, dtype=torch.float64)[:, None]
            model = SingleTaskGP(train_x, train_y, outcome_transform=Standardize(m=1))
            if self._hyper is not None:
                for part, state in self._hyper.items():
                    getattr(model, part).load_state_dict(state)
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model),
                             optimizer_kwargs={"options": {"maxiter": c.fit_maxiter}})
            self._hyper = {part: {k: v.clone() for k, v in getattr(model, part).state_dict().items()}
                           for part in ("covar_module", "likelihood", "mean_module")}
            acq = qLogExpectedImprovement(model, best_f=train_y.max(),
                                          sampler=SobolQMCNormalSampler(torch.Size([c.mc_samples]), seed=seed))
            bounds = torch.stack([torch.zeros(ctx.dims), torch.ones(ctx.dims)]).to(torch.float64)
            cand, _ = optimize_acqf(acq, bounds, q=c.batch, num_restarts=c.num_restarts, raw_samples=c.raw_samples,
                                    options={"maxiter": c.acq_maxiter, "seed": seed})
        return self._without_waste(ctx, cand.detach().numpy() * 2.0 - 1.0)

    def _without_waste(self, ctx: SearchContext, X: np.ndarray) -> np.ndarray:
        """X (q, D) with each point that is known or would not count replaced by a uniform
        point outside known regions (the first of ``replace_draws``; any one if all are known)."""
        X = np.clip(X, -1.0, 1.0)
        wasted = known_mask(ctx, X) | ~np.array(ctx.evaluator.new_queries(X))
        if wasted.any():
            draws = ctx.rng.uniform(-1.0, 1.0, (int(wasted.sum()), self.config.replace_draws, ctx.dims))
            for row, d in zip(np.nonzero(wasted)[0], draws):
                free = np.nonzero(~known_mask(ctx, d))[0]
                X[row] = d[free[0] if len(free) else 0]
        return X
