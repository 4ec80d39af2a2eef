"""Pose metrics of one prediction against synthgen's ground truth: PCK (bbox- and
torso-normalized), OKS with COCO's per-keypoint sigmas, per-joint pixel errors, MPJPE and
PA-MPJPE for 3D outputs, detection misses, and the failure rule that turns them into a
failed / not-failed verdict and a continuous error in [0, 1] for rewards."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthgen.body.skeleton import COCO_KEYPOINTS
from synthgen.errors import ParamError

#: COCO's keypoint sigmas (cocoapi, pycocotools/cocoeval.py), in COCO-17 order
COCO_SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89]) / 10.0
L_SHOULDER, R_SHOULDER = COCO_KEYPOINTS.index("left_shoulder"), COCO_KEYPOINTS.index("right_shoulder")
L_HIP, R_HIP = COCO_KEYPOINTS.index("left_hip"), COCO_KEYPOINTS.index("right_hip")
METRICS = ("oks", "pck_bbox", "pck_torso")


def oks(pred: np.ndarray, gt: np.ndarray, vis: np.ndarray, area: float) -> float:
    """COCO object keypoint similarity over the labelled keypoints (vis > 0)."""
    labelled = vis > 0
    if not labelled.any() or area <= 0:
        return float("nan")
    d2 = ((pred - gt) ** 2).sum(-1)
    e = d2 / (2.0 * area * (2.0 * COCO_SIGMAS) ** 2 + np.spacing(1))
    return float(np.exp(-e)[labelled].mean())


def torso_size(gt: np.ndarray) -> float:
    """Torso diameter: left shoulder to right hip (the PCK-torso reference length)."""
    return float(np.linalg.norm(gt[L_SHOULDER] - gt[R_HIP]))


def pck(pred: np.ndarray, gt: np.ndarray, vis: np.ndarray, reference: float, alpha: float) -> float:
    labelled = vis > 0
    if not labelled.any() or reference <= 0:
        return float("nan")
    d = np.linalg.norm(pred - gt, axis=-1)
    return float((d[labelled] <= alpha * reference).mean())


def root_centred(j: np.ndarray) -> np.ndarray:
    return j - 0.5 * (j[L_HIP] + j[R_HIP])


def mpjpe(pred3d: np.ndarray, gt3d: np.ndarray) -> float:
    """Mean per-joint position error (mm) after centring both on the mid-hip."""
    return float(1000.0 * np.linalg.norm(root_centred(pred3d) - root_centred(gt3d), axis=-1).mean())


def pa_mpjpe(pred3d: np.ndarray, gt3d: np.ndarray) -> float:
    """MPJPE (mm) after the similarity (scale, rotation, translation) that best aligns the
    prediction to the ground truth (Procrustes, via roma)."""
    import roma
    import torch

    x = torch.as_tensor(pred3d, dtype=torch.float64)
    y = torch.as_tensor(gt3d, dtype=torch.float64)
    R, t, s = roma.rigid_points_registration(x, y, compute_scaling=True)
    aligned = (s * (x @ R.T) + t).numpy()
    return float(1000.0 * np.linalg.norm(aligned - gt3d, axis=-1).mean())


@dataclass(frozen=True)
class FailureRule:
    """A sample fails when the model finds no person (``on_miss``) or ``metric`` is below
    ``threshold``. ``error`` (in [0, 1], 1 = worst) is 1 - metric, or 1 for a miss. Samples
    with fewer than ``min_keypoints`` labelled keypoints (the person mostly out of view) are
    not graded."""

    metric: str = "oks"
    threshold: float = 0.5
    on_miss: bool = True
    alpha: float = 0.1  # PCK-bbox threshold, in units of the box's longer side
    torso_alpha: float = 0.2  # PCK-torso threshold, in torso diameters
    min_keypoints: int = 4

    def __post_init__(self):
        if self.metric not in METRICS:
            raise ParamError("failure.metric", f"unknown metric {self.metric!r} (one of {', '.join(METRICS)})")
        if not 0.0 < self.threshold <= 1.0:
            raise ParamError("failure.threshold", f"expected a value in (0, 1], got {self.threshold}")
        for key in ("alpha", "torso_alpha"):
            if not 0.0 < getattr(self, key) <= 1.0:
                raise ParamError(f"failure.{key}", f"expected a value in (0, 1], got {getattr(self, key)}")

    @classmethod
    def from_dict(cls, data: dict | None) -> "FailureRule":
        data = dict(data or {})
        known = ("metric", "threshold", "on_miss", "alpha", "torso_alpha", "min_keypoints")
        unknown = set(data) - set(known)
        if unknown:
            raise ParamError(f"failure.{sorted(unknown)[0]}", f"unknown key ({', '.join(known)})")
        return cls(**data)


def score_sample(rule: FailureRule, keypoints: np.ndarray, detected: bool, gt: np.ndarray, vis: np.ndarray,
                 bbox: np.ndarray, area: float, pred3d: np.ndarray | None = None,
                 gt3d: np.ndarray | None = None) -> dict:
    """Every metric of one sample, plus ``graded``, ``error`` and ``failed`` by the rule."""
    labelled = vis > 0
    out = {"detected": bool(detected), "labelled_keypoints": int(labelled.sum())}
    if labelled.sum() < rule.min_keypoints:
        return out | {"graded": False, "error": float("nan"), "failed": False}
    ref_bbox = float(max(bbox[2], bbox[3]))
    if detected:
        d = np.linalg.norm(keypoints - gt, axis=-1)
        out |= {
            "oks": oks(keypoints, gt, vis, area),
            "pck_bbox": pck(keypoints, gt, vis, ref_bbox, rule.alpha),
            "pck_torso": pck(keypoints, gt, vis, torso_size(gt), rule.torso_alpha),
            "joint_errors_px": [round(float(x), 3) if v else None for x, v in zip(d, labelled)],
            "mean_error_px": float(d[labelled].mean()),
        }
        if pred3d is not None and gt3d is not None:
            out |= {"mpjpe_mm": mpjpe(pred3d, gt3d), "pa_mpjpe_mm": pa_mpjpe(pred3d, gt3d)}
        value = out[rule.metric]
        if not np.isfinite(value):  # e.g. a torso too small to measure: fall back to OKS
            value = out["oks"]
        error = float(np.clip(1.0 - value, 0.0, 1.0))
        failed = value < rule.threshold
    else:
        error, failed = 1.0, rule.on_miss
    return out | {"graded": True, "error": error, "failed": bool(failed)}
