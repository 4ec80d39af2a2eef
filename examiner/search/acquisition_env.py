"""The PettingZoo environment ``marl``'s agents search in: the ``lse`` loop (surrogate refit,
modes proposed and confirmed, a uniform share of every batch) with the choice of the next
queries handed to K agents.

Each step, every agent is shown ``candidates`` points - half of them the best by the straddle
score (dealt out in turn, so no two agents see the same ones), half drawn from the rest of the
candidate pool - each described by ``FEATURES``, and picks one. The K picks are queried in one
batch. Once ``batch`` queries (picks plus the uniform share) have been made since the last
refit, the surrogate is refit and modes are proposed and confirmed (``ModeFinder``).

Reward (cooperative): an agent earns ``new_failure_reward`` when its point fails outside every
known mode (failure mass no mode explains yet), and every agent earns ``mode_reward / K`` for
each mode confirmed after its step. Agents do not chase the same mode: they are shown different
candidates, and a mode found by one is known to all (its points stop paying).

Two uses: a search (``make_context`` returns the search's context; when the budget runs out
``BudgetExhausted`` leaves ``step`` and ends the search) and pretraining (``make_context`` makes
a fresh search of a new landscape at every reset; an episode ends when fewer than K queries
are left)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
from gymnasium import spaces
from pettingzoo.utils.env import ParallelEnv

from examiner.search.budget import BudgetExhausted
from examiner.search.context import SearchContext
from examiner.search.lse import LseConfig, candidate_pool, fit_surrogate, straddle
from examiner.search.proposer import known_mask
from examiner.search.surrogate_modes import ModeFinder

#: what an agent sees of each candidate; none depends on the number or names of the dims
FEATURES = ("failure probability", "uncertainty", "straddle", "distance to known modes", "distance to queries",
            "near an unexplained failure", "straddle rank", "budget used", "modes found", "unexplained failures")


@dataclass(frozen=True)
class AcquisitionConfig:
    candidates: int = 16  # M: points each agent chooses from
    new_failure_reward: float = 1.0
    mode_reward: float = 4.0
    lse: LseConfig = field(default_factory=LseConfig)


def box_distance(X: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.linalg.norm(np.maximum(np.maximum(lo - X, 0.0), X - hi), axis=1)


class AcquisitionEnv(ParallelEnv):
    metadata = {"name": "examiner_acquisition_v0", "render_modes": []}

    def __init__(self, make_context, agents: int = 4, config: AcquisitionConfig = AcquisitionConfig(),
                 pretraining: bool = False, owner: str = "marl"):
        self.make_context = make_context
        self.config = config
        self.pretraining = pretraining
        self.owner = owner
        self.render_mode = None
        self.possible_agents = [f"agent_{k}" for k in range(agents)]
        self.agents: list[str] = []
        self.ctx: SearchContext | None = None
        self.modes_found = 0  # in the current episode
        self._cands: list[np.ndarray] = []

    @functools.lru_cache(maxsize=None)
    def observation_space(self, agent: str) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, (self.config.candidates * len(FEATURES),), np.float32)

    @functools.lru_cache(maxsize=None)
    def action_space(self, agent: str) -> spaces.Discrete:
        return spaces.Discrete(self.config.candidates)

    # --- the lse loop ---------------------------------------------------------------------
    def _refit(self) -> int:
        """Surrogate refit, modes proposed and confirmed; returns how many were confirmed."""
        c = self.config.lse
        self.surrogate = fit_surrogate(self.ctx, c.surrogate)
        found = self.finder.find(self.surrogate, owner=self.owner, limit=c.modes_per_batch)
        self.since = 0
        if found:  # the surrogate has seen the validation queries too
            self.surrogate = fit_surrogate(self.ctx, c.surrogate)
        return len(found)

    def _uniform(self) -> None:
        n = int(round(self.config.lse.uniform_share * self.config.lse.batch))
        if n:
            self.ctx.evaluate_vectors(self.ctx.rng.uniform(-1.0, 1.0, (n, self.ctx.dims)), support=(-1.0, 1.0))

    # --- observations -------------------------------------------------------------------------
    def _deal(self) -> dict:
        """Each agent's candidates (stored) and observations."""
        ctx, c, K = self.ctx, self.config, len(self.possible_agents)
        M, half = c.candidates, c.candidates // 2
        pool, local = candidate_pool(ctx, c.lse)
        if len(pool) < K * M:
            extra = ctx.rng.uniform(-1.0, 1.0, (K * M - len(pool), ctx.dims))
            pool, local = np.concatenate([pool, extra]), np.concatenate([local, np.zeros(len(extra), bool)])
        p, sd = self.surrogate.predict(pool)
        score = straddle(p, sd, ctx.validation.threshold, c.lse.beta)
        order = np.argsort(-score, kind="stable")
        top, rest = order[: K * half], order[K * half:]
        rest = rest[ctx.rng.permutation(len(rest))]
        X, y = ctx.queried_failed()
        scale = np.sqrt(ctx.dims)
        unexplained = int((y & ~known_mask(ctx, X)).sum()) if len(X) else 0
        glob = [min(1.0, ctx.used / ctx.budget), min(1.0, len(ctx.registry.regions) / 8.0),
                unexplained / max(1, int(y.sum()))]
        obs = {}
        self._cands = []
        for k, agent in enumerate(self.possible_agents):
            idx = np.concatenate([top[k::K][:half], rest[k * (M - half):(k + 1) * (M - half)]])
            C = pool[idx]
            known_d = np.full(len(C), 1.0)
            for r in ctx.registry.regions:
                known_d = np.minimum(known_d, box_distance(C, r.lo, r.hi) / scale)
            hist_d = (np.min(np.linalg.norm(C[:, None] - X[None], axis=2), axis=1) / scale) if len(X) else np.ones(len(C))
            rank = np.argsort(np.argsort(-score[idx], kind="stable"), kind="stable") / max(1, M - 1)
            f = np.column_stack([p[idx], sd[idx], score[idx], known_d, hist_d, local[idx].astype(float), rank,
                                 np.tile(glob, (len(C), 1))])
            self._cands.append(C)
            obs[agent] = np.clip(f, -1.0, 1.0).astype(np.float32).ravel()
        return obs

    # --- PettingZoo ----------------------------------------------------------------------------
    def reset(self, seed: int | None = None, options: dict | None = None):
        self.ctx = self.make_context()
        self.finder = ModeFinder(self.ctx, self.config.lse.finding)
        self.agents = list(self.possible_agents)
        self.modes_found = 0
        self.modes_found += self._refit()
        return self._deal(), {a: {} for a in self.agents}

    def step(self, actions: dict):
        ctx, c, K = self.ctx, self.config, len(self.possible_agents)
        live = list(self.agents)
        points = np.array([self._cands[k][int(actions[a])] for k, a in enumerate(self.possible_agents) if a in actions])
        fresh = ~known_mask(ctx, points)
        rewards = {a: 0.0 for a in live}
        done = False
        try:
            queries = ctx.evaluate_vectors(points)
            for k, (a, q) in enumerate(zip(live, queries)):
                rewards[a] = c.new_failure_reward * float(bool(q.failed) and fresh[k])
            self.since += len(points)
            if self.since + round(c.lse.uniform_share * c.lse.batch) >= c.lse.batch:
                self._uniform()
                new = self._refit()
                self.modes_found += new
                for a in live:
                    rewards[a] += c.mode_reward * new / K
            done = ctx.remaining < K
        except BudgetExhausted:
            if not self.pretraining:
                raise
            done = True
        obs = self._deal() if not done else {a: np.zeros(self.observation_space(a).shape, np.float32) for a in live}
        infos = {a: {"modes": self.modes_found} for a in live}
        if done:
            self.agents = []
        return obs, rewards, {a: False for a in live}, {a: done for a in live}, infos

    def render(self):
        return None

    def close(self):
        pass
