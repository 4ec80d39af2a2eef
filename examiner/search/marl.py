"""``marl`` (ours): multi-agent PPO (stable-baselines3) on the PettingZoo environment, vectorized
with SuperSuit, one policy shared by all agents (each sees its one-hot id), every step one
batched evaluation for all agents.

Cooperation is explicit: the shared registry lowers an agent's reward inside regions other
agents already claimed and raises it for failures far from known ones (``Shaping``); an agent
that reaches a new failure switches to boundary growth for it (the region is validated and
registered for everyone), then moves on from a fresh point away from known regions. Each agent
walks elitist: a step that lowers its error is not taken (the agent stays, and is rewarded for
raising the error), so even an untrained policy climbs towards failures. Training
is logged to TensorBoard through SB3's logger when a log folder is given."""

from __future__ import annotations

import heapq

from pathlib import Path

import numpy as np

from examiner.env import ExaminerParallelEnv, Shaping, query_info
from examiner.search.boundary import grow_region
from examiner.search.context import BudgetExhausted, SearchContext
from examiner.search.strategy import Strategy


class _CooperativeEnv(ExaminerParallelEnv):
    """The parallel env over the search context: failures trigger region growth.

    Each agent walks on across episodes (an episode is only PPO's rollout horizon). Its step is
    the policy's action times ``step_size`` times the agent's own scale, which grows after a
    step that raises the error and shrinks after one that does not (a success rule, as in
    evolution strategies). A step into a region already claimed is a miss: the walk does not
    enter it, so no query is spent on known failures. An agent that has not raised its error
    for ``patience`` steps, stands in a region claimed meanwhile, or
    has just handed a failure to region growth, starts again: from one of the highest-error
    points any agent has seen outside the known regions (the shared pool, ``pool_share`` of
    the time) or from a uniform point away from known regions."""

    def __init__(self, ctx: SearchContext, strategy: "MarlSearch"):
        super().__init__(ctx, n_agents=strategy.agents, registry=ctx.registry, step_size=strategy.step_size,
                         max_steps=strategy.episode_steps, shaping=strategy.shaping)
        self.ctx = ctx
        self.strategy = strategy
        self._rng = np.random.default_rng(ctx.seed)
        self.scale: dict[str, float] = {}
        self.stalls: dict[str, int] = {}
        self._spawned: set[int] = set()  # history entries already used as starts

    def _fresh_point(self) -> np.ndarray:
        for _ in range(50):
            x = self._rng.uniform(-1.0, 1.0, self.core.dims)
            if not self.ctx.known(x):
                return x
        return x

    def _pooled_point(self, others: list[np.ndarray]) -> np.ndarray | None:
        """A high-error point from the shared history, not in a known region, not near another
        agent and not used as a start before (None if there is none)."""
        s = self.strategy
        ranked = heapq.nlargest(s.pool_size * 4, ((q.error, i) for i, (_, q) in enumerate(self.ctx.history)
                                                  if q.graded and not q.failed and i not in self._spawned))
        for _, i in ranked:
            x = self.ctx.history[i][0]
            if self.ctx.known(x) or any(np.linalg.norm(x - o) < s.pool_spacing for o in others):
                continue
            self._spawned.add(i)
            return np.clip(x + self._rng.normal(0.0, s.pool_jitter, x.shape), -1.0, 1.0)
        return None

    def _restart(self, agent: str) -> None:
        others = [x for a, x in self.x.items() if a != agent]
        x = self._pooled_point(others) if self._rng.random() < self.strategy.pool_share else None
        self.x[agent] = self._fresh_point() if x is None else x
        self.scale[agent] = 1.0 if x is None else self.strategy.pool_scale
        self.stalls[agent], self.err[agent] = 0, 0.0

    def reset(self, seed=None, options=None):
        options = dict(options or {})
        if not self.x:  # the first episode; later ones continue every walk where it stands
            options.setdefault("starts", [self._fresh_point() for _ in self.possible_agents])
            self.scale = {a: 1.0 for a in self.possible_agents}
            self.stalls = {a: 0 for a in self.possible_agents}
        else:
            options.setdefault("starts", [self.x[a] for a in self.possible_agents])
        obs, infos = super().reset(seed=None, options=options)
        self.err = {a: (i["error"] if i["graded"] else 0.0) for a, i in infos.items()}
        return obs, infos

    def step(self, actions):
        s = self.strategy
        live = [a for a in self.agents if a in actions]
        before = {a: self.x[a].copy() for a in live}
        for a in live:
            self.x[a] = self.core.move(self.x[a], actions[a], self.scale[a])
        self.t += 1
        qs = self.core.query([self.x[a] for a in live])  # one batched evaluation for all agents
        obs, rewards, infos = {}, {}, {}
        for a, q in zip(live, qs):
            e = q.error if q.graded else 0.0
            rewards[a] = self.core.shaping.reward(q, self.x[a], self.core.registry) + s.progress_weight * (e - self.err[a])
            infos[a] = query_info(q)
            known = self.ctx.known(self.x[a])
            if q.failed and not known:
                grow_region(self.ctx, self.x[a], s.growth, owner=a)
                self._restart(a)  # move on: the region is everyone's now
            elif known or e + 1e-9 < self.err[a]:
                # a step that lowers the error, or enters a claimed region, is not taken (elitist walk)
                self.x[a] = before[a]
                self.scale[a] = max(s.min_scale, self.scale[a] * s.shrink)
                self.stalls[a] += 1
                if self.stalls[a] >= s.patience or self.ctx.known(self.x[a]):
                    self._restart(a)
            else:
                self.err[a] = e
                self.scale[a] = min(1.0, self.scale[a] * s.expand)
                self.stalls[a] = 0
            obs[a] = self._obs(a, self.err[a])
        done = self.t >= self.core.max_steps
        terms = {a: False for a in live}
        truncs = {a: done for a in live}
        if done:
            self.agents = []
        return obs, rewards, terms, truncs, infos


class MarlSearch(Strategy):
    name = "marl"
    step_size = 0.25
    episode_steps = 24
    progress_weight = 1.0  # reward for raising the error, on top of the shaped error
    expand, shrink, min_scale = 1.5, 0.7, 0.05  # an agent's step scale after a success / a miss
    patience = 6  # misses in a row before an agent starts again
    pool_share = 0.5  # restarts taken from the shared pool of high-error points
    pool_size, pool_spacing, pool_jitter, pool_scale = 16, 0.3, 0.05, 0.3
    shaping = Shaping()
    n_steps = 32  # PPO rollout length per agent
    learning_rate = 3e-4
    ent_coef = 0.01

    def __init__(self, *args, tensorboard: str | Path | None = None, **kw):
        super().__init__(*args, **kw)
        self.tensorboard = tensorboard

    def run(self, ctx: SearchContext) -> None:
        import supersuit as ss
        import torch
        from stable_baselines3 import PPO
        from supersuit.vector.sb3_vector_wrapper import SB3VecEnvWrapper

        torch.manual_seed(ctx.seed)
        env = _CooperativeEnv(ctx, self)
        # one agent per vector slot; no copy of the env (ConcatVecEnv would pickle it, and the
        # agents must share this context, its budget and its registry)
        class VecEnv(SB3VecEnvWrapper):
            def seed(self, seed=None):  # the environment draws from the context's seeded generator
                return [seed] * self.num_envs

        vec = VecEnv(ss.pettingzoo_env_to_vec_env_v1(env))
        model = PPO("MlpPolicy", vec, n_steps=self.n_steps, batch_size=max(2, self.n_steps * self.agents // 2),
                    n_epochs=4, gamma=0.9, learning_rate=self.learning_rate, ent_coef=self.ent_coef, seed=ctx.seed,
                    policy_kwargs={"net_arch": [64, 64]}, device="cpu", verbose=0,
                    tensorboard_log=str(self.tensorboard) if self.tensorboard else None)
        try:
            model.learn(total_timesteps=10 * ctx.budget * self.agents, tb_log_name="marl")
        finally:
            vec.close()
        raise BudgetExhausted  # learn() only returns once its step budget is spent
