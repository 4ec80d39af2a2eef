"""The policy ``marl``'s agents share: a neural acquisition function in the manner of MetaBO
(Volpp et al., ICLR 2020). It scores each of an agent's ``M`` candidate points from that point's
features alone, with one small network applied to every candidate (shared weights), and picks
by a softmax over the scores; the value is read from the candidates' pooled embeddings.

Nothing in it depends on the number or names of the searched dims: a candidate's features
(``acquisition_env.FEATURES``) are surrogate outputs, distances scaled by the space's diameter
and the state of the search. So one policy, trained across a family of landscapes over one
space (``examiner pretrain``), serves every search space.

It plugs into stable-baselines3's ``ActorCriticPolicy``: the features extractor is the
identity, the "MLP extractor" is the per-candidate network (its actor output is the M scores,
which are the action logits as they are; its critic output the pooled embedding), and the
action net is the identity."""

from __future__ import annotations

import torch
from stable_baselines3.common.policies import ActorCriticPolicy
from torch import nn


class CandidateScorer(nn.Module):
    """(batch, M * F) observations -> actor logits (batch, M) and critic latent (batch, H)."""

    def __init__(self, candidates: int, features: int, hidden: int = 32):
        super().__init__()
        self.candidates, self.features = candidates, features
        self.embed = nn.Sequential(nn.Linear(features, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh())
        self.score = nn.Linear(hidden, 1)
        self.latent_dim_pi = candidates
        self.latent_dim_vf = hidden

    def _embed(self, obs: torch.Tensor) -> torch.Tensor:
        return self.embed(obs.reshape(obs.shape[0], self.candidates, self.features))

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self._embed(obs)
        return self.score(h).squeeze(-1), h.mean(1)

    def forward_actor(self, obs: torch.Tensor) -> torch.Tensor:
        return self.score(self._embed(obs)).squeeze(-1)

    def forward_critic(self, obs: torch.Tensor) -> torch.Tensor:
        return self._embed(obs).mean(1)


class CandidatePolicy(ActorCriticPolicy):
    """``policy_kwargs``: ``candidates`` (M), ``features`` (F), ``hidden``."""

    def __init__(self, *args, candidates: int, features: int, hidden: int = 32, **kwargs):
        self.candidates, self.features, self.hidden = candidates, features, hidden
        super().__init__(*args, **kwargs)

    def _build_mlp_extractor(self) -> None:
        self.mlp_extractor = CandidateScorer(self.candidates, self.features, self.hidden)

    def _build(self, lr_schedule) -> None:
        super()._build(lr_schedule)
        self.action_net = nn.Identity()  # the scores are the logits, whatever the candidates' order
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict:
        return super()._get_constructor_parameters() | {"candidates": self.candidates, "features": self.features,
                                                        "hidden": self.hidden}
