"""Labels of a rendered sample from the exact visibility pass: masks, parts, IUV, surface
points, normals, depth, and COCO-17 keypoints with visibility decided by a depth test."""

from __future__ import annotations

import numpy as np
import torch

from synthgen.body.skeleton import COCO_KEYPOINTS, DENSEPOSE_PART_IDS

from synthgen.render.raster import Raster


def vertex_normals(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """(V, 3) area-weighted unit vertex normals."""
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    fn = torch.cross(b - a, c - a, dim=1)
    n = torch.zeros_like(verts)
    for k in range(3):
        n.index_add_(0, faces[:, k], fn)
    return n / n.norm(dim=1, keepdim=True).clamp_min(1e-12)


def surface_labels(raster: Raster, faces: torch.Tensor, label_faces: torch.Tensor, face_kind: torch.Tensor,
                   part_labels: torch.Tensor, part_uv: torch.Tensor, template: torch.Tensor,
                   normals_cam: torch.Tensor) -> dict:
    """Per-pixel labels. ``faces`` index the combined vertex array (depth, normals);
    ``label_faces`` give, per face, the three body vertices whose surface it shows (a
    garment face: the body under it); ``face_kind`` is 0 for skin, a garment class id
    (1..6) for garments, -1 for occluders."""
    H, W = raster.face.shape
    face = raster.face
    hit = face >= 0
    kind = torch.where(hit, face_kind[face.clamp_min(0)], torch.full_like(face, -2))
    body = hit & (kind >= 0)
    objects = torch.zeros(H, W, dtype=torch.uint8)
    objects[body] = 1
    objects[hit & ~body] = 2  # occluders (one for now)
    garment_class = torch.where(body, kind, torch.zeros_like(kind)).to(torch.uint8)
    ids = torch.zeros(H, W, 3, dtype=torch.long)
    bary = torch.zeros(H, W, 3)
    ids[body] = label_faces[face[body]]
    bary[body] = raster.bary[body]
    # the part of a pixel is the part of its face's vertex with the largest weight; U, V
    # interpolate over the face's vertices of that part (exact on a part's interior)
    vid, b = ids[body], bary[body]
    lab = part_labels[vid]  # (N, 3)
    main = lab.gather(1, b.argmax(1, keepdim=True))[:, 0]
    same = (lab == main[:, None]).float() * b
    same = same / same.sum(1, keepdim=True)
    parts = torch.zeros(H, W, dtype=torch.uint8)
    parts[body] = main.to(torch.uint8)
    uv = torch.zeros(H, W, 2)
    uv[body] = (same[..., None] * part_uv[vid].float()).sum(1)
    tmpl = torch.zeros(H, W, 3)
    tmpl[body] = (b[..., None] * template[vid].float()).sum(1)
    nrm = torch.zeros(H, W, 3)
    all_ids = faces[face[hit]]
    n = (raster.bary[hit][..., None] * normals_cam[all_ids].float()).sum(1)
    nrm[hit] = n / n.norm(dim=1, keepdim=True).clamp_min(1e-12)
    depth = torch.where(hit, raster.depth, torch.zeros_like(raster.depth))
    return {
        "garment_class": garment_class.numpy(), "garment": (garment_class > 0).numpy().astype(np.uint8),
        "objects": objects.numpy(), "mask_visible": body.numpy(), "parts": parts.numpy(),
        "uv": uv.numpy(), "vertex_ids": ids.to(torch.int32).numpy(), "bary": bary.numpy(),
        "template_xyz": tmpl.numpy(), "normals": nrm.numpy(), "depth": depth.numpy().astype(np.float32),
    }


def _own_parts() -> list[set[int]]:
    """DensePose parts on which each COCO keypoint may be seen (its own limb and neighbours)."""
    P = DENSEPOSE_PART_IDS
    head = {P["head_left"], P["head_right"]}
    torso = {P["torso_front"], P["torso_back"]}
    own = {}
    for side in ("left", "right"):
        ua = {P[f"upper_arm_{side}_front"], P[f"upper_arm_{side}_back"]}
        la = {P[f"lower_arm_{side}_front"], P[f"lower_arm_{side}_back"]}
        ul = {P[f"upper_leg_{side}_front"], P[f"upper_leg_{side}_back"]}
        ll = {P[f"lower_leg_{side}_front"], P[f"lower_leg_{side}_back"]}
        own |= {f"{side}_shoulder": torso | ua, f"{side}_elbow": ua | la,
                f"{side}_wrist": la | {P[f"{side}_hand"]}, f"{side}_hip": torso | ul,
                f"{side}_knee": ul | ll, f"{side}_ankle": ll | {P[f"{side}_foot"]},
                f"{side}_eye": head, f"{side}_ear": head}
    own["nose"] = head
    return [own[k] for k in COCO_KEYPOINTS]


OWN_PARTS = _own_parts()
#: how far (m) the surface seen at a keypoint's pixel may be from it and still be its own:
#: face keypoints lie on the skin, the others inside a limb
SEEN_RADIUS = np.array([0.08 if k in ("nose", "left_eye", "right_eye") else 0.15 for k in COCO_KEYPOINTS])


def keypoint_visibility(kp_cam: np.ndarray, K: np.ndarray, depth_map: np.ndarray, objects: np.ndarray,
                        parts: np.ndarray) -> np.ndarray:
    """COCO visibility by a depth test at each keypoint's pixel: 0 outside the image; 1 when
    a surface in front of the keypoint is an occluder, or a body part that is not the
    keypoint's own limb, or further from it than SEEN_RADIUS (e.g. the back of the head in
    front of the nose); else 2."""
    H, W = depth_map.shape
    z = kp_cam[:, 2]
    uv = (kp_cam @ K.T)[:, :2] / np.where(z > 0, z, 1.0)[:, None]
    u, v = np.round(uv[:, 0]).astype(int), np.round(uv[:, 1]).astype(int)
    inside = (u >= 0) & (u < W) & (v >= 0) & (v < H) & (z > 0)
    vis = np.zeros(len(kp_cam), dtype=np.int64)
    Kinv = np.linalg.inv(K)
    for k in np.nonzero(inside)[0]:
        vis[k] = 2
        obj, d = objects[v[k], u[k]], depth_map[v[k], u[k]]
        if obj == 0 or d >= z[k]:
            continue  # nothing in front
        seen = d * (Kinv @ np.array([u[k], v[k], 1.0]))
        own = obj == 1 and parts[v[k], u[k]] in OWN_PARTS[k] and np.linalg.norm(seen - kp_cam[k]) <= SEEN_RADIUS[k]
        vis[k] = 2 if own else 1
    return vis


def bbox_of(mask: np.ndarray) -> np.ndarray:
    """[x, y, w, h] of a mask, in the keypoints' pixel coordinates (pixel centres at integers,
    so the box's edges sit at half-integers); zeros if empty."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return np.zeros(4, dtype=np.float32)
    return np.array([xs.min() - 0.5, ys.min() - 0.5, xs.max() - xs.min() + 1, ys.max() - ys.min() + 1],
                    dtype=np.float32)
