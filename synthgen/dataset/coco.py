"""COCO keypoints and DensePose-COCO records of rendered samples.

Coordinates follow COCO: keypoints are pixel indices (the centre of pixel (0, 0) is (0, 0), as
synthgen's keypoints), boxes and masks are continuous ([0, W] x [0, H], pixel (i, j) covering
[i, i + 1) x [j, j + 1)). DensePose fields follow DensePose-COCO: ``dp_x`` / ``dp_y`` in
[0, 255] across the box, ``dp_I`` the part (1..24), ``dp_U`` / ``dp_V`` in [0, 1], and
``dp_masks`` 14 run-length encoded 256 x 256 coarse-part masks over the box ([] when empty)."""

from __future__ import annotations

import numpy as np
from pycocotools import mask as mask_utils

from synthgen.body.skeleton import COCO_KEYPOINTS, COCO_SKELETON, DENSEPOSE_COARSE

DP_MASK_SIZE = 256

CATEGORIES = [{
    "id": 1, "name": "person", "supercategory": "person",
    "keypoints": list(COCO_KEYPOINTS), "skeleton": [list(e) for e in COCO_SKELETON],
}]

#: fine DensePose part (index) -> coarse segment of dp_masks (0: none)
_COARSE_OF_PART = np.zeros(25, dtype=np.uint8)
for _coarse, (_name, _parts) in DENSEPOSE_COARSE.items():
    _COARSE_OF_PART[list(_parts)] = _coarse


def rle(mask: np.ndarray) -> dict:
    """COCO compressed RLE of a boolean mask, JSON-ready (counts as text)."""
    enc = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in enc["size"]], "counts": enc["counts"].decode("ascii")}


def image_record(image_id: int, file_name: str, width: int, height: int, index: int) -> dict:
    return {"id": image_id, "file_name": file_name, "width": width, "height": height, "synthgen_index": index}


def person_annotation(sample, ann_id: int, image_id: int, densepose: bool, rng: np.random.Generator,
                      dp_points: int = 100) -> dict | None:
    """The person of ``sample`` as a COCO annotation (None when no pixel of it is visible)."""
    visible = sample.mask_visible
    area = int(visible.sum())
    if area == 0:
        return None
    seg = rle(visible)
    x, y, w, h = (float(v) for v in mask_utils.toBbox({"size": seg["size"], "counts": seg["counts"].encode()}))
    keypoints = []
    for (u, v), vis in zip(sample.keypoints2d.tolist(), sample.visibility.tolist()):
        keypoints += [round(u, 3), round(v, 3), int(vis)] if vis > 0 else [0, 0, 0]
    ann = {
        "id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0,
        "keypoints": keypoints, "num_keypoints": int((sample.visibility > 0).sum()),
        "bbox": [x, y, w, h], "area": area, "segmentation": seg,
    }
    if densepose:
        ann |= densepose_fields(sample, (int(x), int(y), int(w), int(h)), rng, dp_points)
    return ann


def densepose_fields(sample, box: tuple[int, int, int, int], rng: np.random.Generator, n_points: int) -> dict:
    """dp_x, dp_y, dp_I, dp_U, dp_V at up to ``n_points`` random visible body pixels, and
    dp_masks: the coarse segments resampled (nearest) to 256 x 256 over the box. Pixels under
    a garment carry the body surface point beneath it, as DensePose annotators mark them."""
    x0, y0, w, h = box
    on_body = sample.mask_visible & (sample.parts > 0)
    ys, xs = np.nonzero(on_body)
    pick = np.sort(rng.choice(len(xs), size=min(n_points, len(xs)), replace=False)) if len(xs) else np.zeros(0, int)
    ys, xs = ys[pick], xs[pick]
    coarse = np.where(on_body, _COARSE_OF_PART[sample.parts], 0)
    centres = (np.arange(DP_MASK_SIZE) + 0.5) / DP_MASK_SIZE
    rows = np.clip(np.floor(y0 + centres * h).astype(int), 0, coarse.shape[0] - 1)
    cols = np.clip(np.floor(x0 + centres * w).astype(int), 0, coarse.shape[1] - 1)
    grid = coarse[rows[:, None], cols[None, :]]
    masks = []
    for c in range(1, len(DENSEPOSE_COARSE) + 1):
        m = grid == c
        masks.append(rle(m) if m.any() else [])
    return {
        "dp_x": [round(float((px + 0.5 - x0) / w * 255.0), 3) for px in xs],
        "dp_y": [round(float((py + 0.5 - y0) / h * 255.0), 3) for py in ys],
        "dp_I": [int(sample.parts[py, px]) for py, px in zip(ys, xs)],
        "dp_U": [round(float(sample.uv[py, px, 0]), 5) for py, px in zip(ys, xs)],
        "dp_V": [round(float(sample.uv[py, px, 1]), 5) for py, px in zip(ys, xs)],
        "dp_masks": masks,
    }


def coco_document(images: list[dict], annotations: list[dict], description: str) -> dict:
    return {
        "info": {"description": description, "version": "1.0", "contributor": "synthgen"},
        "licenses": [], "images": images, "annotations": annotations, "categories": CATEGORIES,
    }
