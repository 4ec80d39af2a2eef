"""Per-vertex surface labels computed the same way on every backend: DensePose part ids,
DensePose-style (U, V) within each part, and vertex-based COCO-17 keypoint regressors.

Everything here reads a rest mesh (Y-up, facing +Z), the SMPL-named rest joints and, for each
vertex, the SMPL joint whose segment moves it most (from the skinning weights)."""

from __future__ import annotations

import numpy as np
import torch

from synthgen.body.skeleton import (
    COCO_KEYPOINTS,
    DENSEPOSE_PART_IDS,
    SMPL_JOINTS,
    SMPL_PARENTS,
    joint_index,
)

_TORSO = ("pelvis", "spine1", "spine2", "spine3", "left_collar", "right_collar")
_HEAD = ("neck", "head")

#: segment -> (coarse part, joint at the part's proximal end, joint at its distal end)
_COARSE: dict[str, tuple[str, str, str]] = {}
for _s in _TORSO:
    _COARSE[_s] = ("torso", "pelvis", "neck")
for _s in _HEAD:
    _COARSE[_s] = ("head", "neck", "head")
for _side in ("left", "right"):
    _COARSE[f"{_side}_shoulder"] = (f"upper_arm_{_side}", f"{_side}_shoulder", f"{_side}_elbow")
    _COARSE[f"{_side}_elbow"] = (f"lower_arm_{_side}", f"{_side}_elbow", f"{_side}_wrist")
    for _s in ("wrist", "hand"):
        _COARSE[f"{_side}_{_s}"] = (f"{_side}_hand", f"{_side}_wrist", f"{_side}_hand")
    _COARSE[f"{_side}_hip"] = (f"upper_leg_{_side}", f"{_side}_hip", f"{_side}_knee")
    _COARSE[f"{_side}_knee"] = (f"lower_leg_{_side}", f"{_side}_knee", f"{_side}_ankle")
    for _s in ("ankle", "foot"):
        _COARSE[f"{_side}_{_s}"] = (f"{_side}_foot", f"{_side}_ankle", f"{_side}_foot")

_FORWARD = np.array([0.0, 0.0, 1.0])
_LEFT = np.array([1.0, 0.0, 0.0])


def vertex_segments(skin_weights: np.ndarray, bone_segment: np.ndarray) -> np.ndarray:
    """(V,) SMPL joint index of the segment that weighs most on each vertex.
    ``skin_weights``: (V, NB); ``bone_segment``: (NB,) SMPL joint index of each bone."""
    per_segment = np.zeros((skin_weights.shape[0], len(SMPL_JOINTS)))
    np.add.at(per_segment.T, bone_segment, skin_weights.T)
    return per_segment.argmax(1)


def _split_name(coarse: str, front: bool) -> str:
    if coarse == "torso":
        return "torso_front" if front else "torso_back"
    if coarse == "head":
        return "head_left" if front else "head_right"
    if coarse.endswith("hand") or coarse.endswith("foot"):
        return coarse
    limb, side = coarse.rsplit("_", 1)
    return f"{limb}_{side}_{'front' if front else 'back'}"


def part_labels_and_uv(
    rest_vertices: np.ndarray, rest_joints: np.ndarray, segments: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """DensePose part id (V,) and (U, V) (V, 2) of every vertex.

    U runs along the part's axis (0 at its proximal end, 1 at its distal end, over the part's
    own vertices); V goes around the axis, over [0, 1] within each half (front/back, or
    left/right for the head; hands and feet are one part and use the whole turn)."""
    labels = np.zeros(len(rest_vertices), dtype=np.int64)
    uv = np.zeros((len(rest_vertices), 2), dtype=np.float64)
    coarse_of = np.array([_COARSE[s][0] for s in SMPL_JOINTS])[segments]
    for coarse in np.unique(coarse_of):
        sel = np.nonzero(coarse_of == coarse)[0]
        _, a, b = next(v for v in _COARSE.values() if v[0] == coarse)
        start, end = rest_joints[joint_index(a)], rest_joints[joint_index(b)]
        axis = end - start
        axis = axis / max(np.linalg.norm(axis), 1e-9)
        rel = rest_vertices[sel] - start
        t = rel @ axis
        u = (t - t.min()) / max(t.max() - t.min(), 1e-9)
        split = _LEFT if coarse == "head" else _FORWARD
        split = split - (split @ axis) * axis
        split = split / max(np.linalg.norm(split), 1e-9)
        side = np.cross(axis, split)
        radial = rel - t[:, None] * axis
        phi = np.arctan2(radial @ side, radial @ split)  # 0 at the split direction
        whole = coarse.endswith("hand") or coarse.endswith("foot")
        if whole:
            front = np.ones(len(sel), dtype=bool)
            v = (phi + np.pi) / (2 * np.pi)
        else:
            front = np.abs(phi) <= np.pi / 2
            phi_half = np.where(front, phi, np.angle(np.exp(1j * (phi - np.pi))))
            v = (phi_half + np.pi / 2) / np.pi
        ids = np.array(
            [DENSEPOSE_PART_IDS[_split_name(coarse, f)] for f in (False, True)]
        )
        labels[sel] = ids[front.astype(int)]
        uv[sel, 0] = u
        uv[sel, 1] = np.clip(v, 0.0, 1.0)
    return labels, uv


def _ring(rest_vertices, segments, joints, joint: str, slab: float) -> np.ndarray:
    """Vertices in a thin slab across the limb at ``joint``, from the two segments it links."""
    j = joint_index(joint)
    parent = SMPL_PARENTS[j]
    child = next(i for i, p in enumerate(SMPL_PARENTS) if p == j)
    axis = joints[child] - joints[parent]
    axis = axis / np.linalg.norm(axis)
    near = np.isin(segments, [parent, j, child])
    d = np.abs((rest_vertices - joints[j]) @ axis)
    dist = np.linalg.norm(rest_vertices - joints[j], axis=1)
    for width in (slab, 2 * slab, 4 * slab):
        sel = np.nonzero(near & (d < width) & (dist < 0.2))[0]
        if len(sel) >= 3:
            return sel
    return np.argsort(dist)[:8]


def face_keypoint_vertices(
    rest_vertices: np.ndarray, rest_joints: np.ndarray, segments: np.ndarray
) -> dict[str, int]:
    """Single vertices for nose, eyes and ears, found on the head geometry."""
    head_seg = joint_index("head")
    head = np.nonzero(segments == head_seg)[0]
    if len(head) == 0:
        head = np.nonzero(np.isin(segments, [head_seg, joint_index("neck")]))[0]
    hv = rest_vertices[head]
    centre = rest_joints[head_seg]
    top = hv[:, 1].max()
    size = max(top - centre[1], 1e-3)
    nose = head[np.argmax(hv[:, 2] - 4 * np.abs(hv[:, 0]))]
    picks = {"nose": int(nose)}
    ny = rest_vertices[nose, 1]
    for side, sign in (("left", 1.0), ("right", -1.0)):
        eye_score = hv[:, 2] - 3 * np.abs(hv[:, 1] - (ny + 0.25 * size)) - 3 * np.abs(
            hv[:, 0] - sign * 0.3 * size
        )
        picks[f"{side}_eye"] = int(head[np.argmax(eye_score)])
        ear_score = sign * hv[:, 0] - 2 * np.abs(hv[:, 1] - ny) - np.abs(hv[:, 2] - centre[2])
        picks[f"{side}_ear"] = int(head[np.argmax(ear_score)])
    return picks


def coco_regressor(
    rest_vertices: np.ndarray,
    rest_joints: np.ndarray,
    segments: np.ndarray,
    face_vertices: dict[str, int] | None = None,
) -> np.ndarray:
    """(17, V) vertex regressor for COCO-17: face keypoints are single surface vertices,
    limb keypoints the centroid of a ring of vertices across the limb at the joint."""
    V = len(rest_vertices)
    slab = 0.012
    face = face_vertices or face_keypoint_vertices(rest_vertices, rest_joints, segments)
    W = np.zeros((len(COCO_KEYPOINTS), V))
    for k, name in enumerate(COCO_KEYPOINTS):
        if name in face:
            W[k, face[name]] = 1.0
        else:
            sel = _ring(rest_vertices, segments, rest_joints, name, slab)
            W[k, sel] = 1.0 / len(sel)
    return W


def regress(W: tuple[torch.Tensor, torch.Tensor], verts: torch.Tensor) -> torch.Tensor:
    """(K, V) regressor, given as (dense, sparse COO) copies, applied to (B, V, 3) vertices
    -> (B, K, 3). Dense is faster for a few bodies, sparse for many."""
    B, V, _ = verts.shape
    if B < 8:
        return torch.matmul(W[0], verts)
    flat = verts.permute(1, 0, 2).reshape(V, B * 3)
    return torch.sparse.mm(W[1], flat).reshape(-1, B, 3).permute(1, 0, 2)


def dense_and_sparse(W: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return W.contiguous(), W.to_sparse()
