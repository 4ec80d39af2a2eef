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


def build_model_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    J = t_pose_joints()
    verts, faces, owner = [], [], []
    for j, end, r in _segments(J):
        start = J[j]
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
    V = len(v)
    # skinning: the owning joint, blended with the parent near the joint
    weights = np.zeros((V, 24))
    weights[np.arange(V), owner] = 1.0
    for j in range(1, 24):
        sel = owner == j
        d = np.linalg.norm(v[sel] - J[j], axis=1)
        blend = np.clip(1.0 - d / 0.08, 0.0, 0.5)
        weights[np.nonzero(sel)[0], j] -= blend
        weights[np.nonzero(sel)[0], SMPL_PARENTS[j]] += blend
    # joint regressor: each joint is the mean of the vertices near it (rows sum to 1)
    J_regressor = np.zeros((24, V))
    for j in range(24):
        d = np.linalg.norm(v - J[j], axis=1)
        near = np.argsort(d)[:12]
        J_regressor[j, near] = 1.0 / len(near)
    # shape: beta0 ~ height (scale about the pelvis), beta1 ~ girth, the rest small smooth fields
    shapedirs = np.zeros((V, 3, 10))
    shapedirs[:, :, 0] = 0.03 * v
    radial = v - J[owner]
    radial -= (radial * 0).sum(1, keepdims=True)
    shapedirs[:, :, 1] = 0.1 * radial
    for k in range(2, 10):
        freq = rng.normal(size=3) * 3
        shapedirs[:, :, k] = 0.004 * np.sin(v @ freq)[:, None] * rng.normal(size=3)
    posedirs = rng.normal(scale=1e-4, size=(V, 3, 207))
    kintree = np.array([[4294967295] + list(SMPL_PARENTS[1:]), list(range(24))], dtype=np.int64)
    return {
        "v_template": v, "f": f, "shapedirs": shapedirs, "posedirs": posedirs,
        "J_regressor": J_regressor, "weights": weights, "kintree_table": kintree,
    }


def write_synthetic_smpl(folder: str | Path, gender: str = "neutral", seed: int = 0) -> Path:
    """Write ``folder/SMPL_{GENDER}.npz`` and return its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"SMPL_{gender.upper()}.npz"
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **build_model_arrays(seed))
    tmp.replace(path)
    return path
