"""Derived factors: what an image shows of the person, computed from a sample's ground truth -
the causes a pose model meets, one step closer than the scene parameters that produce them (a
person 40 px tall, whatever the distance, lens or body). Every factor is a plain number,
defined for every sample (no NaN): ``derived_factors(sample)`` from a rendered sample,
``geometric_factors`` from geometry alone (what needs no pixels: the examiner's models that
read none get these, the pixel factors are then None)."""

from __future__ import annotations

import numpy as np

from synthgen.body.skeleton import COCO_KEYPOINTS, SMPL_JOINTS

#: limb name -> (keypoint a, keypoint b); "torso" joins the shoulders' and the hips' midpoints
LIMBS: dict[str, tuple[str, str]] = {
    "left_upper_arm": ("left_shoulder", "left_elbow"), "right_upper_arm": ("right_shoulder", "right_elbow"),
    "left_forearm": ("left_elbow", "left_wrist"), "right_forearm": ("right_elbow", "right_wrist"),
    "left_thigh": ("left_hip", "left_knee"), "right_thigh": ("right_hip", "right_knee"),
    "left_shin": ("left_knee", "left_ankle"), "right_shin": ("right_knee", "right_ankle"),
}

#: name -> (unit, meaning); the order is the order of every table and matrix
FACTORS: dict[str, tuple[str, str]] = {
    "person_height_px": ("px", "person height in the image (the whole silhouette, occluded parts included)"),
    "person_box_area_px": ("px^2", "area of the box of the whole silhouette"),
    "keypoints_visible": ("", "share of the 17 keypoints visible"),
    "keypoints_occluded_by_object": ("", "share of the 17 keypoints hidden by an occluder"),
    "keypoints_self_occluded": ("", "share of the 17 keypoints hidden by the body itself"),
    "keypoints_outside": ("", "share of the 17 keypoints outside the image"),
    "mask_occluded": ("", "share of the person's silhouette covered by an occluder"),
    "truncation": ("", "share of the 24 body joints outside the image"),
    **{f"foreshortening_{limb}": ("", f"{limb.replace('_', ' ')}: projected over true length (1 across the view, "
                                      "0 pointing at the camera)") for limb in [*LIMBS, "torso"]},
    "foreshortening_min": ("", "the most foreshortened limb's projected over true length"),
    "body_depth_ratio": ("", "the body's extent along the line of sight over its extent across it"),
    "background_contrast": ("", "luminance difference between the person and the background at the silhouette "
                                "(0..1)"),
    "facing_angle_deg": ("deg", "angle between the body's facing direction and the camera (0 facing it, "
                                "180 from behind); folds camera yaw, body yaw and trunk twist into one"),
}
#: the factors that need the rendered pixels (None for samples without them)
PIXEL_FACTORS = ("keypoints_visible", "keypoints_occluded_by_object", "keypoints_self_occluded", "mask_occluded",
                 "background_contrast")
_KP = {n: i for i, n in enumerate(COCO_KEYPOINTS)}
_J = {n: i for i, n in enumerate(SMPL_JOINTS)}
BAND_PX = 2  # the silhouette band the contrast is measured in


def label(name: str) -> str:
    """'person_height_px' -> 'person height (px)'."""
    unit = FACTORS[name][0]
    base = name.removesuffix("_px").removesuffix("_deg").replace("_", " ")
    return f"{base} ({unit})" if unit else base


def _project(points: np.ndarray, K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = points[:, 2]
    safe = np.where(z > 1e-6, z, 1e-6)
    uv = (points @ K.T)[:, :2] / safe[:, None]
    return uv, z > 1e-6


def _inside(uv: np.ndarray, front: np.ndarray, width: int, height: int) -> np.ndarray:
    return front & (uv[:, 0] >= -0.5) & (uv[:, 0] < width - 0.5) & (uv[:, 1] >= -0.5) & (uv[:, 1] < height - 0.5)


def geometric_factors(keypoints2d: np.ndarray, keypoints3d: np.ndarray, joints3d: np.ndarray, K: np.ndarray,
                      width: int, height: int, box: np.ndarray | None = None) -> dict[str, float]:
    """The factors that need no pixels; camera coordinates (x right, y down, z forward), metres.
    ``box``: [x, y, w, h] of the whole silhouette in the image (from a mask or projected
    vertices); None: the box of the projected keypoints and joints."""
    kp2d, kp3d, j3d = (np.asarray(a, dtype=np.float64) for a in (keypoints2d, keypoints3d, joints3d))
    K = np.asarray(K, dtype=np.float64)
    out: dict[str, float] = {}
    if box is None:
        uv, front = _project(np.concatenate([kp3d, j3d]), K)
        pts = np.clip(uv[front], -0.5, [width - 0.5, height - 0.5]) if front.any() else np.zeros((1, 2))
        box = np.array([*pts.min(0), *(pts.max(0) - pts.min(0))])
    out["person_height_px"] = float(box[3])
    out["person_box_area_px"] = float(box[2] * box[3])
    kp_uv, kp_front = _project(kp3d, K)
    out["keypoints_outside"] = float(1.0 - _inside(kp2d, kp_front, width, height).mean())
    j_uv, j_front = _project(j3d, K)
    out["truncation"] = float(1.0 - _inside(j_uv, j_front, width, height).mean())
    focal = 0.5 * (K[0, 0] + K[1, 1])
    ratios = {}
    segments = {limb: (kp3d[_KP[a]], kp3d[_KP[b]], kp2d[_KP[a]], kp2d[_KP[b]]) for limb, (a, b) in LIMBS.items()}
    mid = lambda arr, a, b: 0.5 * (arr[_KP[a]] + arr[_KP[b]])  # noqa: E731
    segments["torso"] = (mid(kp3d, "left_shoulder", "right_shoulder"), mid(kp3d, "left_hip", "right_hip"),
                         mid(kp2d, "left_shoulder", "right_shoulder"), mid(kp2d, "left_hip", "right_hip"))
    for limb, (A, B, a, b) in segments.items():
        z = 0.5 * (A[2] + B[2])
        length = np.linalg.norm(A - B)
        if z <= 1e-6 or length < 1e-9 or A[2] <= 1e-6 or B[2] <= 1e-6:
            ratios[limb] = 0.0  # reaching behind the camera: nothing of it is seen at length
        else:
            ratios[limb] = float(np.clip(np.linalg.norm(a - b) / (focal * length / z), 0.0, 1.0))
        out[f"foreshortening_{limb}"] = ratios[limb]
    out["foreshortening_min"] = min(out[f"foreshortening_{limb}"] for limb in ratios)
    across = max(np.ptp(j3d[:, 0]), np.ptp(j3d[:, 1]), 1e-6)
    out["body_depth_ratio"] = float(np.ptp(j3d[:, 2]) / across)
    left = j3d[_J["left_hip"]] - j3d[_J["right_hip"]]
    up = j3d[_J["neck"]] - j3d[_J["pelvis"]]
    facing = np.cross(left, up)
    to_camera = -j3d[_J["pelvis"]]
    norm = np.linalg.norm(facing) * np.linalg.norm(to_camera)
    cos = float(np.dot(facing, to_camera) / norm) if norm > 1e-12 else 1.0
    out["facing_angle_deg"] = float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
    return {k: (round(float(out[k]), 6) if k in out else None) for k in FACTORS}


def derived_factors(sample) -> dict[str, float]:
    """Every factor of a rendered ``synthgen.sample.Sample``."""
    from scipy import ndimage

    H, W = sample.mask_amodal.shape
    amodal = sample.mask_amodal
    rows, cols = np.nonzero(amodal.any(1))[0], np.nonzero(amodal.any(0))[0]
    box = np.array([cols[0], rows[0], cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1], dtype=np.float64) \
        if len(rows) else np.zeros(4)
    out = geometric_factors(sample.keypoints2d, sample.keypoints3d, sample.joints3d, sample.K, W, H, box)
    vis = np.asarray(sample.visibility)
    px = np.clip(np.round(sample.keypoints2d).astype(int), 0, [W - 1, H - 1])
    behind_object = sample.objects[px[:, 1], px[:, 0]] >= 2
    out["keypoints_visible"] = float((vis == 2).mean())
    out["keypoints_occluded_by_object"] = float(((vis == 1) & behind_object).mean())
    out["keypoints_self_occluded"] = float(((vis == 1) & ~behind_object).mean())
    out["mask_occluded"] = float((amodal & (sample.objects >= 2)).sum() / amodal.sum()) if amodal.any() else 0.0
    seen = sample.mask_visible
    inner = seen & ~ndimage.binary_erosion(seen, iterations=BAND_PX)
    outer = ndimage.binary_dilation(seen, iterations=BAND_PX) & ~seen & (sample.objects == 0)
    if inner.any() and outer.any():
        lum = sample.image.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
        out["background_contrast"] = float(abs(lum[inner].mean() - lum[outer].mean()) / 255.0)
    else:
        out["background_contrast"] = 0.0
    return {k: round(float(out[k]), 6) for k in FACTORS}  # noqa: every factor is set above
