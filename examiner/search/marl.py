"""``marl`` (ours): K cooperating agents choose the next queries of a level-set search, with one
policy shared by all of them - a neural acquisition function pretrained across a family of
failure landscapes (MetaBO, Volpp et al., ICLR 2020) and fine-tuned online with PPO
(stable-baselines3, on the PettingZoo ``AcquisitionEnv`` vectorized with SuperSuit).

The surrogate, the mode finding and the uniform share are ``lse``'s (``lse.py``,
``surrogate_modes.py``); what ``marl`` changes is who picks the points: instead of the straddle
score alone, each agent scores its own candidates from their features
(``acquisition_env.FEATURES``: surrogate mean and uncertainty, straddle, distances to known modes
and to earlier queries, the state of the search) with the shared ``CandidatePolicy``, and is
rewarded for failures no known mode explains and for every mode confirmed.

Variants (the ablation ``examiner benchmark`` prints): ``marl`` (the shipped pretrained policy,
fine-tuned online), ``marl-frozen`` (the pretrained policy, no updates), ``marl-untrained`` (the
same network, freshly initialized, fine-tuned online). ``--policy FILE`` (``examiner search``,
``examiner benchmark``) uses another pretrained policy (``examiner pretrain``).

**Learning adds nothing measurable, and ``lse`` is the default strategy** (``DEFAULT_STRATEGY``;
held-out realistic landscapes over ``scenes/search_all.yaml``, 600 queries;
``assets/policies/README.md``). On landscapes 100-109 (12 seeds, 120 searches each) recall is
0.615 pretrained and fine-tuned, 0.615 frozen, 0.603 untrained and 0.613 for ``lse`` (+0.011
against the untrained network, standard error 0.016). Over landscapes 100-109, 400-409 and
500-509 (28 seeds, 280 searches each) ``marl`` recalls 0.607 and ``lse`` 0.619 (paired -0.012,
standard error 0.009); on six 2-dim and six 3-dim boxes (``benchmarks/families.py``, landscapes
400-409, 6 seeds) ``marl`` is 0.050 (0.028) and 0.017 (0.024) behind; at 1500 queries the two are
level (landscapes 100-109 and 400-409, 8 seeds: ``marl`` 0.936, ``lse`` 0.923; paired +0.013,
standard error 0.012). On seeds 0-2 alone, which earlier measurements used, ``marl`` once looked 0.09
ahead of ``lse`` (0.62 against 0.53); on more seeds and landscapes it is not.
Where the agents' queries go does matter, but the reward does not point the way: a picker that
reads the planted landscape and picks inside the modes not yet found, the new failures the
reward pays most for, recalls 0.43 against a uniform choice's 0.53 (``marl_leverage.py``).
Pretrained without that reward (modes confirmed only), the policy did worse (0.55 against 0.60
on tuning landscapes 0-11, 24 searches, paired standard error 0.03); paid instead for each
planted mode its search newly matched (read off the training landscape, the true objective, as
MetaBO trains), no better (0.61).
Fine-tuning online over one search moves the weights by about 0.002 (some 300 gradient steps at
learning rate 1e-4), which changes few choices.
The same script run on today's code makes a policy no better at 600 queries (0.56) and worse at 1500
(0.81 frozen, 0.76 fine-tuned), so the shipped file is the one it made on the code before the mode
finder trimmed the scan's boxes: pretraining on 139 searches does not reliably make a better policy.
Pretraining (139 searches, 20,000 agent steps) barely raised the modes found per training search
(4.6 in the first ten, 4.9 in the last ten, on different landscapes each); three times as long
(60,000 steps: 4.7 to 5.2) gave the same recall on the tuning landscapes as the untrained network
(0.52 at 600 queries). Most of what every variant finds comes from the shared surrogate, scan and
confirmation, which the agents do not choose: ``benchmarks/marl_leverage.py`` runs this environment
with fixed picking rules in place of the policy (held-out landscapes, 600 queries, 30 searches each,
with the mode finder before it trimmed the scan's boxes). Every rule recalls 0.49-0.55 (a uniform
choice among the candidates 0.55, the straddle score 0.50); the shipped policy, frozen, 0.54, 0.01
behind the uniform choice (standard error 0.03; the previous file and mode finder had it 0.05
ahead). About half of a search's queries confirm proposals and a quarter are uniform; the agents
pick the last quarter, and what picks it moves recall by a few hundredths.
The environment, the policy and the pretraining are the real thing, and a policy that is to
matter more must choose what the agents do not choose today: which boxes are proposed
as modes (a missed 2-dim mode had as many failing queries inside it as a found one, and
skipping every proposal that would fail, read off the planted landscape, left ``lse``'s recall
on the tuning landscapes as it was)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from examiner.search.acquisition_env import FEATURES, AcquisitionConfig, AcquisitionEnv
from examiner.search.budget import BudgetExhausted
from examiner.search.context import SearchContext
from examiner.search.strategy import Strategy

#: the policy ``examiner pretrain`` made (``assets/policies/make_marl.sh``)
POLICY_FILE = Path(__file__).resolve().parents[2] / "assets" / "policies" / "marl.zip"
VARIANTS = {"marl": ("pretrained", True), "marl-frozen": ("pretrained", False), "marl-untrained": ("untrained", True)}


def uses_policy(strategy: str) -> bool:
    """Whether ``strategy`` starts from a pretrained policy file (``--policy``)."""
    return VARIANTS.get(strategy, ("untrained",))[0] == "pretrained"


def check_policy(strategies, policy: str | Path) -> None:
    """Refuses a ``--policy`` that none of ``strategies`` reads, or a file that is not there."""
    from synthgen.errors import ParamError

    if not any(uses_policy(s) for s in strategies):
        readers = " and ".join(v for v in VARIANTS if uses_policy(v))
        raise ParamError("--policy", f"only {readers} use a policy, not {', '.join(strategies)}")
    if not Path(policy).is_file():
        raise ParamError("--policy", f"no such file: {policy} (make it with examiner pretrain)")


def ppo_settings(n_agents: int, online: bool) -> dict:
    """PPO's settings: short rollouts and a small step size online (a search has few steps),
    longer ones in pretraining."""
    if online:
        return {"n_steps": 8, "batch_size": 8 * n_agents, "n_epochs": 4, "learning_rate": 1e-4, "gamma": 0.95,
                "ent_coef": 0.01}
    return {"n_steps": 64, "batch_size": 64 * n_agents // 2, "n_epochs": 4, "learning_rate": 3e-4, "gamma": 0.95,
            "ent_coef": 0.01}


def vector_env(env: AcquisitionEnv):
    """The PettingZoo env as an SB3 VecEnv, one slot per agent, without copying the env (the
    agents must share its context, budget and registry)."""
    import supersuit as ss
    from supersuit.vector.sb3_vector_wrapper import SB3VecEnvWrapper

    class VecEnv(SB3VecEnvWrapper):
        def seed(self, seed=None):  # the env draws from the context's seeded generator
            return [seed] * self.num_envs

    return VecEnv(ss.pettingzoo_env_to_vec_env_v1(env))


def new_model(vec, n_agents: int, seed: int, online: bool, config: AcquisitionConfig, tensorboard=None):
    from stable_baselines3 import PPO

    from examiner.search.candidate_policy import CandidatePolicy

    model = PPO(CandidatePolicy, vec, seed=seed, device="cpu", verbose=0,
                policy_kwargs={"candidates": config.candidates, "features": len(FEATURES)},
                tensorboard_log=str(tensorboard) if tensorboard else None, **ppo_settings(n_agents, online))
    return quiet(model, tensorboard)


def quiet(model, tensorboard=None):
    """Without a TensorBoard folder, PPO logs nowhere (left alone, every ``learn`` makes an empty
    ``SB3-<date>`` folder in the system's temporary directory)."""
    if not tensorboard:
        from stable_baselines3.common.logger import Logger

        model.set_logger(Logger(folder=None, output_formats=[]))
    return model


class MarlSearch(Strategy):
    name = "marl"

    def __init__(self, agents: int = 4, growth=None, variant: str = "marl", policy: str | Path | None = None,
                 config: AcquisitionConfig = AcquisitionConfig(), tensorboard: str | Path | None = None):
        super().__init__(agents, growth)
        from synthgen.errors import ParamError

        if variant not in VARIANTS:
            raise ParamError("--strategy", f"{variant!r} is not one of {', '.join(VARIANTS)}")
        self.name = variant
        self.start, self.online = VARIANTS[variant]
        self.policy = Path(policy) if policy else POLICY_FILE
        if self.start == "pretrained":
            check_policy((variant,), self.policy)
        self.config = config
        self.tensorboard = tensorboard

    def load(self, vec, seed: int):
        if self.start == "untrained":
            return new_model(vec, self.agents, seed, True, self.config, self.tensorboard)
        from stable_baselines3 import PPO

        model = PPO.load(self.policy, env=vec, device="cpu", custom_objects=ppo_settings(self.agents, True) | {"seed": seed})
        model.set_random_seed(seed)
        model.tensorboard_log = str(self.tensorboard) if self.tensorboard else None
        return quiet(model, self.tensorboard)

    def run(self, ctx: SearchContext) -> None:
        import torch

        from synthgen.workers import one_torch_thread

        env = AcquisitionEnv(lambda: ctx, self.agents, self.config, owner=self.name)
        vec = vector_env(env)
        with torch.random.fork_rng(), one_torch_thread():
            torch.manual_seed(ctx.seed)
            model = self.load(vec, ctx.seed)
            try:
                if self.online:
                    model.learn(total_timesteps=10 * ctx.budget * self.agents, tb_log_name=self.name)
                else:
                    obs = vec.reset()
                    while True:
                        actions, _ = model.predict(obs, deterministic=False)
                        obs, *_ = vec.step(np.asarray(actions))
            finally:
                vec.close()
        raise BudgetExhausted  # learn() only returns once its step budget is spent
