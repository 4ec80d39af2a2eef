"""Geometry shared by the heatmap baseline's training, its prediction and ONNX keypoint models:
letterboxing images to a square network input and back, Gaussian heatmap targets, and heatmap
decoding (argmax plus a sub-pixel fit)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from synthgen.errors import ParamError

# --- geometry shared by training, prediction and ONNX models --------------------------------------
@dataclass
class Letterbox:
    """Per-image map original pixel -> network input pixel: ``x_in = (x + 0.5) * sx - 0.5 + ox``."""

    sx: float
    sy: float
    ox: float
    oy: float

    def to_input(self, xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, dtype=np.float64)
        return np.stack([(xy[..., 0] + 0.5) * self.sx - 0.5 + self.ox,
                         (xy[..., 1] + 0.5) * self.sy - 0.5 + self.oy], -1)

    def to_image(self, xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, dtype=np.float64)
        return np.stack([(xy[..., 0] - self.ox + 0.5) / self.sx - 0.5,
                         (xy[..., 1] - self.oy + 0.5) / self.sy - 0.5], -1)


def letterbox_geometry(height: int, width: int, out_h: int, out_w: int) -> tuple[int, int, Letterbox]:
    """(resized height, resized width, map) of fitting an image into (out_h, out_w), centred."""
    s = min(out_h / height, out_w / width)
    rh, rw = max(1, min(out_h, round(height * s))), max(1, min(out_w, round(width * s)))
    oy, ox = (out_h - rh) // 2, (out_w - rw) // 2
    return rh, rw, Letterbox(rw / width, rh / height, float(ox), float(oy))


def letterbox(images: np.ndarray, out_h: int, out_w: int) -> tuple[np.ndarray, Letterbox]:
    """``images`` (B, H, W, 3) uint8 -> (B, out_h, out_w, 3) float32 in [0, 255], resized with
    antialiasing and centred on black bars, and the map of original pixels to it."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ParamError("images", f"expected (B, H, W, 3) RGB, got shape {images.shape}")
    b, h, w, _ = images.shape
    rh, rw, lb = letterbox_geometry(h, w, out_h, out_w)
    x = torch.from_numpy(np.array(images, dtype=np.float32)).permute(0, 3, 1, 2)
    if (rh, rw) != (h, w):
        x = F.interpolate(x, size=(rh, rw), mode="bilinear", align_corners=False, antialias=True)
    out = torch.zeros(b, 3, out_h, out_w)
    oy, ox = int(lb.oy), int(lb.ox)
    out[:, :, oy:oy + rh, ox:ox + rw] = x
    return out.clamp_(0, 255).permute(0, 2, 3, 1).numpy(), lb


def decode_heatmaps(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(B, K, h, w) heatmaps -> peak positions (B, K, 2) in heatmap pixels (x, y), sub-pixel by a
    log-parabola fit through the peak and its neighbours along each axis, and peak values (B, K)."""
    hm = np.asarray(heatmaps, dtype=np.float64)
    b, k, h, w = hm.shape
    flat = hm.reshape(b, k, h * w)
    idx = flat.argmax(-1)
    peak = np.take_along_axis(flat, idx[..., None], -1)[..., 0]
    py, px = np.divmod(idx, w)
    bi, ki = np.meshgrid(np.arange(b), np.arange(k), indexing="ij")
    floor = np.maximum(peak, 1e-6) * 1e-2

    def logv(yy, xx):
        return np.log(np.maximum(hm[bi, ki, np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)], floor))

    def offset(lm, l0, lp):
        den = lm - 2 * l0 + lp
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(den < -1e-9, 0.5 * (lm - lp) / den, 0.0)
        return np.clip(d, -0.5, 0.5)

    l0 = logv(py, px)
    dx = offset(logv(py, px - 1), l0, logv(py, px + 1))
    dy = offset(logv(py - 1, px), l0, logv(py + 1, px))
    dx = np.where(peak > 0, dx, 0.0)
    dy = np.where(peak > 0, dy, 0.0)
    return np.stack([px + dx, py + dy], -1), peak


def heatmap_to_input(xy: np.ndarray, in_h: int, in_w: int, hm_h: int, hm_w: int) -> np.ndarray:
    """Heatmap pixel coordinates -> network input pixel coordinates (pixel centres at integers)."""
    sx, sy = in_w / hm_w, in_h / hm_h
    return np.stack([(xy[..., 0] + 0.5) * sx - 0.5, (xy[..., 1] + 0.5) * sy - 0.5], -1)


def gaussian_targets(keypoints: torch.Tensor, weights: torch.Tensor, input_size: int, stride: int,
                     sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian heatmaps (B, 17, S/stride, S/stride) around ``keypoints`` (B, 17, 2) in input
    pixels, and per-joint weights with joints outside the input zeroed."""
    hs = input_size // stride
    c = (keypoints + 0.5) / stride - 0.5
    grid = torch.arange(hs, dtype=torch.float32)
    gx = torch.exp(-((grid[None, None, :] - c[..., 0:1]) ** 2) / (2 * sigma**2))
    gy = torch.exp(-((grid[None, None, :] - c[..., 1:2]) ** 2) / (2 * sigma**2))
    inside = ((keypoints >= -0.5) & (keypoints < input_size - 0.5)).all(-1)
    w = weights * inside.float()
    return gy[..., :, None] * gx[..., None, :] * (w > 0).float()[..., None, None], w


def heatmap_loss(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Visibility weighted MSE, averaged over supervised joints (x 1000 for a readable scale)."""
    per_joint = ((pred - target) ** 2).mean(dim=(2, 3))
    return 1000.0 * (per_joint * weights).sum() / weights.sum().clamp(min=1.0)


def visibility_weights(visibility) -> torch.Tensor:
    """v = 0 (outside the image) -> 0, v = 1 (occluded) and v = 2 (visible) -> 1."""
    return (torch.as_tensor(np.asarray(visibility)) > 0).float()
