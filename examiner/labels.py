"""Plain-language names and value ranges of parameters, for reports: 'left shoulder abduction
95-140 deg' instead of 'pose.left_shoulder.abduct: [95, 140]'."""

from __future__ import annotations

ANGLE_WORDS = {"flex": "flexion", "abduct": "abduction", "twist": "rotation"}
GLOBAL_WORDS = {"yaw": "body turn", "pitch": "body lean forward", "roll": "body tilt"}
WORDS = {
    "camera.yaw": "camera angle around the person", "camera.pitch": "camera elevation",
    "camera.roll": "camera roll", "camera.distance": "camera distance", "camera.fov": "camera field of view",
    "camera.offset_x": "person's offset across the image", "camera.offset_y": "person's offset down the image",
    "light.key_intensity": "key light strength", "light.key_yaw": "key light direction",
    "light.key_pitch": "key light elevation", "light.ambient": "ambient light",
    "light.key_temperature": "light colour temperature", "light.fill_intensity": "fill light strength",
    "occluder.x": "occluder position across", "occluder.y": "occluder position down",
    "occluder.size": "occluder size", "occluder.depth": "occluder distance from the person",
}


def describe(name: str) -> str:
    parts = name.split(".")
    if parts[0] == "pose" and len(parts) == 3:
        if parts[1] == "global":
            return GLOBAL_WORDS.get(parts[2], f"body {parts[2]}")
        return f"{parts[1].replace('_', ' ')} {ANGLE_WORDS.get(parts[2], parts[2])}"
    if name in WORDS:
        return WORDS[name]
    if parts[0] == "shape":
        return f"body {parts[1].replace('_', ' ')}"
    if parts[0] == "garment":
        return f"{parts[1]} garment {parts[2]}"
    return " ".join(p.replace("_", " ") for p in parts)


def describe_range(name: str, lo: float, hi: float, unit: str = "") -> str:
    def fmt(v: float) -> str:
        return f"{v:.0f}" if abs(hi - lo) >= 10 else f"{v:.2g}" if abs(v) < 10 else f"{v:.1f}"

    sep = " to " if lo < 0 or hi < 0 else "-"
    return f"{describe(name)} {fmt(lo)}{sep}{fmt(hi)}{' ' + unit if unit else ''}"


def rate_sentence(region: dict) -> str:
    """'fails 72% [64-79%], 3.4x the base rate, 41% of all failures'."""
    text = f"fails {100 * region['failure_rate']:.0f}%"
    if region.get("interval"):
        lo, hi = region["interval"]
        text += f" [{100 * lo:.0f}-{100 * hi:.0f}%]"
    if region.get("lift") is not None:
        text += f", {region['lift']:.1f}x the base rate ({100 * region['base_rate']:.0f}%)"
    if region.get("coverage") is not None:
        text += f", {100 * region['coverage']:.0f}% of all failures"
    return text
