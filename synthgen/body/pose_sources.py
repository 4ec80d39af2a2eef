"""Pose sets from motion data: AMASS-style SMPL ``.npz`` sequences and BVH files, converted to
named anatomical angles (clamped into the joint limits, with the clamped names reported)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from synthgen.body.joint_limits import ANGLES, param_name
from synthgen.body.pose import angles_from_rotation, clamp_to_limits, global_angles_from_rotation, neutral_corrections
from synthgen.body.skeleton import POSED_JOINTS, SMPL_JOINTS, SMPL_PARENTS, joint_index
from synthgen.errors import ConfigError

#: Z-up world (AMASS) -> our Y-up world.
ZUP_TO_YUP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


@dataclass
class PoseSet:
    """Named-angle poses read from a motion file."""

    source: str
    poses: list[dict[str, float]]
    #: per pose, the parameter names that were clamped into the joint limits
    clamped: list[list[str]] = field(default_factory=list)
    fps: float | None = None

    def __len__(self) -> int:
        return len(self.poses)


def _rotvec_to_matrix(rotvec: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_matrix().reshape(rotvec.shape[:-1] + (3, 3))


def poses_from_local_rotations(local: np.ndarray, root: np.ndarray, rest_joints: np.ndarray,
                               source: str, stride: int = 1, fps: float | None = None) -> PoseSet:
    """(T, 24, 3, 3) rest-relative, world-aligned joint rotations of a skeleton whose rest
    joint positions are ``rest_joints`` (24, 3), root (T, 3, 3) in Y-up world -> PoseSet."""
    N = neutral_corrections(torch.as_tensor(rest_joints[None], dtype=torch.float64))[0].numpy()
    poses, clamped = [], []
    for t in range(0, len(local), stride):
        params = {}
        for j in POSED_JOINTS:
            i = joint_index(j)
            A = N[SMPL_PARENTS[i]] @ local[t, i] @ N[i].T  # inverse of L = N_p^T A N
            for a, v in zip(ANGLES, angles_from_rotation(j, A)):
                params[param_name(j, a)] = round(float(v), 4)
        for a, v in zip(("yaw", "pitch", "roll"), global_angles_from_rotation(root[t])):
            params[f"pose.global.{a}"] = round(float(v), 4)
        params, moved = clamp_to_limits(params)
        poses.append(params)
        clamped.append(moved)
    return PoseSet(source, poses, clamped, fps)


def load_amass(path: str | Path, stride: int = 1, up: str = "z") -> PoseSet:
    """An AMASS-style ``.npz`` (``poses`` (T, >=66) SMPL axis-angles: root then 21 body
    joints; hands ignored). ``up`` is the file's world up axis (AMASS: 'z')."""
    from synthgen.body.smpl_synthetic import t_pose_joints

    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            if "poses" not in z.files:
                raise ConfigError(str(path), f"no 'poses' array (keys: {', '.join(z.files)})")
            poses = np.asarray(z["poses"], dtype=np.float64)
            fps = next((float(z[k]) for k in ("mocap_framerate", "mocap_frame_rate") if k in z.files), None)
    except (OSError, ValueError) as e:
        raise ConfigError(str(path), f"cannot read as .npz: {e}") from e
    if poses.ndim != 2 or poses.shape[1] < 66:
        raise ConfigError(str(path), f"'poses' must be (frames, >=66), got {poses.shape}")
    if not np.isfinite(poses).all():
        raise ConfigError(str(path), "'poses' holds NaN or inf")
    T = len(poses)
    local = np.tile(np.eye(3), (T, 24, 1, 1))
    local[:, :22] = _rotvec_to_matrix(poses[:, :66].reshape(T, 22, 3))
    root = local[:, 0]
    if up == "z":
        root = ZUP_TO_YUP @ root
    return poses_from_local_rotations(local, root, t_pose_joints(), str(path), stride, fps)


#: Usual BVH joint names (CMU, Mixamo, Truebones, ...) -> SMPL joint names.
BVH_NAMES = {
    "hips": "pelvis", "pelvis": "pelvis", "spine": "spine1", "spine1": "spine2", "spine2": "spine3",
    "chest": "spine3", "neck": "neck", "head": "head",
}
for _s, _S in (("left", "Left"), ("right", "Right")):
    for _n, _smpl in (("upleg", "hip"), ("thigh", "hip"), ("hip", "hip"), ("leg", "knee"), ("knee", "knee"),
                      ("shin", "knee"), ("foot", "ankle"), ("ankle", "ankle"), ("toebase", "foot"), ("toe", "foot"),
                      ("shoulder", "collar"), ("collar", "collar"), ("arm", "shoulder"), ("uparm", "shoulder"),
                      ("forearm", "elbow"), ("lowarm", "elbow"), ("hand", "wrist"), ("wrist", "wrist")):
        BVH_NAMES[f"{_s}{_n}"] = f"{_s}_{_smpl}"


def _norm(name: str) -> str:
    name = re.sub(r"^(mixamorig:|bip01_?)", "", name, flags=re.I).lower().replace("_", "").replace(" ", "")
    return re.sub(r"^l(?=[a-z])(?!eft)", "left", re.sub(r"^r(?=[a-z])(?!ight)", "right", name))


@dataclass
class _BvhJoint:
    name: str
    parent: int
    offset: np.ndarray
    channels: list[str]


def _parse_bvh(path: Path) -> tuple[list[_BvhJoint], np.ndarray, float | None]:
    tokens = path.read_text().split()
    joints: list[_BvhJoint] = []
    stack: list[int] = []
    i = 0
    try:
        while tokens[i].upper() != "MOTION":
            t = tokens[i].upper()
            if t in ("ROOT", "JOINT"):
                joints.append(_BvhJoint(tokens[i + 1], stack[-1] if stack else -1, np.zeros(3), []))
                i += 2
            elif t == "END":  # End Site { OFFSET x y z }
                depth, i = 0, i + 2
                while True:
                    depth += tokens[i] == "{"
                    depth -= tokens[i] == "}"
                    i += 1
                    if depth == 0:
                        break
            elif t == "{":
                stack.append(len(joints) - 1)
                i += 1
            elif t == "}":
                stack.pop()
                i += 1
            elif t == "OFFSET":
                joints[-1].offset = np.array([float(x) for x in tokens[i + 1:i + 4]])
                i += 4
            elif t == "CHANNELS":
                n = int(tokens[i + 1])
                joints[-1].channels = tokens[i + 2:i + 2 + n]
                i += 2 + n
            else:
                i += 1
        frames = int(tokens[i + 2])
        frame_time = float(tokens[i + 5])
        n_ch = sum(len(j.channels) for j in joints)
        data = np.array(tokens[i + 6:i + 6 + frames * n_ch], dtype=np.float64).reshape(frames, n_ch)
    except (IndexError, ValueError) as e:
        raise ConfigError(str(path), f"malformed BVH near token {i}: {e}") from e
    return joints, data, (1.0 / frame_time if frame_time > 0 else None)


def load_bvh(path: str | Path, stride: int = 1, names: dict[str, str] | None = None) -> PoseSet:
    """A BVH file (Y-up, rest pose = zero rotations) -> PoseSet. ``names`` maps BVH joint
    names to SMPL joint names where the usual names do not apply."""
    from scipy.spatial.transform import Rotation

    from synthgen.body.smpl_synthetic import t_pose_joints

    path = Path(path)
    joints, data, fps = _parse_bvh(path)
    user = {k: v for k, v in (names or {}).items()}
    smpl_of = []
    for j in joints:
        smpl = user.get(j.name) or BVH_NAMES.get(_norm(j.name))
        smpl_of.append(smpl if smpl in SMPL_JOINTS else None)
    found = {s for s in smpl_of if s}
    needed = {"pelvis", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow",
              "right_wrist", "left_hip", "left_knee", "left_ankle", "right_hip", "right_knee", "right_ankle"}
    if needed - found:
        raise ConfigError(str(path), "BVH joints for " + ", ".join(sorted(needed - found))
                          + " not recognised; pass a name mapping")
    # rest joint positions and per-frame global rotations
    rest = np.zeros((len(joints), 3))
    for k, j in enumerate(joints):
        rest[k] = j.offset + (rest[j.parent] if j.parent >= 0 else 0)
    T = len(data)
    G = np.zeros((T, len(joints), 3, 3))
    col = 0
    for k, j in enumerate(joints):
        rot_ch = [c for c in j.channels if c.lower().endswith("rotation")]
        idx = [col + j.channels.index(c) for c in rot_ch]
        col += len(j.channels)
        if rot_ch:
            seq = "".join(c[0].upper() for c in rot_ch)
            local = Rotation.from_euler(seq, data[:, idx], degrees=True).as_matrix()
        else:
            local = np.tile(np.eye(3), (T, 1, 1))
        G[:, k] = G[:, j.parent] @ local if j.parent >= 0 else local
    # SMPL joint -> BVH joint; missing spine / neck joints take the nearest mapped ancestor
    bvh_of = {s: k for k, s in enumerate(smpl_of) if s and s not in {smpl_of[m] for m in range(k)}}
    rest24 = t_pose_joints()
    G24 = np.tile(np.eye(3), (T, 24, 1, 1))
    for i, s in enumerate(SMPL_JOINTS):
        k = bvh_of.get(s)
        if k is None:
            G24[:, i] = G24[:, SMPL_PARENTS[i]] if i > 0 else G24[:, i]
        else:
            G24[:, i] = G[:, k]
            rest24[i] = rest[k]
    local24 = np.tile(np.eye(3), (T, 24, 1, 1))
    local24[:, 0] = G24[:, 0]
    for i in range(1, 24):
        local24[:, i] = np.swapaxes(G24[:, SMPL_PARENTS[i]], -1, -2) @ G24[:, i]
    return poses_from_local_rotations(local24, G24[:, 0], rest24, str(path), stride, fps)
