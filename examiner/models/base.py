"""The interface every model under test implements, and the record of its predictions."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

import numpy as np

N_KEYPOINTS = 17


class ModelOutputError(ValueError):
    """A model returned something that is not a valid prediction (wrong shape, NaN, ...)."""


@dataclass
class SampleInfo:
    """What the evaluator knows about each image besides its pixels. Real models ignore it;
    benchmark models (``planted:``) read the parameters and the ground truth."""

    params: dict
    keypoints2d: np.ndarray  # (17, 2) pixels
    visibility: np.ndarray  # (17,) 0 outside / 1 occluded / 2 visible
    bbox: np.ndarray  # [x, y, w, h]
    seed: int = 0
    #: what the image shows (``synthgen.derived``: person height in pixels, occlusion, ...)
    derived: dict | None = None


@dataclass
class Prediction:
    """Predictions for a batch of B images. ``keypoints`` (B, 17, 2) in pixels (COCO order,
    pixel centres at integers, as synthgen's ground truth); ``scores`` (B, 17) in [0, 1];
    ``detected`` (B,) False when the model found no person (its keypoints are then ignored);
    optional ``joints3d`` (B, 17, 3) metres in camera axes (x right, y down, z forward), any
    origin (metrics centre them on the hips); optional ``mask`` (B, H, W) person mask."""

    keypoints: np.ndarray
    scores: np.ndarray
    detected: np.ndarray
    joints3d: np.ndarray | None = None
    mask: np.ndarray | None = None
    extra: dict = field(default_factory=dict)

    def check(self, batch: int, height: int, width: int) -> "Prediction":
        """Raise ModelOutputError unless shapes and values are valid for ``batch`` images."""
        def arr(name, value, shape, dtype=np.float64):
            try:
                a = np.asarray(value, dtype=dtype)
            except (TypeError, ValueError) as e:
                raise ModelOutputError(f"{name}: not numeric ({e})") from None
            if a.shape != shape:
                raise ModelOutputError(f"{name}: shape {a.shape}, expected {shape}")
            return a

        det = arr("detected", self.detected, (batch,), bool)
        kp = arr("keypoints", self.keypoints, (batch, N_KEYPOINTS, 2))
        sc = arr("scores", self.scores, (batch, N_KEYPOINTS))
        if not np.isfinite(kp[det]).all() or not np.isfinite(sc[det]).all():
            raise ModelOutputError("keypoints / scores: NaN or infinite values for a detected person")
        j3 = None if self.joints3d is None else arr("joints3d", self.joints3d, (batch, N_KEYPOINTS, 3))
        if j3 is not None and not np.isfinite(j3[det]).all():
            raise ModelOutputError("joints3d: NaN or infinite values for a detected person")
        mask = None if self.mask is None else arr("mask", self.mask, (batch, height, width), bool)
        return Prediction(kp, sc, det, j3, mask, self.extra)

    @classmethod
    def concat(cls, parts: list["Prediction"]) -> "Prediction":
        has3d = all(p.joints3d is not None for p in parts)
        hasmask = all(p.mask is not None for p in parts)
        return cls(np.concatenate([p.keypoints for p in parts]), np.concatenate([p.scores for p in parts]),
                   np.concatenate([p.detected for p in parts]),
                   np.concatenate([p.joints3d for p in parts]) if has3d else None,
                   np.concatenate([p.mask for p in parts]) if hasmask else None)

    @classmethod
    def missed(cls, batch: int) -> "Prediction":
        return cls(np.zeros((batch, N_KEYPOINTS, 2)), np.zeros((batch, N_KEYPOINTS)), np.zeros(batch, dtype=bool))


class ModelUnderTest(abc.ABC):
    """A pose model the examiner queries: batched RGB images in, COCO-17 keypoints out."""

    #: short name for reports (e.g. 'mediapipe', 'torch:baseline.pt')
    name: str = "model"
    #: False for models that read only the SampleInfo (no pixels need rendering)
    needs_image: bool = True
    #: True if ``joints3d`` is returned (MPJPE / PA-MPJPE are then measured)
    has_3d: bool = False
    #: True if an image's prediction depends on that image alone (not on the rest of the batch,
    #: nor on the process): a search's worker processes may then each hold a copy and predict
    per_image: bool = False

    @abc.abstractmethod
    def predict(self, images: np.ndarray, infos: list[SampleInfo] | None = None) -> Prediction:
        """``images``: (B, H, W, 3) uint8 RGB (or None when ``needs_image`` is False);
        ``infos``: one SampleInfo per image."""

    def close(self) -> None:
        """Release resources (threads, sessions)."""
