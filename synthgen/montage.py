"""Pictures a person looks at: one sample as RGB | parts | IUV | depth | keypoints, and a grid
of samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from synthgen.body.skeleton import COCO_SKELETON
from synthgen.sample import Sample

VIS_COLOURS = {2: (40, 220, 60), 1: (255, 150, 0)}  # visible, occluded


def part_colours() -> np.ndarray:
    """(25, 3) uint8: 0 background (black), 1..24 DensePose parts."""
    import matplotlib

    cmap = matplotlib.colormaps["tab20"]
    return np.array([(0, 0, 0)] + [tuple(int(255 * c) for c in cmap((i * 7) % 20)[:3]) for i in range(24)],
                    dtype=np.uint8)


def draw_keypoints(image: np.ndarray, kp2d: np.ndarray, vis: np.ndarray) -> np.ndarray:
    im = Image.fromarray(image.copy())
    d = ImageDraw.Draw(im)
    r = max(2, image.shape[0] // 120)
    for a, b in COCO_SKELETON:
        a, b = a - 1, b - 1
        if vis[a] and vis[b]:
            colour = (255, 255, 255) if vis[a] == 2 and vis[b] == 2 else (160, 160, 160)
            d.line([tuple(kp2d[a]), tuple(kp2d[b])], fill=colour, width=max(1, r // 2))
    for (x, y), v in zip(kp2d, vis):
        if v:
            d.ellipse([x - r, y - r, x + r, y + r], fill=VIS_COLOURS[int(v)], outline=(0, 0, 0))
    return np.asarray(im)


def panels(s: Sample) -> list[tuple[str, np.ndarray]]:
    parts = part_colours()[s.parts]
    iuv = np.zeros_like(s.image)
    iuv[..., 0] = (s.parts.astype(np.float32) * (255 / 24)).astype(np.uint8)
    iuv[..., 1:] = (s.uv * 255).astype(np.uint8)
    iuv[s.parts == 0] = 0
    depth = np.zeros(s.depth.shape + (3,), dtype=np.uint8)
    hit = s.depth > 0
    if hit.any():
        import matplotlib

        d = s.depth[hit]
        norm = (s.depth - d.min()) / max(d.max() - d.min(), 1e-6)
        depth[hit] = (matplotlib.colormaps["viridis"](1 - norm[hit])[:, :3] * 255).astype(np.uint8)
    return [("RGB", s.image), ("parts", parts), ("IUV", iuv), ("depth", depth),
            ("keypoints (green visible, orange occluded)", draw_keypoints(s.image, s.keypoints2d, s.visibility))]


def save_png(image: Image.Image, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    image.save(tmp, format="PNG")
    tmp.replace(path)
    return path


def sample_montage(s: Sample, path: str | Path) -> Path:
    items = panels(s)
    h, w = s.image.shape[:2]
    cap = 16
    out = Image.new("RGB", (w * len(items), h + cap), "white")
    draw = ImageDraw.Draw(out)
    for i, (label, img) in enumerate(items):
        out.paste(Image.fromarray(img), (i * w, cap))
        draw.text((i * w + 4, 2), label[: w // 6], fill=(0, 0, 0))
    return save_png(out, path)


def grid(images: list[np.ndarray], labels: list[str], path: str | Path, columns: int = 5) -> Path:
    h, w = images[0].shape[:2]
    cap = 16
    rows = (len(images) + columns - 1) // columns
    out = Image.new("RGB", (columns * w, rows * (h + cap)), "white")
    draw = ImageDraw.Draw(out)
    for k, (img, label) in enumerate(zip(images, labels)):
        x, y = (k % columns) * w, (k // columns) * (h + cap)
        out.paste(Image.fromarray(img), (x, y + cap))
        draw.text((x + 4, y + 2), label[: w // 6], fill=(0, 0, 0))
    return save_png(out, path)
