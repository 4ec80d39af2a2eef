"""``lse``: level-set estimation of where the model fails, with a surrogate (``surrogate.py``) and
modes read off it and confirmed on fresh queries (``surrogate_modes.py``). The default strategy
(``DEFAULT_STRATEGY``): the best measured on held-out landscapes, ``marl``'s learned picks
included (``marl.py``).

The goal is not the worst point (what ``bo`` seeks) but the set where the failure probability
is above the threshold - the super-level set, as in LSE (Gotovos et al., IJCAI 2013). Each
batch:

- the surrogate is refit to every query so far (the failure of each);
- candidates: ``pool`` uniform points plus, as trust regions for a 20-dim space (TRLSE),
  ``local`` points drawn around the failures not yet explained by a mode (Gaussian,
  ``local_sd``), so the level set's boundary near a suspected mode is resolved first;
- the straddle score ``beta * sd - |p - threshold|`` (Bryan et al. 2006; LSE's ambiguity in the
  form of its confidence interval) ranks them: a point is worth a query where the surrogate is
  unsure on which side of the threshold it lies. Points inside known modes (or rejected boxes)
  are not candidates; a batch keeps its points ``spread`` apart;
- ``uniform_share`` of every batch is drawn uniformly instead: those points measure every rate
  (the base rate, coverage, the relaxation tests) without the bias of the acquisition and keep
  exploring where the surrogate sees nothing. Half is what measured best on realistic
  landscapes 0-11 at 600 queries (recall 0.50 at 0.5; 0.39-0.41 at 0 and 0.25; 0.42 at 0.75).
  A share that falls over the budget (3/4 of each batch in its first third, 1/2, then 1/4)
  recalled 0.590 against 0.581 (24 seeds, 288 searches; paired +0.010, standard error 0.009),
  too little to tell, and one that rises (1/4, 1/2, 3/4) 0.559 against 0.589 (12 seeds; -0.030,
  0.013): uniform points early matter more than late;
- then modes are proposed from the refit surrogate and, every 64 queries, from a scan of the
  queries themselves for failure clusters on two or three dims (``scan.py``) and from cuts of
  known modes that fail less than they should, and from probes of unexplained failures
  (``anchor.py``: which dims the mode around one bounds, asked of the model), and confirmed on
  fresh queries (``ModeFinder.find``).

Deterministic for the seed (the forest's seed comes from ``ctx.rng``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from examiner.search.context import SearchContext
from examiner.search.proposer import known_mask
from examiner.search.strategy import Strategy
from examiner.search.surrogate import Surrogate, SurrogateConfig
from examiner.search.surrogate_modes import ModeFinder, ModeFinding


@dataclass(frozen=True)
class LseConfig:
    batch: int = 16  # queries per surrogate refit
    uniform_share: float = 0.5  # of each batch drawn uniformly (pseudo-random: a scrambled Sobol'
    # sequence for these and the base sample recalled 0.587 against 0.615 on realistic tuning
    # landscapes 0-11 at 600 queries, 12 seeds, paired standard error 0.015)
    pool: int = 1024  # uniform candidates per batch
    local: int = 1024  # candidates around unexplained failures
    local_sd: float = 0.25  # ... their spread (normalized units; realistic tuning landscapes 0-11, 600
    # queries, 12 seeds: 0.15 recalled 0.572 and 0.4 0.585 against 0.615, standard errors 0.010-0.012)
    centres: int = 32  # unexplained failures the local candidates are drawn around
    beta: float = 1.96  # weight of the uncertainty in the straddle score
    spread: float = 0.5  # batch points at least this far apart (normalized units)
    modes_per_batch: int = 2  # proposals confirmed after each batch at most
    surrogate: SurrogateConfig = field(default_factory=SurrogateConfig)
    finding: ModeFinding = field(default_factory=ModeFinding)


def fit_surrogate(ctx: SearchContext, config: SurrogateConfig) -> Surrogate:
    X, y = ctx.queried_failed()
    return Surrogate(config, seed=int(ctx.rng.integers(1, 2**31 - 1))).fit(X, y)


def candidate_pool(ctx: SearchContext, c: LseConfig) -> tuple[np.ndarray, np.ndarray]:
    """(C (n, D), near (n,) bool): uniform candidates and ones around unexplained failures
    (``near``: the trust regions), none inside a known mode."""
    X, y = ctx.queried_failed()
    parts = [ctx.rng.uniform(-1.0, 1.0, (c.pool, ctx.dims))]
    fails = X[y & ~known_mask(ctx, X)] if len(X) else X
    if len(fails):
        centres = fails[ctx.rng.permutation(len(fails))[: c.centres]]
        around = centres[ctx.rng.integers(0, len(centres), c.local)]
        parts.append(np.clip(around + ctx.rng.normal(0.0, c.local_sd, around.shape), -1.0, 1.0))
    C = np.concatenate(parts)
    near = np.arange(len(C)) >= c.pool
    keep = ~known_mask(ctx, C)
    return C[keep], near[keep]


def straddle(p: np.ndarray, sd: np.ndarray, threshold: float, beta: float) -> np.ndarray:
    return beta * sd - np.abs(p - threshold)


def pick_spread(X: np.ndarray, score: np.ndarray, k: int, spread: float) -> np.ndarray:
    """Indices of up to ``k`` rows of X, best score first, each at least ``spread`` from the
    ones picked before (relaxed by halves when too few qualify)."""
    order = np.argsort(-score, kind="stable")
    chosen: list[int] = []
    while len(chosen) < min(k, len(X)):
        for i in order:
            if len(chosen) >= k:
                break
            if i in chosen:
                continue
            if not chosen or np.min(np.linalg.norm(X[chosen] - X[i], axis=1)) >= spread:
                chosen.append(int(i))
        spread /= 2.0
    return np.array(chosen, dtype=int)


class LevelSetSearch(Strategy):
    name = "lse"

    def __init__(self, agents: int = 4, growth=None, config: LseConfig = LseConfig()):
        super().__init__(agents, growth)
        self.config = config

    def propose(self, ctx: SearchContext, surrogate: Surrogate, k: int) -> np.ndarray:
        C, _ = candidate_pool(ctx, self.config)
        if not len(C):
            return ctx.rng.uniform(-1.0, 1.0, (k, ctx.dims))
        p, sd = surrogate.predict(C)
        score = straddle(p, sd, ctx.validation.threshold, self.config.beta)
        return C[pick_spread(C, score, k, self.config.spread)]

    def run(self, ctx: SearchContext) -> None:
        c = self.config
        finder = ModeFinder(ctx, c.finding)
        n_uniform = int(round(c.uniform_share * c.batch))
        while True:
            surrogate = fit_surrogate(ctx, c.surrogate)
            finder.find(surrogate, owner=self.name, limit=c.modes_per_batch)
            if c.batch - n_uniform:
                ctx.evaluate_vectors(self.propose(ctx, surrogate, c.batch - n_uniform))
            if n_uniform:
                ctx.evaluate_vectors(ctx.rng.uniform(-1.0, 1.0, (n_uniform, ctx.dims)), support=(-1.0, 1.0))
