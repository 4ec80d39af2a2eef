"""``marl`` (ours): multi-agent PPO (stable-baselines3) on the PettingZoo environment, vectorized
with SuperSuit, one policy shared by all agents (each sees its one-hot id), every step one
batched evaluation for all agents.

Cooperation is explicit: the shared registry lowers an agent's reward inside regions other
agents already claimed and raises it for failures far from known ones (``Shaping``); an agent
that reaches a new failure switches to boundary growth for it (the region is validated and
registered for everyone), then moves on from a fresh point away from known regions. Training
is logged to TensorBoard through SB3's logger when a log folder is given."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from examiner.env import ExaminerParallelEnv, Shaping
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
        return super().reset(seed=None, options=options)

    def step(self, actions):
        obs, rewards, terms, truncs, infos = super().step(actions)
        for a in list(obs):
            x = self.x[a]
            if infos[a]["failed"] and not self.ctx.known(x):
                grow_region(self.ctx, x, self.strategy.growth, owner=a)
                self.x[a] = self._fresh_point()  # move on: the region is everyone's now
                obs[a] = self._obs(a, 0.0)
        return obs, rewards, terms, truncs, infos


class MarlSearch(Strategy):
    name = "marl"
    step_size = 0.25
    episode_steps = 24
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
