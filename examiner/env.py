"""Environments in which agents search for failures: a Gymnasium ``Env`` (one agent) and a
PettingZoo ``ParallelEnv`` (K agents sharing one evaluator, batched across agents per step, and
one registry of found failure regions).

Observation (float32, in [-1, 1]): the agent's current point in the normalized searched space,
the last error (in [0, 1]), its region state (inside an already-found region, distance to the
nearest one, share of regions found so far) and, for the multi-agent env, a one-hot agent id
(parameter sharing needs to tell agents apart). Action: a step in the normalized space,
``step_size`` times a vector in [-1, 1]^D. Reward: the error, lowered inside regions that are
already claimed and raised for failures far from known ones (``Shaping``)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo.utils.env import ParallelEnv

from examiner.evaluate import Evaluator, Query
from examiner.search.regions import RegionRegistry

REGION_STATE = 3


@dataclass(frozen=True)
class Shaping:
    claimed_penalty: float = 0.7  # reward inside an already-found region is scaled by (1 - this)
    novelty_bonus: float = 0.5  # added for a failure ...
    novelty_scale: float = 0.5  # ... in full once it is this far (normalized units) from known regions

    def reward(self, q: Query, x: np.ndarray, registry: RegionRegistry) -> float:
        if not q.graded:
            return 0.0
        r = float(q.error)
        if registry.containing(x) is not None:
            return r * (1.0 - self.claimed_penalty)
        if q.failed:
            d = registry.nearest_distance(x)
            r += self.novelty_bonus * (1.0 if not np.isfinite(d) else min(1.0, d / self.novelty_scale))
        return r


def query_info(q: Query) -> dict:
    """What an agent's info dict says of its query (the queries themselves are in ``history``)."""
    return {"error": q.error, "failed": q.failed, "graded": q.graded, "status": q.status}


def region_state(x: np.ndarray, registry: RegionRegistry, dims: int) -> np.ndarray:
    inside = registry.containing(x) is not None
    d = registry.nearest_distance(x)
    d = 1.0 if not np.isfinite(d) else min(1.0, d / (2.0 * np.sqrt(dims)))
    n = len(registry)
    return np.array([1.0 if inside else 0.0, d, n / (n + 1.0)], dtype=np.float32)


class _Core:
    """What both environments share: points, steps, evaluation, rewards."""

    def __init__(self, evaluator: Evaluator, registry: RegionRegistry | None, step_size: float, max_steps: int,
                 shaping: Shaping):
        self.evaluator = evaluator
        self.registry = registry if registry is not None else RegionRegistry()
        self.dims = len(evaluator.space)
        self.step_size = step_size
        self.max_steps = max_steps
        self.shaping = shaping
        #: every query this environment made, in order (the search reads them)
        self.history: list[tuple[np.ndarray, Query]] = []

    def move(self, x: np.ndarray, action: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """x moved by the action (clipped to [-1, 1] per dim) times ``step_size * scale``."""
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(self.dims), -1.0, 1.0)
        return np.clip(x + self.step_size * scale * a, -1.0, 1.0)

    def query(self, points: list[np.ndarray]) -> list[Query]:
        qs = self.evaluator.evaluate_vectors(np.stack(points))
        self.history += list(zip(points, qs))
        return qs

    def observe(self, x: np.ndarray, error: float, extra: np.ndarray | None = None) -> np.ndarray:
        e = 0.0 if not np.isfinite(error) else float(error)
        parts = [x.astype(np.float32), np.array([2.0 * e - 1.0], dtype=np.float32),
                 2.0 * region_state(x, self.registry, self.dims) - 1.0]
        if extra is not None:
            parts.append(extra.astype(np.float32))
        return np.concatenate(parts)


class ExaminerEnv(gymnasium.Env):
    """One agent walking the searched space. ``reset(options={"start": x})`` starts at a given
    normalized point; otherwise at a uniformly random one."""

    metadata = {"render_modes": []}

    def __init__(self, evaluator: Evaluator, registry: RegionRegistry | None = None, step_size: float = 0.2,
                 max_steps: int = 32, shaping: Shaping = Shaping()):
        self.core = _Core(evaluator, registry, step_size, max_steps, shaping)
        D = self.core.dims
        self.observation_space = spaces.Box(-1.0, 1.0, (D + 1 + REGION_STATE,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (D,), np.float32)
        self.x = np.zeros(D)
        self.t = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        start = (options or {}).get("start")
        self.x = (np.clip(np.asarray(start, dtype=np.float64), -1, 1) if start is not None
                  else self.np_random.uniform(-1.0, 1.0, self.core.dims))
        self.t = 0
        q = self.core.query([self.x])[0]
        return self.core.observe(self.x, q.error), query_info(q)

    def step(self, action):
        self.x = self.core.move(self.x, action)
        self.t += 1
        q = self.core.query([self.x])[0]
        reward = self.core.shaping.reward(q, self.x, self.core.registry)
        return self.core.observe(self.x, q.error), reward, False, self.t >= self.core.max_steps, query_info(q)


class ExaminerParallelEnv(ParallelEnv):
    """K cooperating agents (a PettingZoo ``ParallelEnv``): one evaluator call per step for all
    agents, one shared region registry."""

    metadata = {"name": "examiner_parallel_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self, evaluator: Evaluator, n_agents: int = 4, registry: RegionRegistry | None = None,
                 step_size: float = 0.2, max_steps: int = 32, shaping: Shaping = Shaping()):
        if n_agents < 1:
            from synthgen.errors import ParamError

            raise ParamError("--agents", f"needs at least 1 agent, got {n_agents}")
        self.core = _Core(evaluator, registry, step_size, max_steps, shaping)
        self.possible_agents = [f"agent_{i}" for i in range(n_agents)]
        self.agents: list[str] = []
        self.render_mode = None
        self._ids = {a: np.eye(n_agents, dtype=np.float32)[i] * 2.0 - 1.0 for i, a in enumerate(self.possible_agents)}
        self.x: dict[str, np.ndarray] = {}
        self.t = 0
        self._rng = np.random.default_rng()

    @functools.lru_cache(maxsize=None)
    def observation_space(self, agent: str) -> spaces.Box:
        D = self.core.dims
        return spaces.Box(-1.0, 1.0, (D + 1 + REGION_STATE + len(self.possible_agents),), np.float32)

    @functools.lru_cache(maxsize=None)
    def action_space(self, agent: str) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, (self.core.dims,), np.float32)

    def _obs(self, agent: str, error: float) -> np.ndarray:
        return self.core.observe(self.x[agent], error, self._ids[agent])

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self.agents = list(self.possible_agents)
        starts = (options or {}).get("starts")
        for i, a in enumerate(self.agents):
            self.x[a] = (np.clip(np.asarray(starts[i], dtype=np.float64), -1, 1) if starts is not None
                         else self._rng.uniform(-1.0, 1.0, self.core.dims))
        self.t = 0
        qs = self.core.query([self.x[a] for a in self.agents])
        return ({a: self._obs(a, q.error) for a, q in zip(self.agents, qs)},
                {a: query_info(q) for a, q in zip(self.agents, qs)})

    def step(self, actions: dict):
        live = [a for a in self.agents if a in actions]
        for a in live:
            self.x[a] = self.core.move(self.x[a], actions[a])
        self.t += 1
        qs = self.core.query([self.x[a] for a in live])
        done = self.t >= self.core.max_steps
        obs = {a: self._obs(a, q.error) for a, q in zip(live, qs)}
        rewards = {a: self.core.shaping.reward(q, self.x[a], self.core.registry) for a, q in zip(live, qs)}
        infos = {a: query_info(q) for a, q in zip(live, qs)}
        terminations = {a: False for a in live}
        truncations = {a: done for a in live}
        if done:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def render(self):
        return None

    def close(self):
        pass

    def state(self) -> np.ndarray:
        return np.concatenate([self.x[a] for a in self.possible_agents]).astype(np.float32)
