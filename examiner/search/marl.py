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

from pathlib import Path

import numpy as np

from examiner.env import ExaminerParallelEnv, Shaping, query_info
from examiner.search.boundary import grow_region
from examiner.search.context import BudgetExhausted, SearchContext
from examiner.search.strategy import Strategy


class _CooperativeEnv(ExaminerParallelEnv):
    """The parallel env over the search context: failures trigger region growth."""

    def __init__(self, ctx: SearchContext, strategy: "MarlSearch"):
        super().__init__(ctx, n_agents=strategy.agents, registry=ctx.registry, step_size=strategy.step_size,
                         max_steps=strategy.episode_steps, shaping=strategy.shaping)
        self.ctx = ctx
        self.strategy = strategy
        self._rng = np.random.default_rng(ctx.seed)

    def _fresh_point(self) -> np.ndarray:
        for _ in range(50):
            x = self._rng.uniform(-1.0, 1.0, self.core.dims)
            if not self.ctx.known(x):
                return x
        return x

    def reset(self, seed=None, options=None):
        options = dict(options or {})
        options.setdefault("starts", [self._fresh_point() for _ in self.possible_agents])
        obs, infos = super().reset(seed=None, options=options)
        self.err = {a: (i["error"] if i["graded"] else 0.0) for a, i in infos.items()}
        return obs, infos

    def step(self, actions):
        live = [a for a in self.agents if a in actions]
        before = {a: self.x[a].copy() for a in live}
        for a in live:
            self.x[a] = self.core.move(self.x[a], actions[a])
        self.t += 1
        qs = self.core.query([self.x[a] for a in live])  # one batched evaluation for all agents
        obs, rewards, infos = {}, {}, {}
        for a, q in zip(live, qs):
            e = q.error if q.graded else 0.0
            rewards[a] = self.core.shaping.reward(q, self.x[a], self.core.registry) \
                + self.strategy.progress_weight * (e - self.err[a])
            infos[a] = query_info(q)
            if q.failed and not self.ctx.known(self.x[a]):
                grow_region(self.ctx, self.x[a], self.strategy.growth, owner=a)
                self.x[a], self.err[a] = self._fresh_point(), 0.0  # move on: the region is everyone's now
            elif e + 1e-9 < self.err[a]:
                self.x[a] = before[a]  # a step that lowers the error is not taken (elitist walk)
            else:
                self.err[a] = e
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
