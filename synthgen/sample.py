"""The Sample record: one rendered image with every label, and how it is saved."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from synthgen.body.skeleton import COCO_KEYPOINTS, SMPL_JOINTS

@dataclass
class Sample:
    """Image + ground truth. Camera: OpenCV (x right, y down, z forward), x_cam = R x_world + t.

    Per pixel (H, W[, C]): ``image`` uint8 RGB; ``depth`` float32 metres (0: nothing);
    ``normals`` float32 unit camera-space normals; ``mask_visible`` / ``mask_amodal`` bool
    person masks; ``objects`` uint8 (0 background, 1 person, 2.. occluders); ``parts`` uint8
    DensePose part 0..24; ``uv`` float32 (U, V) in [0, 1] within the part (DensePose IUV is
    parts + uv); ``vertex_ids`` int32 (H, W, 3) and ``bary`` float32 (H, W, 3): the body surface
    point; ``template_xyz`` float32 its position on the template body (rest pose, default
    shape); ``garment`` uint8 0 skin / 1 garment; ``garment_class`` uint8 (0: none).

    Per sample: ``keypoints2d`` (17, 2) pixels, ``visibility`` (17,) COCO 2 visible / 1 occluded
    (self or occluder, by depth test) / 0 outside the image; ``keypoints3d`` (17, 3) and
    ``joints3d`` (24, 3) camera coordinates in metres; ``bbox`` [x, y, w, h] of the visible
    mask (COCO); ``K``, ``R``, ``t``; ``params`` the full parameter dict; ``seed``."""

    image: np.ndarray
    depth: np.ndarray
    normals: np.ndarray
    mask_visible: np.ndarray
    mask_amodal: np.ndarray
    objects: np.ndarray
    parts: np.ndarray
    uv: np.ndarray
    vertex_ids: np.ndarray
    bary: np.ndarray
    template_xyz: np.ndarray
    garment: np.ndarray
    garment_class: np.ndarray
    keypoints2d: np.ndarray
    visibility: np.ndarray
    keypoints3d: np.ndarray
    joints3d: np.ndarray
    bbox: np.ndarray
    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    params: dict = field(default_factory=dict)
    seed: int = 0

    @property
    def size(self) -> tuple[int, int]:
        return self.image.shape[1], self.image.shape[0]

    def iuv(self) -> np.ndarray:
        """(H, W, 3) uint8 DensePose-style IUV image: I part id, U and V scaled to 0..255."""
        return np.dstack([self.parts, np.round(self.uv * 255).astype(np.uint8)])

    def meta(self) -> dict:
        return {
            "seed": self.seed, "width": self.size[0], "height": self.size[1],
            "K": self.K.tolist(), "R": self.R.tolist(), "t": self.t.tolist(),
            "bbox": self.bbox.tolist(), "keypoint_names": list(COCO_KEYPOINTS),
            "keypoints2d": self.keypoints2d.tolist(), "visibility": self.visibility.tolist(),
            "keypoints3d": self.keypoints3d.tolist(), "joint_names": list(SMPL_JOINTS),
            "joints3d": self.joints3d.tolist(), "params": self.params,
        }

    def label_arrays(self) -> dict[str, np.ndarray]:
        """Every per-pixel label by name (what ``*_labels.npz`` files hold)."""
        return dict(depth=self.depth, normals=self.normals, mask_visible=self.mask_visible,
                    mask_amodal=self.mask_amodal, objects=self.objects, parts=self.parts, uv=self.uv,
                    vertex_ids=self.vertex_ids, bary=self.bary, template_xyz=self.template_xyz,
                    garment=self.garment, garment_class=self.garment_class)

    def save(self, folder: str | Path, stem: str = "sample") -> list[Path]:
        """``stem.png`` (RGB), ``stem.json`` (camera, keypoints, params), ``stem_labels.npz``
        (every per-pixel label). Each file is written to a temporary name, then renamed."""
        from synthgen.dataset.files import json_bytes, npz_bytes, png_bytes, write_atomic

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = [folder / f"{stem}.png", folder / f"{stem}.json", folder / f"{stem}_labels.npz"]
        for path, data in zip(paths, (png_bytes(self.image), json_bytes(self.meta()), npz_bytes(**self.label_arrays()))):
            write_atomic(path, data)
        return paths
