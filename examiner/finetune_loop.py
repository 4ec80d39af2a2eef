"""The fine-tuning loop of any trainable model (``examiner/models/trainable.py``): every batch
holds a fixed share of failure-mode samples and the rest replays the original training
distribution; one ``train_step`` per batch; optional validation every few steps, and early
stopping that keeps the weights of the best validated step (step 0, the starting model,
included) for the caller to go back to; or weight interpolation, which validates blends of the
starting and the last step's weights and keeps the best."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from examiner.models.trainable import FinetuneSettings, configure, interpolate, restore, snapshot
from examiner.models.training_data import load_image, read_coco
from synthgen.errors import ParamError, SynthgenError


class MixedBatches:
    """Batches of raw images as ``predict`` sees them: ``round(mix * batch_size)`` (at least 1)
    from the mode folders, ``round(space_mix * batch_size)`` from the search-space folders, the
    rest from the replay folders; each pool is walked in a fresh random order per pass.
    Deterministic for a seed."""

    def __init__(self, mode_folders: list[Path], replay_folders: list[Path], mix: float, batch_size: int,
                 seed: int = 0, space_folders: list[Path] = (), space_mix: float = 0.0):
        if batch_size < 1:
            raise ParamError("--batch-size", f"must be at least 1, got {batch_size}")
        self.pools = [[r for f in folders for r in read_coco(Path(f))]
                      for folders in (mode_folders, replay_folders, space_folders)]
        if not self.pools[0]:
            raise ParamError("--regions", "no annotated person in the failure-mode training samples")
        n_modes = batch_size if not self.pools[1] else min(batch_size, max(1, round(mix * batch_size)))
        n_space = min(batch_size - n_modes, round(space_mix * batch_size)) if self.pools[2] else 0
        self.counts = (n_modes, batch_size - n_modes - n_space, n_space)
        self.rng = np.random.default_rng(seed)
        self.orders: list[np.ndarray] = [np.zeros(0, dtype=np.int64) for _ in self.pools]
        shapes = {load_image(pool[0]["file"]).shape for pool in self.pools if pool}
        if len(shapes) > 1:
            raise ParamError("--replay", f"the mode and replay images differ in size ({sorted(shapes)}); "
                                         "render both at one --size, or use --replay fresh")

    def _take(self, k: int, count: int) -> list[dict]:
        out = []
        while len(out) < count:
            if not len(self.orders[k]):
                self.orders[k] = self.rng.permutation(len(self.pools[k]))
            take = min(count - len(out), len(self.orders[k]))
            out += [self.pools[k][i] for i in self.orders[k][:take]]
            self.orders[k] = self.orders[k][take:]
        return out

    def next(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(images (B, H, W, 3) uint8, keypoints (B, 17, 2) pixels, visibility (B, 17))."""
        records = self._take(0, self.counts[0]) + self._take(1, self.counts[1]) + self._take(2, self.counts[2])
        return (np.stack([load_image(r["file"]) for r in records]), np.stack([r["keypoints"] for r in records]),
                np.stack([r["visibility"] for r in records]))


def run_training(model, batches: MixedBatches, settings: FinetuneSettings,
                 validate: Callable[[object], dict] | None = None, val_every: int = 50, early_stop: bool = False,
                 log: Callable[[str], None] | None = print, log_every: int = 50) -> tuple[dict, dict | None]:
    """``settings.steps`` calls of ``model.train_step``. ``validate(model)`` returns a dict with
    ``val_error`` (lower is better) and is run at step 0, every ``val_every`` steps and at the
    end. Returns a summary and, with ``early_stop``, the weights of the best validated step
    (``trainable.restore`` puts them back; the model itself is left at its last step)."""
    if early_stop and validate is None:
        raise ParamError("--early-stop", "needs validation sets (--val > 0)")
    configure(model, settings)
    best = None
    history = []

    def check(step: int) -> None:
        nonlocal best
        score = validate(model)
        history.append({"step": step, **score})
        if early_stop and (best is None or score["val_error"] < best[0]):
            best = (score["val_error"], step, snapshot(model))

    if validate is not None:
        check(0)
    losses, t0 = [], time.perf_counter()
    for step in range(1, settings.steps + 1):
        loss = float(model.train_step(*batches.next()))
        if not np.isfinite(loss):
            raise SynthgenError(f"{model.name}: train_step returned loss {loss} at step {step}")
        losses.append(loss)
        if log and (step % log_every == 0 or step == settings.steps):
            el = time.perf_counter() - t0
            log(f"step {step:5d}/{settings.steps}  loss {np.mean(losses[-log_every:]):.5f}  {el / step:.2f} s/step")
        if validate is not None and (step % val_every == 0 or step == settings.steps):
            check(step)
    out = {"steps": settings.steps, "final_loss": float(np.mean(losses[-max(1, min(50, len(losses) // 5)):])),
           "seconds": round(time.perf_counter() - t0, 1), "batch": list(batches.counts), "validation": history}
    if not early_stop:
        return out, None
    out["stopped_at"] = best[1]
    if log:
        log(f"early stopping: the best validated step is {best[1]} (validation error {best[0]:.4f})")
    return out, best[2]


#: the blends weight interpolation validates: 0 is the starting model, 1 the last step
ALPHAS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def choose_interpolation(model, start: dict, validate: Callable[[object], dict], alphas=ALPHAS,
                         log: Callable[[str], None] | None = print,
                         start_score: dict | None = None) -> tuple[float, dict, list[dict]]:
    """Validate the weights ``alpha`` of the way from ``start`` to the model's current (last
    step) weights for every ``alpha`` (WiSE-FT); returns the alpha with the lowest ``val_error``
    (the smallest on a tie), its weights and every validation. ``start_score``, the starting
    model's validation when training already did it, stands for alpha 0. The model is left at
    its last step."""
    end = snapshot(model, "--interpolate")
    best, history = None, []
    for alpha in alphas:
        state = interpolate(start, end, alpha)
        if alpha == 0 and start_score is not None:
            score = {k: v for k, v in start_score.items() if k != "step"}
        else:
            restore(model, state)
            score = validate(model)
        history.append({"alpha": alpha, **score})
        if best is None or score["val_error"] < best[0]:
            best = (score["val_error"], alpha, state)
    restore(model, end)
    if log:
        log(f"weight interpolation: the best validated blend is {best[1]:.1f} of the way to the last step "
            f"(validation error {best[0]:.4f})")
    return best[1], best[2], history
