"""``marl`` (ours): multi-agent PPO (stable-baselines3) on the PettingZoo environment, vectorized
with SuperSuit, one policy shared by all agents (each sees its one-hot id), every step one
batched evaluation for all agents.

``--agents K`` walkers search at once, each with ``population`` PettingZoo agents (its
members): a walker is an evolution strategy whose sampling distribution is the shared policy,
and its mean follows the better half of its members (rank-based, so the noise of single
errors averages out), so even an untrained policy climbs towards failures. PPO is trained to
propose offsets that raise the error; on the planted benchmarks a frozen policy finds as many
regions (the ranking and the cooperation do the work there). Cooperation is explicit: the
shared registry lowers a member's reward inside regions already claimed and raises it for
failures far from known ones (``Shaping``); a walker that reaches a new failure switches to
boundary growth for it (the region is validated and registered for everyone), then moves on;
walkers leave the surroundings of found regions and restart from the best populations any
walker has had. Training is logged to TensorBoard through SB3's logger when a log folder is
given."""

from __future__ import annotations

import heapq

from pathlib import Path

import numpy as np

from examiner.env import ExaminerParallelEnv, Shaping, query_info
from examiner.search.boundary import grow_region
from examiner.search.context import BudgetExhausted, SearchContext
from examiner.search.strategy import Strategy


class _CooperativeEnv(ExaminerParallelEnv):
    """The parallel env over the search context: ``agents`` walkers, each with ``population``
    PettingZoo agents (its members) that share one policy.

    A walker is an evolution strategy whose sampling distribution is the policy: every step,
    each member's action is an offset from the walker's mean (times ``step_size`` and the
    walker's own scale), all members of all walkers are evaluated in one batch, and the mean
    moves to the weighted mean of the better half (rank-based, so single noisy errors do not
    steer it). A member is rewarded for its error above its siblings' average (the shaped
    error: lowered inside claimed regions, raised for failures far from known ones), which is
    what PPO is trained on. The scale grows after a population whose mean error beats the
    walk's best and shrinks after one that does not. An offset into a claimed region costs no
    query.

    A walker that reaches a new failure hands it to region growth and starts again; so does one
    that comes within ``claim_margin`` of a found region, or makes no progress for ``patience``
    steps (its spot is then never a start again). It starts from the centre of one of the best
    populations any walker has had (the shared pool, ``pool_share`` of the time, away from the
    other walkers) or from the one of ``fresh_candidates`` uniform points farthest from every
    query so far, sampling widely at first (``start_scale``)."""

    def __init__(self, ctx: SearchContext, strategy: "MarlSearch"):
        s = strategy
        super().__init__(ctx, n_agents=s.agents * s.population, registry=ctx.registry, step_size=s.step_size,
                         max_steps=s.episode_steps, shaping=s.shaping)
        self.ctx = ctx
        self.strategy = s
        self._rng = np.random.default_rng(ctx.seed)
        self.members = [self.possible_agents[w * s.population:(w + 1) * s.population] for w in range(s.agents)]
        self.mean: list[np.ndarray] = []
        self.err: list[float] = []  # each walker's last population mean error
        self.best: list[float] = []  # ... and its best since it (re)started
        self.scale: list[float] = []
        self.stalls: list[int] = []
        self._pool: list[tuple[float, np.ndarray]] = []  # (mean error, centre) of every population
        self._spawned: set[int] = set()  # pool entries already used as starts
        self._given_up: list[np.ndarray] = []  # where walks stalled
        mu = s.population // 2
        w = np.log(mu + 0.5) - np.log(np.arange(1, mu + 1))
        self._weights = w / w.sum()

    def _fresh_point(self) -> np.ndarray:
        """Fresh walks go where no one has looked."""
        cands = self._rng.uniform(-1.0, 1.0, (self.strategy.fresh_candidates * 4, self.core.dims))
        cands = [x for x in cands if not self.ctx.known(x)][: self.strategy.fresh_candidates] or [cands[0]]
        if not self.ctx.history:
            return cands[0]
        seen = np.array([x for x, _ in self.ctx.history])
        gaps = [np.min(np.linalg.norm(seen - x, axis=1)) for x in cands]
        return cands[int(np.argmax(gaps))]

    def _pooled_point(self, others: list[np.ndarray]) -> np.ndarray | None:
        s = self.strategy
        ranked = heapq.nlargest(s.pool_size, ((e, i) for i, (e, _) in enumerate(self._pool) if i not in self._spawned))
        for _, i in ranked:
            x = self._pool[i][1]
            if self.ctx.known(x) or any(np.linalg.norm(x - o) < s.pool_spacing for o in others + self._given_up):
                continue
            self._spawned.add(i)
            return x.copy()
        return None

    def _restart(self, w: int) -> None:
        others = [m for v, m in enumerate(self.mean) if v != w]
        x = self._pooled_point(others) if self._rng.random() < self.strategy.pool_share else None
        self.mean[w] = self._fresh_point() if x is None else x
        self.scale[w] = self.strategy.start_scale if x is None else self.strategy.pool_scale
        self.stalls[w], self.err[w], self.best[w] = 0, 0.0, 0.0

    def _walker_obs(self, w: int) -> dict:
        for a in self.members[w]:
            self.x[a] = self.mean[w]
        return {a: self._obs(a, self.err[w]) for a in self.members[w]}

    def reset(self, seed=None, options=None):
        """Walks continue across episodes (an episode is only PPO's rollout horizon); the first
        reset places every walker at a uniform point. Nothing is evaluated here."""
        if not self.mean:
            W = self.strategy.agents
            self.mean = [self._fresh_point() for _ in range(W)]
            self.err, self.best, self.stalls = [0.0] * W, [0.0] * W, [0] * W
            self.scale = [self.strategy.start_scale] * W
        self.agents = list(self.possible_agents)
        self.t = 0
        obs = {}
        for w in range(len(self.mean)):
            obs |= self._walker_obs(w)
        return obs, {a: {} for a in self.agents}

    def _miss(self, w: int) -> None:
        self.scale[w] = max(self.strategy.min_scale, self.scale[w] * self.strategy.shrink)
        self.stalls[w] += 1

    def step(self, actions):
        s = self.strategy
        live = [a for a in self.agents if a in actions]
        points = {a: self.core.move(self.mean[w], actions[a], self.scale[w])
                  for w, members in enumerate(self.members) for a in members if a in actions}
        walking = [a for a in live if not self.ctx.known(points[a])]  # offsets into claimed regions cost nothing
        self.t += 1
        qs = dict(zip(walking, self.core.query([points[a] for a in walking]))) if walking else {}  # one batch
        obs, rewards, infos = {}, {}, {}
        reward = self.core.shaping.reward
        for w, members in enumerate(self.members):
            mine = [a for a in members if a in actions]
            shaped = {a: reward(qs[a], points[a], self.core.registry) if a in qs else 0.0 for a in mine}
            base = float(np.mean(list(shaped.values()))) if shaped else 0.0
            for a in mine:
                rewards[a] = shaped[a] - base
                infos[a] = query_info(qs[a]) if a in qs else {"error": float("nan"), "failed": False, "graded": False,
                                                              "status": "claimed"}
            graded = sorted(((qs[a].error, a) for a in mine if a in qs and qs[a].graded), reverse=True)
            new = [a for e, a in graded if qs[a].failed and not self.ctx.known(points[a])]
            if new:
                grow_region(self.ctx, points[new[0]], s.growth, owner=f"walker_{w}")
                self._restart(w)  # move on: the region is everyone's now
            elif graded:
                e = float(np.mean([g for g, _ in graded]))
                top = [points[a] for _, a in graded[: len(self._weights)]]
                self.mean[w] = np.clip(np.average(top, axis=0, weights=self._weights[: len(top)]), -1.0, 1.0)
                self._pool.append((e, np.mean([points[a] for _, a in graded], axis=0)))
                if e > self.best[w]:  # progress: its best population since it (re)started
                    self.scale[w] = min(s.max_scale, self.scale[w] * s.expand)
                    self.stalls[w], self.best[w] = 0, e
                else:
                    self._miss(w)
                self.err[w] = e
            else:
                self._miss(w)
            if self.stalls[w] >= s.patience:
                self._given_up.append(self.mean[w].copy())  # no walker restarts here again
                self._restart(w)
            elif self.ctx.registry.containing(self.mean[w], s.claim_margin):
                self._restart(w)
            obs |= {a: o for a, o in self._walker_obs(w).items() if a in mine}
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
    expand, shrink, min_scale, max_scale = 1.5, 0.7, 0.05, 1.0  # a walker's step scale after a success / a miss
    start_scale = 1.5  # ... when it starts from a uniform point (its first population samples widely)
    fresh_candidates = 8
    population = 8  # members (PettingZoo agents) per walker: the points it evaluates per step
    claim_margin = 0.2  # a walker this close to a found region (normalized units) starts again
    patience = 4  # steps in a row without progress before a walker starts again
    pool_share = 0.5  # restarts taken from the shared pool of the best populations
    pool_size, pool_spacing, pool_scale = 64, 0.3, 0.4
    shaping = Shaping()
    n_steps = 32  # PPO rollout length per member
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
        members = self.agents * self.population
        model = PPO("MlpPolicy", vec, n_steps=self.n_steps, batch_size=max(2, self.n_steps * members // 2),
                    n_epochs=4, gamma=0.9, learning_rate=self.learning_rate, ent_coef=self.ent_coef, seed=ctx.seed,
                    policy_kwargs={"net_arch": [64, 64]}, device="cpu", verbose=0,
                    tensorboard_log=str(self.tensorboard) if self.tensorboard else None)
        try:
            model.learn(total_timesteps=10 * ctx.budget * members, tb_log_name="marl")
        finally:
            vec.close()
        raise BudgetExhausted  # learn() only returns once its step budget is spent
