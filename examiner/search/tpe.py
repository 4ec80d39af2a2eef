"""``tpe``: Optuna's Tree-structured Parzen Estimator maximizing the error, the baseline a user of
Optuna reaches for.

Every query of the search is a trial of one in-memory study over the normalized box [-1, 1]^D
(a categorical dim is a float there too, read back through ``ParamSpace.from_vector``); its
value is the error, ``known_penalty`` less inside known regions (``proposer.py``). A batch is
``batch`` asks before any tell: with ``constant_liar`` the pending trials count as bad ones, so
the batch spreads instead of repeating one point. The base sample and every growth or
validation query are trials too. When a region has been grown the study is rebuilt from the
whole history, so points found before the region was are penalized as well; a rebuild starts
a new sampler seeded from ``ctx.rng`` (TPE keeps no state but its trials and its generator),
so a run is deterministic for its seed."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from examiner.evaluate import Query
from examiner.search.context import SearchContext
from examiner.search.proposer import Proposer, known_mask, observations


@dataclass(frozen=True)
class TpeConfig:
    batch: int = 8  # asks per evaluation batch (constant liar keeps them apart)
    multivariate: bool = True  # one joint Parzen estimator: interacting dims matter together
    n_ei_candidates: int = 24  # draws from the good-points estimator scored per ask (Optuna's default)
    known_penalty: float = 0.5  # value taken off a point in a known region (as cmaes)


class TpeSearch(Proposer):
    name = "tpe"

    def __init__(self, agents: int = 4, growth=None, config: TpeConfig = TpeConfig()):
        super().__init__(agents, growth)
        self.config = config

    def start(self, ctx: SearchContext) -> None:
        import optuna

        super().start(ctx)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._names = list(ctx.space.names)
        self._dists = {n: optuna.distributions.FloatDistribution(-1.0, 1.0) for n in self._names}
        self._study = None
        self._asked = []

    def _rebuild(self, ctx: SearchContext) -> None:
        """A new study holding every query so far, valued with the current known regions."""
        import optuna

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = optuna.samplers.TPESampler(
                seed=int(ctx.rng.integers(1, 2**31 - 1)), multivariate=self.config.multivariate,
                constant_liar=True, n_ei_candidates=self.config.n_ei_candidates)
        self._study = optuna.create_study(direction="maximize", sampler=sampler)
        X, value = observations(ctx, self.config.known_penalty)
        self._study.add_trials([
            optuna.trial.create_trial(params=dict(zip(self._names, x.tolist())), distributions=self._dists,
                                      value=float(v)) for x, v in zip(X, value)])

    def propose(self, ctx: SearchContext) -> np.ndarray:
        import optuna

        if self._study is None or self.regions_changed:
            self._rebuild(ctx)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self._asked = [self._study.ask(self._dists) for _ in range(self.config.batch)]
        return np.array([[t.params[n] for n in self._names] for t in self._asked])

    def observe(self, ctx: SearchContext, X: np.ndarray, queries: list[Query]) -> None:
        value = np.array([q.error if q.graded else 0.0 for q in queries])
        value = value - self.config.known_penalty * known_mask(ctx, X[: len(queries)])
        for trial, v in zip(self._asked, value):
            self._study.tell(trial, float(v))
