"""Training data for the heatmap baseline: synthgen dataset folders read into memory
(``KeypointDataset``) and augmented on the fly (scale, rotation, translation, horizontal flip
with left-right swap, colour jitter, noise), keypoints transformed with the pixels."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from examiner.models.base import N_KEYPOINTS
from examiner.models.keypoint_geometry import letterbox
from synthgen.errors import ConfigError, ParamError

#: COCO-17 keypoint index of each joint's mirror image (left <-> right)
FLIP_INDEX = (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)


# --- augmentation ---------------------------------------------------------------------------------
@dataclass
class AugmentConfig:
    scale: float = 0.25  # zoom factor in [1 - scale, 1 + scale]
    rotate: float = 25.0  # degrees, +-
    rotate_prob: float = 0.6
    translate: float = 0.1  # fraction of the input size, +-
    flip_prob: float = 0.5
    brightness: float = 0.3
    contrast: float = 0.3
    saturation: float = 0.4
    channel_gain: float = 0.1  # per-channel colour cast, +-
    gray_prob: float = 0.05
    noise: float = 0.03  # max Gaussian pixel noise (on [0, 1])

    def to_dict(self) -> dict:
        return asdict(self)


def augment_matrix(size: int, scale: float = 1.0, rotate_deg: float = 0.0, tx: float = 0.0, ty: float = 0.0,
                   flip: bool = False) -> np.ndarray:
    """2 x 3 affine map of input pixels to augmented input pixels (same square ``size``): zoom by
    ``scale`` and rotate by ``rotate_deg`` (counter-clockwise on screen) about the centre, shift by
    (tx, ty) pixels, then mirror horizontally if ``flip``."""
    c = (size - 1) / 2.0
    a = math.radians(rotate_deg)
    r = scale * np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    m = np.zeros((2, 3))
    m[:, :2] = r
    m[:, 2] = np.array([c + tx, c + ty]) - r @ np.array([c, c])
    if flip:
        m[0] = -m[0]
        m[0, 2] += size - 1
    return m


def sample_augmentation(b: int, size: int, cfg: AugmentConfig, rng: np.random.Generator
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Random affine maps (b, 2, 3) (see ``augment_matrix``) and flip flags (b,)."""
    flips = rng.random(b) < cfg.flip_prob
    scales = rng.uniform(1 - cfg.scale, 1 + cfg.scale, b)
    rots = np.where(rng.random(b) < cfg.rotate_prob, rng.uniform(-cfg.rotate, cfg.rotate, b), 0.0)
    shifts = rng.uniform(-cfg.translate, cfg.translate, (b, 2)) * size
    mats = np.stack([augment_matrix(size, scales[i], rots[i], shifts[i, 0], shifts[i, 1], flips[i]) for i in range(b)])
    return mats, flips


def warp(images: torch.Tensor, keypoints: torch.Tensor, matrices: np.ndarray, flips
         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply per-image affine maps (B, 2, 3) (input pixel -> output pixel, same size) to images
    (B, C, S, S) float and keypoints (B, 17, 2); where ``flips[i]`` the joints' left / right
    labels are swapped too, so a 'left_wrist' stays the person's left wrist."""
    b, _, h, w = images.shape
    m = torch.as_tensor(np.asarray(matrices), dtype=torch.float32)
    full = torch.cat([m, torch.tensor([0.0, 0.0, 1.0]).expand(b, 1, 3)], 1)
    inv = torch.linalg.inv(full)
    # pixel <-> normalised coordinates of grid_sample (align_corners=False)
    norm = torch.tensor([[2.0 / w, 0, 1.0 / w - 1], [0, 2.0 / h, 1.0 / h - 1], [0, 0, 1.0]])
    theta = norm @ inv @ torch.linalg.inv(norm)
    grid = F.affine_grid(theta[:, :2], list(images.shape), align_corners=False)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    kp = keypoints @ m[:, :, :2].transpose(1, 2) + m[:, None, :, 2]
    flips = torch.as_tensor(np.asarray(flips, dtype=bool))
    if flips.any():
        kp = torch.where(flips[:, None, None], kp[:, list(FLIP_INDEX)], kp)
    return out, kp


def flip_labels(values: torch.Tensor, flips) -> torch.Tensor:
    """Swap left / right joints of per-joint ``values`` (B, 17, ...) where ``flips``."""
    flips = torch.as_tensor(np.asarray(flips, dtype=bool))
    shape = (-1,) + (1,) * (values.dim() - 1)
    return torch.where(flips.view(shape), values[:, list(FLIP_INDEX)], values)


def colour_jitter(x: torch.Tensor, rng: np.random.Generator, cfg: AugmentConfig) -> torch.Tensor:
    """Random brightness / contrast / saturation / colour cast / grey / noise on (B, 3, H, W) in [0, 1]."""
    b = x.shape[0]

    def u(lo, hi, shape=(b,)):
        return torch.as_tensor(rng.uniform(lo, hi, shape), dtype=torch.float32)

    gray = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    sat = u(1 - cfg.saturation, 1 + cfg.saturation).view(b, 1, 1, 1)
    sat = torch.where(torch.as_tensor(rng.random(b) < cfg.gray_prob).view(b, 1, 1, 1), torch.zeros_like(sat), sat)
    x = gray + (x - gray) * sat
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = mean + (x - mean) * u(1 - cfg.contrast, 1 + cfg.contrast).view(b, 1, 1, 1)
    x = x * u(1 - cfg.brightness, 1 + cfg.brightness).view(b, 1, 1, 1)
    x = x * u(1 - cfg.channel_gain, 1 + cfg.channel_gain, (b, 3)).view(b, 3, 1, 1)
    if cfg.noise > 0:
        g = torch.Generator().manual_seed(int(rng.integers(2**31)))
        x = x + torch.randn(x.shape, generator=g) * u(0, cfg.noise).view(b, 1, 1, 1)
    return x.clamp(0, 1)


# --- data -----------------------------------------------------------------------------------------
def read_coco(folder: Path) -> list[dict]:
    """[{file, keypoints (17, 2), visibility (17,), bbox (4,)}] of a synthgen dataset folder, one
    per annotated person (images where no person is visible are skipped)."""
    folder = Path(folder)
    path = folder / "coco.json"
    if not path.is_file():
        raise ParamError("--data", f"{folder}: holds no coco.json (not a finished synthgen dataset)")
    try:
        doc = json.loads(path.read_text())
        images = {im["id"]: im for im in doc["images"]}
        records = []
        for ann in doc["annotations"]:
            kp = np.asarray(ann["keypoints"], dtype=np.float64).reshape(N_KEYPOINTS, 3)
            records.append({"file": folder / images[ann["image_id"]]["file_name"], "keypoints": kp[:, :2],
                            "visibility": kp[:, 2].astype(np.int64), "bbox": np.asarray(ann["bbox"], dtype=np.float64)})
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(str(path), f"not a COCO keypoints file ({type(e).__name__}: {e})") from None
    records.sort(key=lambda r: str(r["file"]))
    return records


def load_image(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


class KeypointDataset:
    """People of one or more synthgen dataset folders, letterboxed once to the network input
    size and kept in memory as uint8; ``batch`` draws augmented, normalised training batches."""

    def __init__(self, folders: list[Path] | Path, input_size: int = 128, augment: AugmentConfig | None = None):
        folders = [folders] if isinstance(folders, (str, Path)) else list(folders)
        self.input_size = input_size
        self.augment = augment if augment is not None else AugmentConfig()
        self.folders = [Path(f) for f in folders]
        self.records = [r for f in folders for r in read_coco(Path(f))]
        if not self.records:
            raise ParamError("--data", f"no annotated person in {', '.join(map(str, folders))}")
        n = len(self.records)
        self.images = torch.zeros(n, 3, input_size, input_size, dtype=torch.uint8)
        self.keypoints = torch.zeros(n, N_KEYPOINTS, 2)
        self.visibility = torch.zeros(n, N_KEYPOINTS, dtype=torch.int64)
        for i, r in enumerate(self.records):
            img, lb = letterbox(load_image(r["file"])[None], input_size, input_size)
            self.images[i] = torch.from_numpy(img[0]).round().to(torch.uint8).permute(2, 0, 1)
            self.keypoints[i] = torch.as_tensor(lb.to_input(r["keypoints"]), dtype=torch.float32)
            self.visibility[i] = torch.as_tensor(r["visibility"])

    def __len__(self) -> int:
        return len(self.records)

    def batch(self, index, rng: np.random.Generator | None = None, augment: bool = True
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(images (B, 3, S, S) in [0, 1], keypoints (B, 17, 2) input pixels, visibility (B, 17));
        augmented with ``rng`` when ``augment``."""
        index = np.asarray(index)
        x = self.images[index].float() / 255.0
        kp, vis = self.keypoints[index].clone(), self.visibility[index].clone()
        if augment:
            rng = rng if rng is not None else np.random.default_rng()
            mats, flips = sample_augmentation(len(index), self.input_size, self.augment, rng)
            x, kp = warp(x, kp, mats, flips)
            vis = flip_labels(vis, flips)
            x = colour_jitter(x, rng, self.augment)
        return x, kp, vis
