"""The project's own trainable 2D pose baseline: a small heatmap network in plain torch.

Architecture: a compact ResNet encoder (basic blocks, strides 2 .. 32) and a top-down feature
pyramid decoder back to 1/4 of the input, ending in 17 COCO keypoint heatmaps. The input is the
whole image, letterboxed (aspect kept, black bars) to a square of ``input_size`` pixels and
normalised with ``mean`` / ``std`` (on the [0, 1] scale). Heatmaps are decoded with argmax plus a
sub-pixel log-parabola fit and mapped back to the original image's pixels (pixel centres at
integers, as synthgen's ground truth); a keypoint's score is its heatmap peak clipped to
[0, 1], and a person is ``detected`` unless every score is below ``detect_threshold``.

Training (``train``) reads synthgen dataset folders (``coco.json`` + images) through
``KeypointDataset``, which augments on the fly (scale / rotation / translation / horizontal flip
with left-right swap, colour jitter, noise), regresses Gaussian heatmaps with a visibility
weighted MSE (keypoints outside the image, v = 0, are not supervised) under AdamW and a cosine
schedule. ``TorchBaseline.train_step`` is the small adapter contract a fine-tuning step
reuses: raw images and pixel keypoints in, one optimiser step, the loss out.

Checkpoints are one ``torch.save`` file holding only plain containers and tensors (architecture
config, state_dict, training summary), so they load with ``torch.load(weights_only=True)``."""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from examiner.dataset_eval import evaluate_pck  # noqa: F401 (train-baseline's report)
from examiner.models.base import N_KEYPOINTS, ModelUnderTest, Prediction
from examiner.models.keypoint_geometry import (
    Letterbox, decode_heatmaps, gaussian_targets, heatmap_loss, heatmap_to_input, letterbox, visibility_weights,
)
from examiner.models.training_data import (
    AugmentConfig, KeypointDataset, colour_jitter, flip_labels, sample_augmentation, warp,
)
from synthgen.dataset.identity import SampleRange
from synthgen.errors import ModelFileError, ParamError

CHECKPOINT_KIND = "pose-examiner-baseline"
CHECKPOINT_VERSION = 1
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# --- architecture ---------------------------------------------------------------------------------
@dataclass
class BaselineConfig:
    """Everything needed to rebuild the network and its pre/post-processing."""

    input_size: int = 128  # square network input (a multiple of 32)
    widths: tuple[int, ...] = (16, 32, 48, 96, 128)  # stem, then the 1/4 .. 1/32 stages
    blocks: tuple[int, ...] = (1, 2, 2, 2)  # basic blocks per stage (1/4 .. 1/32)
    decoder: int = 48  # feature-pyramid channels
    sigma: float = 1.5  # Gaussian target width, in heatmap pixels
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    detect_threshold: float = 0.1

    @property
    def stride(self) -> int:
        return 4

    @property
    def heatmap_size(self) -> int:
        return self.input_size // self.stride

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict) -> "BaselineConfig":
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)}")
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**kw).validate()

    def validate(self) -> "BaselineConfig":
        if self.input_size < 32 or self.input_size % 32:
            raise ParamError("input_size", f"must be a positive multiple of 32, got {self.input_size}")
        if len(self.widths) != 5 or len(self.blocks) != 4 or min(self.widths) < 1 or min(self.blocks) < 1:
            raise ParamError("widths", "need 5 widths (stem + 4 stages) and 4 block counts, all positive")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ParamError("std", "mean and std need 3 values, std positive")
        return self


class _Block(nn.Module):
    """ResNet basic block."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.short is None else self.short(x)))


def _conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class HeatmapNet(nn.Module):
    """Normalised image (B, 3, S, S) -> 17 heatmaps (B, 17, S/4, S/4)."""

    def __init__(self, cfg: BaselineConfig):
        super().__init__()
        w, d = cfg.widths, cfg.decoder
        self.stem = _conv_bn_relu(3, w[0], 2)
        stages = []
        for i in range(4):
            layers = [_Block(w[i], w[i + 1], 2)] + [_Block(w[i + 1], w[i + 1], 1) for _ in range(cfg.blocks[i] - 1)]
            stages.append(nn.Sequential(*layers))
        self.stages = nn.ModuleList(stages)
        self.lateral = nn.ModuleList(nn.Conv2d(w[i + 1], d, 1) for i in range(4))
        self.smooth = nn.ModuleList(_conv_bn_relu(d, d) for _ in range(3))
        self.head = nn.Sequential(_conv_bn_relu(d, d), nn.Conv2d(d, N_KEYPOINTS, 1))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        nn.init.normal_(self.head[-1].weight, std=0.001)

    def forward(self, x):
        feats = []
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        p = self.lateral[3](feats[3])
        for i in (2, 1, 0):
            p = F.interpolate(p, scale_factor=2.0, mode="nearest") + self.lateral[i](feats[i])
            p = self.smooth[i](p)
        return self.head(p)


# --- the model under test -------------------------------------------------------------------------
class TorchBaseline(ModelUnderTest):
    """The heatmap baseline as a model under test (CPU, eval mode for ``predict``)."""

    has_3d = False
    needs_image = True

    def __init__(self, config: BaselineConfig | None = None, summary: dict | None = None, name: str = "torch:baseline"):
        self.config = (config or BaselineConfig()).validate()
        self.net = HeatmapNet(self.config)
        self.net.eval()
        self.summary = summary or {}
        self.name = name
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler = None
        self.anchor: tuple[float, dict[str, torch.Tensor]] | None = None  # (weight, start) of L2-SP
        self.train_augment: AugmentConfig | None = None  # train_step's default augmentation
        self.freeze_norm = False  # batch-norm running statistics are not updated by training steps
        self.train_rng: np.random.Generator | None = None

    # -- persistence --
    @classmethod
    def load(cls, path: str | Path) -> "TorchBaseline":
        path = Path(path)
        if not path.is_file():
            raise ModelFileError(f"{path}: no such baseline checkpoint (train one with `examiner train-baseline`)")
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # pickle / zip errors of a truncated or foreign file
            raise ModelFileError(f"{path}: not a readable baseline checkpoint ({type(e).__name__}: {e})") from None
        if not isinstance(ckpt, dict) or ckpt.get("kind") != CHECKPOINT_KIND:
            raise ModelFileError(f"{path}: not a pose-examiner baseline checkpoint (kind != {CHECKPOINT_KIND!r})")
        try:
            model = cls(BaselineConfig.from_dict(ckpt["config"]), ckpt.get("summary") or {}, name=f"torch:{path}")
            model.net.load_state_dict(ckpt["state_dict"])
        except Exception as e:
            raise ModelFileError(f"{path}: baseline checkpoint does not fit the network "
                                 f"({type(e).__name__}: {e})") from None
        model.net.eval()
        return model

    def save(self, path: str | Path) -> Path:
        """Write the checkpoint atomically (temporary name, then rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        ckpt = {"kind": CHECKPOINT_KIND, "version": CHECKPOINT_VERSION, "config": self.config.to_dict(),
                "input_size": self.config.input_size,
                "state_dict": {k: v.detach().clone() for k, v in self.net.state_dict().items()},
                "summary": _plain(self.summary)}
        tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
        try:
            torch.save(ckpt, tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    def n_params(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    # -- inference --
    def normalise(self, pixels: np.ndarray | torch.Tensor) -> torch.Tensor:
        """(B, H, W, 3) pixel values in [0, 255] -> normalised (B, 3, H, W) network input."""
        x = torch.as_tensor(np.asarray(pixels, dtype=np.float32)).permute(0, 3, 1, 2) / 255.0
        return self._norm01(x)

    def _norm01(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(self.config.mean, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(self.config.std, dtype=torch.float32).view(1, 3, 1, 1)
        return (x - mean) / std

    @torch.no_grad()
    def heatmaps(self, images: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        """Raw heatmaps (B, 17, S/4, S/4) of uint8 images (B, H, W, 3) and their letterbox map."""
        s = self.config.input_size
        pixels, lb = letterbox(images, s, s)
        self.net.eval()
        return self.net(self.normalise(pixels)).numpy(), lb

    def predict(self, images, infos=None, batch_size: int = 64) -> Prediction:
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ParamError("images", f"expected (B, H, W, 3) RGB, got shape {images.shape}")
        parts = []
        for i in range(0, len(images), batch_size):
            hm, lb = self.heatmaps(images[i:i + batch_size])
            parts.append(decode_prediction(hm, lb, self.config.input_size, self.config.input_size,
                                           self.config.detect_threshold))
        if not parts:
            return Prediction.missed(0)
        return Prediction.concat(parts)

    # -- training --
    def configure_training(self, lr: float = 1e-4, weight_decay: float = 1e-4, steps: int | None = None,
                           warmup: int = 0, encoder_lr_scale: float = 1.0) -> None:
        """A fresh AdamW optimiser (and, with ``steps``, a linear warm-up + cosine schedule); the
        encoder (stem and stages) learns at ``encoder_lr_scale`` times ``lr``."""
        groups = []
        for encoder in (True, False):
            named = [(n, p) for n, p in self.net.named_parameters() if n.startswith(("stem.", "stages.")) == encoder]
            scale = encoder_lr_scale if encoder else 1.0
            groups += [{"params": [p for _, p in named if p.ndim > 1], "weight_decay": weight_decay, "lr": lr * scale},
                       {"params": [p for _, p in named if p.ndim <= 1], "weight_decay": 0.0, "lr": lr * scale}]
        self.optimizer = torch.optim.AdamW(groups, lr=lr)
        self.scheduler = None
        if steps:
            def factor(step: int) -> float:
                if step < warmup:
                    return (step + 1) / warmup
                t = min(1.0, (step - warmup) / max(1, steps - warmup))
                return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t))

            self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, factor)

    def configure_finetune(self, settings) -> None:
        """The fine-tuning hook (examiner/models/trainable.py): optimiser and schedule, encoder
        learning rate, L2-SP towards the current weights, frozen batch-norm statistics, and
        ``train``'s augmentation, seeded."""
        self.configure_training(settings.lr, steps=settings.steps, warmup=settings.warmup_steps,
                                encoder_lr_scale=settings.encoder_lr_scale)
        self.anchor = None
        if settings.anchor_weight > 0:
            self.anchor = (settings.anchor_weight, {n: p.detach().clone() for n, p in self.net.named_parameters()})
        self.train_augment, self.train_rng = AugmentConfig(), np.random.default_rng(settings.seed)
        self.freeze_norm = settings.freeze_norm_stats
        torch.manual_seed(settings.seed)

    def state_dict(self) -> dict:
        return self.net.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state)

    def step_tensors(self, x01: torch.Tensor, keypoints: torch.Tensor, visibility: torch.Tensor) -> float:
        """One optimiser step on images (B, 3, S, S) in [0, 1] with keypoints in input pixels."""
        if self.optimizer is None:
            self.configure_training()
        self.net.train()
        for m in self.net.modules() if self.freeze_norm else ():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()  # normalizes with, and keeps, the starting model's statistics
        target, w = gaussian_targets(keypoints.float(), visibility_weights(visibility), self.config.input_size,
                                     self.config.stride, self.config.sigma)
        loss = heatmap_loss(self.net(self._norm01(x01)), target, w)
        if self.anchor is not None:
            weight, start = self.anchor
            loss = loss + 0.5 * weight * sum(((p - start[n]) ** 2).sum() for n, p in self.net.named_parameters())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        self.net.eval()
        return float(loss.detach())

    def train_step(self, images, keypoints, visibility, rng: np.random.Generator | None = None,
                   augment: AugmentConfig | None = None) -> float:
        """One training step on a batch as ``predict`` sees it: ``images`` (B, H, W, 3) uint8,
        ``keypoints`` (B, 17, 2) pixels of those images, ``visibility`` (B, 17) (0 = unsupervised).
        With ``augment`` (and ``rng``) the batch is augmented like ``train``'s; so it is by default
        after ``configure_finetune``. Returns the loss. The optimiser is made on first use (AdamW,
        lr 1e-4) unless ``configure_training`` or ``configure_finetune`` ran."""
        augment = augment if augment is not None else self.train_augment
        rng = rng if rng is not None else self.train_rng
        s = self.config.input_size
        pixels, lb = letterbox(images, s, s)
        x = torch.from_numpy(pixels).permute(0, 3, 1, 2) / 255.0
        kp = torch.as_tensor(lb.to_input(np.asarray(keypoints, dtype=np.float64)), dtype=torch.float32)
        vis = torch.as_tensor(np.asarray(visibility)).long()
        if augment is not None:
            rng = rng if rng is not None else np.random.default_rng()
            mats, flips = sample_augmentation(len(x), s, augment, rng)
            x, kp = warp(x, kp, mats, flips)
            vis = flip_labels(vis, flips)
            x = colour_jitter(x, rng, augment)
        return self.step_tensors(x, kp, vis)


def decode_prediction(heatmaps: np.ndarray, lb: Letterbox, in_h: int, in_w: int, detect_threshold: float) -> Prediction:
    """Prediction (original image pixels) of heatmaps (B, 17, h, w) over a letterboxed input."""
    xy, peak = decode_heatmaps(heatmaps)
    xy_in = heatmap_to_input(xy, in_h, in_w, heatmaps.shape[2], heatmaps.shape[3])
    scores = np.clip(peak, 0.0, 1.0)
    return Prediction(lb.to_image(xy_in), scores, scores.max(axis=1) >= detect_threshold)


def _plain(value):
    """``value`` as plain containers (for weights_only checkpoints)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


# --- training and evaluation ----------------------------------------------------------------------
def train(model: TorchBaseline, datasets: list[Path] | KeypointDataset, steps: int = 1500, batch_size: int = 32,
          lr: float = 2e-3, seed: int = 0, log: Callable[[str], None] | None = print, log_every: int = 50,
          weight_decay: float = 1e-4, warmup: int = 50, augment: AugmentConfig | None = None) -> dict:
    """Train ``model`` on synthgen dataset folders; deterministic for a seed (same thread count).
    Returns (and stores in ``model.summary['train']``) a summary of the run."""
    from examiner.models.trainable import record_training, trained_ranges

    earlier = trained_ranges(model) or []  # a model trained again keeps its earlier record
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    ds = datasets if isinstance(datasets, KeypointDataset) else KeypointDataset(
        datasets, model.config.input_size, augment)
    if log:
        log(f"loaded {len(ds)} people in {time.perf_counter() - t0:.1f} s; training "
            f"{model.n_params() / 1e6:.2f} M parameters for {steps} steps of {batch_size}")
    model.configure_training(lr, weight_decay, steps, min(warmup, max(1, steps // 10)))
    order, pos = rng.permutation(len(ds)), 0
    losses, window = [], []
    t1 = time.perf_counter()
    for step in range(steps):
        if pos + batch_size > len(order):
            order, pos = rng.permutation(len(ds)), 0
        idx = order[pos:pos + batch_size] if batch_size <= len(ds) else rng.integers(len(ds), size=batch_size)
        pos += batch_size
        x, kp, vis = ds.batch(idx, rng)
        loss = model.step_tensors(x, kp, vis)
        losses.append(loss)
        window.append(loss)
        if log and ((step + 1) % log_every == 0 or step + 1 == steps):
            el = time.perf_counter() - t1
            eta = el / (step + 1) * (steps - step - 1)
            log(f"step {step + 1:5d}/{steps}  loss {np.mean(window):.4f}  "
                f"lr {model.optimizer.param_groups[0]['lr']:.2e}  {el / (step + 1):.2f} s/step  eta {eta / 60:.1f} min")
            window = []
    model.net.eval()
    tail = losses[-max(1, min(50, len(losses) // 5)):]
    summary = {"datasets": [str(d) for d in (datasets if isinstance(datasets, list) else [])],
               "people": len(ds), "steps": steps, "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay,
               "seed": seed, "augment": ds.augment.to_dict(), "final_loss": float(np.mean(tail)) if tail else None,
               "seconds": round(time.perf_counter() - t0, 1), "threads": torch.get_num_threads()}
    model.summary["train"] = summary
    new = [SampleRange.of_folder(d, f"training set {d}") for d in ds.folders]
    record_training(model, earlier + [r for r in new if r is not None and r not in earlier])
    return summary
