"""Your own model in ``examiner finetune``: the adapter contract, and its loader.

A trainable model is a model under test (``predict(images, infos=None) -> Prediction``) with

- ``train_step(images, keypoints, visibility) -> float`` (required): one optimiser step on a
  batch as ``predict`` sees it: ``images`` (B, H, W, 3) uint8 RGB, ``keypoints`` (B, 17, 2)
  pixels of those images (COCO-17 order), ``visibility`` (B, 17) COCO flags (0: not labelled,
  do not supervise). Returns the loss. Augmentation, if any, is the model's own business.
- ``configure_finetune(settings: FinetuneSettings)`` (optional): called once before the first
  step; it sets the optimiser and schedule (``lr``, ``steps``, ``warmup``), the seed, and
  what it supports of ``encoder_lr_scale``, ``anchor_weight`` and ``freeze_norm_stats``. Without it only the default
  settings may be asked for (the model's ``train_step`` keeps its own optimiser).
- ``state_dict()`` / ``load_state_dict(state)`` (optional; what torch modules have): needed
  for early stopping, which goes back to the best validated step, and for weight
  interpolation, which blends the starting and the fine-tuned weights.
- ``save(path) -> Path`` (optional): the fine-tuned model is written as ``finetuned.pt``.
- ``trained_on`` (optional): what the model was trained on, as a list of
  ``synthgen.dataset.identity.SampleRange.to_dict()``; held-out sets are checked against it.

``examiner.models.load_trainable``: ``torch:PATH`` loads the project's baseline, which
implements all of it; ``python:module:name`` loads yours: ``name`` is such an object, or a
factory (a class or a function taking no arguments) that returns one."""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from synthgen.dataset.identity import SampleRange
from synthgen.errors import ParamError


@dataclass(frozen=True)
class FinetuneSettings:
    """How a model is fine-tuned (the argument of ``configure_finetune``)."""

    lr: float = 5e-4  # peak learning rate (linear warm-up, then cosine decay)
    steps: int = 2000  # optimiser steps
    warmup: int = 20  # warm-up steps (at most a fifth of the steps)
    seed: int = 0  # batch order, augmentation
    encoder_lr_scale: float = 1.0  # the encoder's learning rate is lr times this (decoder and head: lr)
    anchor_weight: float = 0.0  # L2-SP: adds anchor_weight / 2 * sum (w - w_start)^2 to the loss
    freeze_norm_stats: bool = False  # normalization statistics (batch norm) stay the starting model's

    def check(self) -> "FinetuneSettings":
        for name, value, low in (("--steps", self.steps, 1), ("--seed", self.seed, 0)):
            if value < low:
                raise ParamError(name, f"must be at least {low}, got {value}")
        if not self.lr > 0:
            raise ParamError("--lr", f"must be positive, got {self.lr}")
        if not 0.0 <= self.encoder_lr_scale <= 1.0:
            raise ParamError("--encoder-lr-scale", f"expected a factor in [0, 1], got {self.encoder_lr_scale}")
        if not self.anchor_weight >= 0:
            raise ParamError("--anchor-weight", f"must be at least 0, got {self.anchor_weight}")
        if self.warmup < 0:
            raise ParamError("--warmup", f"must be at least 0, got {self.warmup}")
        return self

    @property
    def warmup_steps(self) -> int:
        return min(self.warmup, self.steps // 5)

    def to_dict(self) -> dict:
        return asdict(self)


#: the option that sets each setting, for errors about a model that cannot honour it
OPTION = {"lr": "--lr", "steps": "--steps", "warmup": "--warmup", "seed": "--seed",
          "encoder_lr_scale": "--encoder-lr-scale", "anchor_weight": "--anchor-weight",
          "freeze_norm_stats": "--freeze-norm-stats"}


def is_trainable(obj) -> bool:
    """``obj`` has callable ``predict`` and ``train_step``."""
    return callable(getattr(obj, "predict", None)) and callable(getattr(obj, "train_step", None))


def configure(model, settings: FinetuneSettings) -> None:
    """Call the model's ``configure_finetune``; without one, refuse settings it cannot honour."""
    hook = getattr(model, "configure_finetune", None)
    if callable(hook):
        hook(settings)
        return
    default = FinetuneSettings(steps=settings.steps, seed=settings.seed)
    for f in fields(FinetuneSettings):
        if getattr(settings, f.name) != getattr(default, f.name):
            raise ParamError(OPTION[f.name], f"{model.name} has no configure_finetune(settings): its train_step "
                                             "keeps its own optimiser; leave this option at its default")


def snapshot(model, option: str = "--early-stop") -> dict:
    """A copy of the model's weights (for early stopping and weight interpolation, ``option``)."""
    if not callable(getattr(model, "state_dict", None)) or not callable(getattr(model, "load_state_dict", None)):
        raise ParamError(option, f"{model.name} has no state_dict / load_state_dict to go back to its starting "
                                 "or best validated weights")
    return copy.deepcopy(model.state_dict())


def restore(model, state: dict) -> None:
    model.load_state_dict(state)


def interpolate(start: dict, end: dict, alpha: float) -> dict:
    """Weights ``alpha`` of the way from ``start`` to ``end`` (WiSE-FT, Wortsman et al., CVPR
    2022): every floating-point entry (torch tensor or numpy array, batch-norm statistics
    included) linearly, anything else (step counters) as ``end`` has it."""
    out = {}
    for key, b in end.items():
        a = start[key]
        out[key] = a + alpha * (b - a) if _floating(b) else copy.deepcopy(b)
    return out


def _floating(x) -> bool:
    """A torch tensor, numpy array or Python number of floating-point type."""
    if callable(getattr(x, "is_floating_point", None)):  # torch, without importing it for numpy-only models
        return bool(x.is_floating_point())
    return isinstance(x, float) or np.issubdtype(getattr(x, "dtype", np.dtype(object)), np.floating)


def trained_ranges(model) -> list[SampleRange] | None:
    """Every sample range the model was trained on, or None when it does not say. The
    baseline's checkpoint records them (``trained_on``); an older checkpoint names its training
    folders (their manifests give the ranges) or, failing that, its scene and data seed."""
    explicit = getattr(model, "trained_on", None)
    summary = getattr(model, "summary", None)
    if explicit is None and isinstance(summary, dict):
        explicit = summary.get("trained_on")
    if explicit is not None:
        return [SampleRange.from_dict(d) for d in explicit]
    if not isinstance(summary, dict):
        return None
    train = summary.get("train") or {}
    ranges = [SampleRange.of_folder(f, "the baseline's training set " + str(f)) for f in train.get("datasets", [])]
    if ranges and all(r is not None for r in ranges):
        return ranges
    scene, seed = summary.get("scene"), train.get("seed_data")
    if scene and seed is not None and Path(scene).is_file():
        return [SampleRange.planned(scene, seed, None, f"the baseline's training set ({scene}, seed {seed})")]
    return None


def record_training(model, ranges: list[SampleRange]) -> None:
    """Store what the model has now been trained on (in its summary, or as ``trained_on``)."""
    data = [r.to_dict() for r in ranges]
    summary = getattr(model, "summary", None)
    if isinstance(summary, dict):
        summary["trained_on"] = data
    else:
        try:
            model.trained_on = data
        except AttributeError:
            pass
