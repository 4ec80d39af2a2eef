"""Writes a small model file in SMPL's exact ``.npz`` layout, for testing without the real,
licensed SMPL files: capsules around an SMPL-like T-pose skeleton, with SMPL's 24-joint
kinematic tree, 10 shape directions, 207 pose-corrective directions and a joint regressor.

It is not SMPL and looks like a mannequin; it exists so that the SMPL code path (file lookup,
safe loading, smplx, labels, posing) is exercised end to end here and in CI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh

from synthgen.body.skeleton import SMPL_JOINTS, SMPL_PARENTS

#: An SMPL-like T-pose skeleton (Y-up metres, facing +Z, left = +X), left side; right mirrors.
_T_POSE_LEFT = {
    "pelvis": (0.0, 0.0, 0.0), "left_hip": (0.07, -0.09, 0.0), "spine1": (0.0, 0.11, -0.01),
    "left_knee": (0.10, -0.47, 0.0), "spine2": (0.0, 0.24, 0.0), "left_ankle": (0.09, -0.87, -0.03),
    "spine3": (0.0, 0.30, 0.01), "left_foot": (0.12, -0.93, 0.10), "neck": (0.0, 0.52, -0.02),
    "left_collar": (0.08, 0.42, -0.01), "head": (0.0, 0.62, 0.03), "left_shoulder": (0.17, 0.45, -0.02),
    "left_elbow": (0.43, 0.44, -0.04), "left_wrist": (0.68, 0.44, -0.03), "left_hand": (0.77, 0.43, -0.04),
}


def t_pose_joints() -> np.ndarray:
    J = np.zeros((24, 3))
    for i, name in enumerate(SMPL_JOINTS):
        if name.startswith("right_"):
            J[i] = np.array(_T_POSE_LEFT["left_" + name[6:]]) * [-1, 1, 1]
        else:
            J[i] = _T_POSE_LEFT[name]
    return J


# (joint, end point or child joint, radius): one capsule per segment
def _segments(J):
    idx = {n: i for i, n in enumerate(SMPL_JOINTS)}
    segs = [
        ("pelvis", J[idx["spine1"]], 0.12), ("spine1", J[idx["spine2"]], 0.12),
        ("spine2", J[idx["spine3"]], 0.13), ("spine3", J[idx["neck"]] - [0, 0.04, 0], 0.14),
        ("neck", J[idx["head"]], 0.05), ("head", J[idx["head"]] + [0, 0.12, 0], 0.095),
    ]
    for s in ("left", "right"):
        sx = 1 if s == "left" else -1
        segs += [
            (f"{s}_hip", J[idx[f"{s}_knee"]], 0.075), (f"{s}_knee", J[idx[f"{s}_ankle"]], 0.05),
            (f"{s}_ankle", J[idx[f"{s}_foot"]], 0.04), (f"{s}_foot", J[idx[f"{s}_foot"]] + [0, 0, 0.07], 0.035),
            (f"{s}_collar", J[idx[f"{s}_shoulder"]], 0.05), (f"{s}_shoulder", J[idx[f"{s}_elbow"]], 0.05),
            (f"{s}_elbow", J[idx[f"{s}_wrist"]], 0.04), (f"{s}_wrist", J[idx[f"{s}_hand"]], 0.035),
            (f"{s}_hand", J[idx[f"{s}_hand"]] + [sx * 0.08, 0, 0], 0.025),
        ]
    return [(idx[n], np.asarray(end, float), r) for n, end, r in segs]


#: SMPL-X's joints past the 22 body joints: jaw, eyes, then 15 per hand (index, middle,
#: pinky, ring, thumb; 3 each), with their parents.
def smplx_parents() -> list[int]:
    parents = list(SMPL_PARENTS[:22]) + [15, 15, 15]
    for wrist, first in ((20, 25), (21, 40)):
        for finger in range(5):
            base = first + 3 * finger
            parents += [wrist, base, base + 1]
    return parents


def _smplx_joints(J24: np.ndarray) -> np.ndarray:
    J = np.zeros((55, 3))
    J[:22] = J24[:22]
    head = J24[15]
    J[22] = head + [0.0, -0.05, 0.06]
    J[23], J[24] = head + [0.03, 0.03, 0.08], head + [-0.03, 0.03, 0.08]
    for wrist, hand, first, sx in ((20, 22, 25, 1.0), (21, 23, 40, -1.0)):
        for finger, dz in enumerate((0.02, 0.0, -0.03, -0.015, 0.035)):
            for k in range(3):
                J[first + 3 * finger + k] = J24[hand] + [sx * 0.025 * k, 0.0, dz]
    return J


def build_model_arrays(seed: int = 0, model_type: str = "smpl") -> dict[str, np.ndarray]:
    """The arrays of a synthetic ``smpl`` (24 joints) or ``smplx`` (55 joints) model file."""
    rng = np.random.default_rng(seed)
    J24 = t_pose_joints()
    verts, faces, owner = [], [], []
    for j, end, r in _segments(J24):
        start = J24[j]
        length = max(np.linalg.norm(end - start), 1e-3)
        cap = trimesh.creation.capsule(height=length, radius=r, count=[12, 12])
        # capsule axis is +Z centred at the origin: align to the segment
        T = trimesh.geometry.align_vectors([0, 0, 1], (end - start) / length)
        T[:3, 3] = (start + end) / 2
        cap.apply_transform(T)
        faces.append(cap.faces + sum(len(v) for v in verts))
        verts.append(cap.vertices)
        owner.append(np.full(len(cap.vertices), j))
    v = np.concatenate(verts)
    f = np.concatenate(faces).astype(np.uint32)
    owner = np.concatenate(owner)
    if model_type == "smplx":
        J, parents = _smplx_joints(J24), smplx_parents()
        owner = np.where(owner == 22, 28, np.where(owner == 23, 43, owner))  # hands -> middle fingers
    else:
        J, parents = J24, list(SMPL_PARENTS)
    V, NJ = len(v), len(J)
    # skinning: the owning joint, blended with the parent near the joint
    weights = np.zeros((V, NJ))
    weights[np.arange(V), owner] = 1.0
    for j in range(1, NJ):
        sel = np.nonzero(owner == j)[0]
        d = np.linalg.norm(v[sel] - J[j], axis=1)
        blend = np.clip(1.0 - d / 0.08, 0.0, 0.5)
        weights[sel, j] -= blend
        weights[sel, parents[j]] += blend
    # joint regressor: each joint is the mean of the vertices near it (rows sum to 1)
    J_regressor = np.zeros((NJ, V))
    for j in range(NJ):
        near = np.argsort(np.linalg.norm(v - J[j], axis=1))[:12]
        J_regressor[j, near] = 1.0 / len(near)
    # shape: beta0 ~ height (scale about the pelvis), beta1 ~ girth, the rest small smooth
    # fields; SMPL-X files carry 10 expression directions after the betas
    n_dirs = 20 if model_type == "smplx" else 10
    shapedirs = np.zeros((V, 3, n_dirs))
    shapedirs[:, :, 0] = 0.03 * v
    shapedirs[:, :, 1] = 0.1 * (v - J24[np.minimum(owner, 23)] if model_type == "smpl" else v - J[owner])
    for k in range(2, n_dirs):
        freq = rng.normal(size=3) * 3
        shapedirs[:, :, k] = 0.004 * np.sin(v @ freq)[:, None] * rng.normal(size=3)
    posedirs = rng.normal(scale=1e-4, size=(V, 3, 9 * (NJ - 1)))
    kintree = np.array([[4294967295] + parents[1:], list(range(NJ))], dtype=np.int64)
    out = {
        "v_template": v, "f": f, "shapedirs": shapedirs, "posedirs": posedirs,
        "J_regressor": J_regressor, "weights": weights, "kintree_table": kintree,
    }
    if model_type == "smplx":
        faces_near_head = np.nonzero(owner[f[:, 0]] == 15)[0]
        out |= {
            "hands_componentsl": np.eye(45), "hands_componentsr": np.eye(45),
            "hands_meanl": np.zeros(45), "hands_meanr": np.zeros(45),
            "lmk_faces_idx": faces_near_head[:51].astype(np.int64),
            "lmk_bary_coords": np.full((51, 3), 1.0 / 3.0),
            "dynamic_lmk_faces_idx": np.tile(faces_near_head[:17], (79, 1)).astype(np.int64),
            "dynamic_lmk_bary_coords": np.full((79, 17, 3), 1.0 / 3.0),
        }
    return out


def write_synthetic_smpl(folder: str | Path, gender: str = "neutral", seed: int = 0,
                         model_type: str = "smpl") -> Path:
    """Write ``folder/SMPL_{GENDER}.npz`` (or ``SMPLX_{GENDER}.npz``) and return its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{model_type.upper()}_{gender.upper()}.npz"
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **build_model_arrays(seed, model_type))
    tmp.replace(path)
    return path
