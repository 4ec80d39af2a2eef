"""Anatomical pose parameterization: named ``flex / abduct / twist`` angles per SMPL joint.

Frame and sign conventions (world is Y-up metres, the person faces +Z, the person's left is +X):

* Angles are measured from the **anatomical neutral pose**: standing upright, legs straight
  down, arms hanging straight down with the palms facing the thighs, feet flat, head level.
  Every backend maps its own rest pose (Anny's A-pose, SMPL's T-pose) onto this neutral pose
  once, so the same names give the same motion on every backend.
* ``flex`` turns a segment about the joint's lateral axis, ``abduct`` about its forward axis,
  ``twist`` about the segment's long axis; they compose in that order (intrinsic), each in the
  frame the parent segment had in the neutral pose.
* Positive means: flexion (hip/shoulder/elbow/trunk/neck forward, knee backward, ankle and
  toes dorsiflexed, wrist towards the palm), abduction away from the midline (trunk, neck and
  head: lateral bend to the person's left; collar: elevation; wrist: radial deviation),
  external rotation / supination (trunk, neck and head: turning to the person's left; ankle:
  eversion).  Right-side joints mirror left-side ones, so ``left_*`` and ``right_*`` with the
  same values give a symmetric pose.

``pose.global.yaw|pitch|roll`` orient the whole body about the pelvis: yaw turns the person to
their left, pitch leans them forward, roll tilts them to their left.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from synthgen.body.joint_limits import DEFAULT_ANGLES, JOINT_LIMITS, _pose_param_names, joint_kind, pose_limits
from synthgen.body.skeleton import POSED_JOINTS

X, Y, Z = np.eye(3)

#: Rotation axes (flex, abduct, twist) of each left-side / midline joint in the neutral frame.
_AXES_LEFT: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {
    "hip": (-X, Z, Y),
    "knee": (X, Z, Y),
    "ankle": (-X, Y, Z),
    "foot": (-X, Y, Z),
    "spine": (X, -Z, Y),
    "collar": (-Y, Z, X),
    "shoulder": (-X, Z, Y),
    "elbow": (-X, Z, Y),
    "wrist": (-Z, -X, Y),
}


def _axes_kind(joint: str) -> str:
    kind = joint_kind(joint)
    return "spine" if kind in ("spine1", "spine2", "spine3", "neck", "head") else kind


def joint_axes(joint: str) -> np.ndarray:
    """(3, 3) array: rows are the flex, abduct and twist axes of ``joint`` (neutral frame)."""
    axes = np.stack(_AXES_LEFT[_axes_kind(joint)])
    if joint.startswith("right_"):
        axes = axes * np.array([1.0, -1.0, -1.0])  # mirror through the sagittal plane
    return axes


def axis_angle_matrix(axis: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rodrigues: rotation matrices (..., 3, 3) about unit ``axis`` (..., 3) by ``angle`` rad."""
    x, y, z = axis.unbind(-1)
    c, s = torch.cos(angle), torch.sin(angle)
    C = 1.0 - c
    rows = [
        [c + x * x * C, x * y * C - z * s, x * z * C + y * s],
        [y * x * C + z * s, c + y * y * C, y * z * C - x * s],
        [z * x * C - y * s, z * y * C + x * s, c + z * z * C],
    ]
    return torch.stack([torch.stack(r, -1) for r in rows], -2)


@dataclass(frozen=True)
class AnatomicalPose:
    """Neutral-frame rotations of a batch of poses.

    ``flex_abduct``: (B, 21, 3, 3) rotation by flex then abduct; ``twist_half``: (B, 21, 3, 3)
    half the twist (backends may spread the twist over two bones of a segment);
    ``global_rot``: (B, 3, 3). ``full``: (B, 21, 3, 3) the whole rotation flex @ abduct @ twist."""

    flex_abduct: torch.Tensor
    twist_half: torch.Tensor
    global_rot: torch.Tensor

    @functools.cached_property
    def full(self) -> torch.Tensor:
        return self.flex_abduct @ self.twist_half @ self.twist_half


_AXES = torch.from_numpy(np.stack([joint_axes(j) for j in POSED_JOINTS]))  # (21, 3, 3)
#: flex, abduct, half-twist axes of every joint, then yaw, pitch, roll of the body
_ALL_AXES = torch.cat([_AXES.reshape(-1, 3), torch.tensor([[0.0, 1, 0], [1, 0, 0], [0, 0, -1]], dtype=_AXES.dtype)])


def anatomical_rotations(angles_deg: torch.Tensor, global_deg: torch.Tensor) -> AnatomicalPose:
    """``angles_deg``: (B, 21, 3) flex/abduct/twist per posed joint (POSED_JOINTS order);
    ``global_deg``: (B, 3) yaw/pitch/roll. All elementary rotations in one batched call."""
    B = angles_deg.shape[0]
    rad = torch.cat([(angles_deg * torch.tensor([1.0, 1.0, 0.5], dtype=angles_deg.dtype)).reshape(B, -1),
                     global_deg], 1) * (math.pi / 180.0)
    R = axis_angle_matrix(_ALL_AXES.to(angles_deg).expand(B, -1, -1), rad)  # (B, 66, 3, 3)
    joint = R[:, :63].reshape(B, 21, 3, 3, 3)
    return AnatomicalPose(
        flex_abduct=joint[:, :, 0] @ joint[:, :, 1],
        twist_half=joint[:, :, 2],
        global_rot=R[:, 63] @ R[:, 64] @ R[:, 65],
    )


def angles_from_params(params_batch: list[dict[str, float]], dtype=torch.float32):
    """Batch of param dicts -> ((B, 21, 3) joint angles, (B, 3) global angles) in degrees.
    Missing names take their default (0, or DEFAULT_ANGLES)."""
    names = _pose_param_names()
    defaults = _default_angles()
    values = np.array([[p.get(n, d) for n, d in zip(names, defaults)] for p in params_batch], dtype=np.float64)
    t = torch.as_tensor(values, dtype=dtype)
    return t[:, : 21 * 3].reshape(-1, 21, 3), t[:, 21 * 3 :]


@functools.lru_cache(maxsize=1)
def _default_angles() -> tuple[float, ...]:
    return tuple(DEFAULT_ANGLES.get(n, 0.0) for n in _pose_param_names())


def minimal_rotation(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) smallest rotation taking direction ``src`` onto direction ``dst``."""
    a = src / src.norm(dim=-1, keepdim=True)
    b = dst / dst.norm(dim=-1, keepdim=True)
    axis = torch.cross(a, b, dim=-1)
    s = axis.norm(dim=-1)
    c = (a * b).sum(-1)
    angle = torch.atan2(s, c)
    safe = torch.where(s[..., None] > 1e-9, axis / s.clamp_min(1e-12)[..., None], torch.zeros_like(axis) + torch.tensor([1.0, 0.0, 0.0], dtype=a.dtype, device=a.device))
    return axis_angle_matrix(safe, angle)


#: Neutral direction of each limb segment, named by the joint at its proximal end.
NEUTRAL_DIRECTIONS: dict[str, tuple[float, float, float]] = {
    "left_shoulder": (0, -1, 0), "right_shoulder": (0, -1, 0),
    "left_elbow": (0, -1, 0), "right_elbow": (0, -1, 0),
    "left_hip": (0, -1, 0), "right_hip": (0, -1, 0),
    "left_knee": (0, -1, 0), "right_knee": (0, -1, 0),
}
#: Segment -> the joint at its distal end (used to read the rest direction of the segment).
SEGMENT_END: dict[str, str] = {
    "left_shoulder": "left_elbow", "right_shoulder": "right_elbow",
    "left_elbow": "left_wrist", "right_elbow": "right_wrist",
    "left_hip": "left_knee", "right_hip": "right_knee",
    "left_knee": "left_ankle", "right_knee": "right_ankle",
}
#: Segments whose neutral orientation copies another's (the hand continues the forearm).
NEUTRAL_COPIES: dict[str, str] = {"left_wrist": "left_elbow", "right_wrist": "right_elbow",
                                  "left_hand": "left_elbow", "right_hand": "right_elbow"}


@functools.lru_cache(maxsize=None)
def _neutral_index():
    from synthgen.body.skeleton import joint_index

    seg = torch.tensor([joint_index(j) for j in NEUTRAL_DIRECTIONS])
    end = torch.tensor([joint_index(SEGMENT_END[j]) for j in NEUTRAL_DIRECTIONS])
    dirs = torch.tensor(list(NEUTRAL_DIRECTIONS.values()), dtype=torch.float64)
    dst = torch.tensor([joint_index(j) for j in NEUTRAL_COPIES])
    src = torch.tensor([joint_index(j) for j in NEUTRAL_COPIES.values()])
    return seg, end, dirs, dst, src


def neutral_corrections(rest_joints: torch.Tensor) -> torch.Tensor:
    """(B, 24, 3, 3) rotations taking each segment from the backend's rest pose to the
    neutral pose (identity for segments whose rest orientation already is neutral).
    ``rest_joints``: (B, 24, 3) SMPL-named joint positions of the rest pose, Y-up."""
    seg, end, dirs, dst, src = _neutral_index()
    B = rest_joints.shape[0]
    N = torch.eye(3, dtype=rest_joints.dtype, device=rest_joints.device).repeat(B, 24, 1, 1)
    target = dirs.to(rest_joints).expand(B, -1, -1)
    N[:, seg] = minimal_rotation(rest_joints[:, end] - rest_joints[:, seg], target)
    N[:, dst] = N[:, src]
    return N


def _euler_spec(axes: np.ndarray) -> tuple[str, np.ndarray]:
    """Intrinsic scipy sequence and signs for rotations about the signed unit ``axes`` rows."""
    letters = "".join("XYZ"[int(np.argmax(np.abs(a)))] for a in axes)
    signs = np.array([np.sign(a[np.argmax(np.abs(a))]) for a in axes])
    return letters, signs


def angles_from_rotation(joint: str, R: np.ndarray) -> np.ndarray:
    """Inverse of the joint's flex/abduct/twist composition: (..., 3, 3) neutral-frame
    rotations -> (..., 3) angles in degrees."""
    from scipy.spatial.transform import Rotation

    seq, signs = _euler_spec(joint_axes(joint))
    import warnings

    R = np.asarray(R, dtype=np.float64)
    with warnings.catch_warnings():  # gimbal lock: one of the valid splits is returned
        warnings.simplefilter("ignore", UserWarning)
        eul = Rotation.from_matrix(R.reshape(-1, 3, 3)).as_euler(seq, degrees=True)
    # Both (a, b, c) and (a + 180, 180 - b, c + 180) give the same rotation; keep the one
    # nearer to the joint's range (e.g. shoulder abduction past 90 degrees).
    alt = eul * [1, -1, 1] + [180.0, 180.0, 180.0]
    cands = [(e * signs + 180.0) % 360.0 - 180.0 for e in (eul, alt)]
    lim = np.array(JOINT_LIMITS[joint_kind(joint)], dtype=np.float64)
    excess = [np.clip(lim[:, 0] - c, 0, None).sum(1) + np.clip(c - lim[:, 1], 0, None).sum(1) for c in cands]
    best = np.where((excess[1] < excess[0])[:, None], cands[1], cands[0])
    return best.reshape(R.shape[:-2] + (3,))


def global_angles_from_rotation(R: np.ndarray) -> np.ndarray:
    """(..., 3, 3) body orientation -> (..., 3) yaw, pitch, roll in degrees."""
    from scipy.spatial.transform import Rotation

    import warnings

    R = np.asarray(R, dtype=np.float64)
    with warnings.catch_warnings():  # at pitch +-90 deg yaw and roll share one axis: any split is right
        warnings.simplefilter("ignore", UserWarning)
        eul = Rotation.from_matrix(R.reshape(-1, 3, 3)).as_euler("YXZ", degrees=True) * [1, 1, -1]
    return eul.reshape(R.shape[:-2] + (3,))


def clamp_to_limits(params: dict[str, float]) -> tuple[dict[str, float], list[str]]:
    """Clamp pose angles into the joint limits; returns the clamped dict and the names moved."""
    limits = pose_limits()
    out, moved = {}, []
    for k, v in params.items():
        if k in limits:
            lo, hi = limits[k]
            c = min(max(v, lo), hi)
            if c != v:
                moved.append(k)
            v = c
        out[k] = v
    return out, moved
