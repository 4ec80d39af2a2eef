"""Procedural images, deterministic for a seed: skin detail, garment / occluder patterns,
backgrounds (solid, gradient, clutter, or a photo from a user folder), and colour helpers.
Generated here, so no texture file needs a licence."""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

#: skin tones from light to dark (sRGB), interpolated by ``skin.tone`` in [0, 1]
SKIN_TONES = np.array([
    [246, 221, 204], [234, 192, 160], [214, 165, 128], [186, 130, 92], [141, 92, 60], [92, 58, 40],
], dtype=np.float64)
PATTERNS = ("solid", "stripes", "checker", "noise")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}


def skin_colour(tone: float) -> np.ndarray:
    """RGB in [0, 1] for ``tone`` in [0, 1] (0 lightest, 1 darkest)."""
    x = float(np.clip(tone, 0.0, 1.0)) * (len(SKIN_TONES) - 1)
    i = min(int(x), len(SKIN_TONES) - 2)
    return (SKIN_TONES[i] * (1 - (x - i)) + SKIN_TONES[i + 1] * (x - i)) / 255.0


def hue_colour(hue: float, saturation: float = 0.55, value: float = 0.75) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(float(hue) % 1.0, saturation, value))


def temperature_rgb(kelvin: float) -> np.ndarray:
    """Approximate RGB (max 1) of a black body at ``kelvin`` (Tanner Helland's fit)."""
    t = float(kelvin) / 100.0
    r = 255.0 if t <= 66 else 329.698727446 * (t - 60) ** -0.1332047592
    g = 99.4708025861 * np.log(t) - 161.1195681661 if t <= 66 else 288.1221695283 * (t - 60) ** -0.0755148492
    b = 255.0 if t >= 66 else (0.0 if t <= 19 else 138.5177312231 * np.log(t - 10) - 305.0447927307)
    rgb = np.clip([r, g, b], 0, 255) / 255.0
    return rgb / rgb.max()


def smooth_noise(size: int, cells: int, rng: np.random.Generator) -> np.ndarray:
    """(size, size) noise in [0, 1], smooth at the scale of size / cells."""
    low = (rng.random((cells, cells)) * 255).astype(np.uint8)
    return np.asarray(Image.fromarray(low).resize((size, size), Image.BICUBIC), dtype=np.float64) / 255.0


def skin_detail(size: int = 512, seed: int = 0) -> np.ndarray:
    """(size, size, 3) uint8 grey-ish detail map multiplied by the skin colour: blotches and
    fine grain around 1.0 (as 200 +- 30 in 8 bits; the material scales it back)."""
    rng = np.random.default_rng(seed)
    blotch = smooth_noise(size, 24, rng) - 0.5
    grain = rng.random((size, size)) - 0.5
    v = 1.0 + 0.10 * blotch + 0.04 * grain
    img = np.clip(v / 1.25 * 255.0, 0, 255)
    return np.repeat(img[..., None], 3, axis=2).astype(np.uint8)


def pattern_texture(kind: str, colour: np.ndarray, seed: int = 0, size: int = 256) -> np.ndarray:
    """(size, size, 3) uint8 garment / occluder texture: solid, stripes, checker or noise."""
    if kind not in PATTERNS:
        raise ValueError(f"unknown pattern {kind!r} (choose {', '.join(PATTERNS)})")
    rng = np.random.default_rng(seed)
    base = np.asarray(colour, dtype=np.float64)
    # the second colour: a darker, shifted shade (white gives a grey pattern that a material
    # colour can tint)
    second = np.clip(1.0 - base * 0.8, 0, 1) * 0.6 + base * 0.4 if base.min() < 1.0 else base * 0.55
    yy, xx = np.mgrid[0:size, 0:size]
    if kind == "solid":
        mix = np.zeros((size, size))
    elif kind == "stripes":
        period = int(rng.integers(12, 40))
        mix = ((yy // (period // 2)) % 2).astype(np.float64)
    elif kind == "checker":
        period = int(rng.integers(16, 64))
        mix = (((yy // period) + (xx // period)) % 2).astype(np.float64)
    else:
        mix = smooth_noise(size, 16, rng)
    img = base * (1 - mix[..., None]) + second * mix[..., None]
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def list_images(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []


def background_image(kind: str, width: int, height: int, hue: float, brightness: float, seed: int,
                     folder: str | Path | None = None, variant: float = 0.0) -> np.ndarray:
    """(height, width, 3) uint8 background."""
    rng = np.random.default_rng(seed)
    colour = hue_colour(hue, 0.35, 0.25 + 0.7 * brightness)
    if kind == "solid":
        img = np.broadcast_to(colour, (height, width, 3))
    elif kind == "gradient":
        other = hue_colour(hue + 0.08, 0.25, 0.15 + 0.5 * brightness)
        ramp = np.linspace(0.0, 1.0, height)[:, None, None]
        img = colour * (1 - ramp) + other * ramp
        img = np.broadcast_to(img, (height, width, 3))
    elif kind == "clutter":
        canvas = Image.new("RGB", (width, height), tuple(int(255 * c) for c in colour))
        draw = ImageDraw.Draw(canvas)
        for _ in range(int(rng.integers(25, 60))):
            c = hue_colour(rng.random(), rng.uniform(0.2, 0.8), rng.uniform(0.2, 1.0) * (0.4 + 0.6 * brightness))
            x0, y0 = rng.uniform(-0.1, 1.0) * width, rng.uniform(-0.1, 1.0) * height
            w, h = rng.uniform(0.03, 0.35) * width, rng.uniform(0.03, 0.35) * height
            box = [x0, y0, x0 + w, y0 + h]
            fill = tuple(int(255 * v) for v in c)
            (draw.ellipse if rng.random() < 0.4 else draw.rectangle)(box, fill=fill)
        img = np.asarray(canvas.filter(ImageFilter.GaussianBlur(radius=max(width, height) / 400)), dtype=np.float64) / 255.0
    elif kind == "outdoor":  # sky over textured ground (grass / earth / paving by hue), horizon by variant
        horizon = int(height * (0.35 + 0.3 * variant))
        side = max(width, height)
        sky_top = hue_colour(0.58, 0.45, 0.55 + 0.4 * brightness)
        sky_low = hue_colour(0.56, 0.15, 0.75 + 0.25 * brightness)
        ramp = np.linspace(0.0, 1.0, max(horizon, 1))[:, None, None]
        sky = np.broadcast_to(sky_top * (1 - ramp) + sky_low * ramp, (max(horizon, 1), width, 3))
        clouds = smooth_noise(side, 6, rng)[:horizon, :width, None]
        sky = sky * (1 - 0.35 * np.clip(clouds - 0.4, 0, 1)) + 0.35 * np.clip(clouds - 0.4, 0, 1)
        ground_colour = hue_colour(hue, 0.45, 0.2 + 0.5 * brightness)
        texture = (0.55 * smooth_noise(side, 48, rng) + 0.3 * smooth_noise(side, 12, rng)
                   + 0.15 * rng.random((side, side)))[: height - horizon, :width, None]
        depth = np.linspace(0.6, 1.0, max(height - horizon, 1))[:, None, None]
        ground = ground_colour * (0.6 + 0.8 * texture) * depth
        img = np.concatenate([sky[:horizon], ground], axis=0)
    elif kind == "image":
        files = list_images(folder) if folder else []
        if not files:
            raise FileNotFoundError(f"background folder {folder!r} holds no images")
        path = files[min(int(variant * len(files)), len(files) - 1)]
        with Image.open(path) as im:
            im = im.convert("RGB")
            scale = max(width / im.width, height / im.height)
            im = im.resize((max(width, int(im.width * scale + 0.5)), max(height, int(im.height * scale + 0.5))), Image.BILINEAR)
            x0, y0 = int(rng.integers(0, im.width - width + 1)), int(rng.integers(0, im.height - height + 1))
            img = np.asarray(im.crop((x0, y0, x0 + width, y0 + height)), dtype=np.float64) / 255.0
    else:
        raise ValueError(f"unknown background kind {kind!r}")
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)
