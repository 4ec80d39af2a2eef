"""Garment classes (TailorNet's names) and how each is cut from MakeHuman's helper geometry.

A class keeps the helper vertices whose body anchor lies in its segments, within its vertical
band, and along each limb up to the style's length; ``size`` sets how far it stands off the
body. Lengths and bands are fractions of the body's own limbs and joints, so they follow any
body shape."""

from __future__ import annotations

from dataclasses import dataclass

TOPS = ("t-shirt", "old-t-shirt", "shirt")
BOTTOMS = ("pant", "short-pant", "skirt")
GARMENT_CLASSES = TOPS + BOTTOMS
#: garment class channel values in a Sample (0: no garment)
CLASS_IDS = {name: i + 1 for i, name in enumerate(GARMENT_CLASSES)}


@dataclass(frozen=True)
class GarmentClass:
    name: str
    slot: str  # 'top' or 'bottom'
    source: str  # MakeHuman helper group
    #: segment -> (u_min at length 0, u_max at length 1) along the limb; torso segments 0..1
    limbs: dict
    #: keep anchors above (top) or below (bottom) this height, relative to the pelvis joint (m)
    waist: float
    #: stand-off from the skin at size 0 and size 1 (m)
    loose: tuple[float, float]
    #: amplitude of the smooth wrinkle field at size 1 (m)
    wrinkle: float
    #: tops: radius of the neckline around the neck joint (m)
    neckline: float = 0.09


_TORSO = {s: (1.0, 1.0) for s in ("spine1", "spine2", "spine3", "left_collar", "right_collar", "pelvis")}
_HIPS = {"pelvis": (1.0, 1.0), "spine1": (1.0, 1.0)}


def _both(name: str, rng: tuple[float, float]) -> dict:
    return {f"left_{name}": rng, f"right_{name}": rng}


CLASSES: dict[str, GarmentClass] = {
    "t-shirt": GarmentClass("t-shirt", "top", "helper-tights", _TORSO | _both("shoulder", (0.25, 0.7)),
                            waist=-0.02, loose=(0.004, 0.03), wrinkle=0.006),
    "old-t-shirt": GarmentClass("old-t-shirt", "top", "helper-tights", _TORSO | _both("shoulder", (0.45, 0.95)),
                                waist=-0.07, loose=(0.008, 0.045), wrinkle=0.01),
    "shirt": GarmentClass("shirt", "top", "helper-tights",
                          _TORSO | _both("shoulder", (1.0, 1.0)) | _both("elbow", (0.4, 1.0)),
                          waist=-0.04, loose=(0.005, 0.03), wrinkle=0.006, neckline=0.075),
    "pant": GarmentClass("pant", "bottom", "helper-tights",
                         _HIPS | _both("hip", (1.0, 1.0)) | _both("knee", (0.5, 1.0)),
                         waist=0.08, loose=(0.003, 0.025), wrinkle=0.005),
    "short-pant": GarmentClass("short-pant", "bottom", "helper-tights",
                               _HIPS | _both("hip", (0.3, 0.85)),
                               waist=0.08, loose=(0.004, 0.03), wrinkle=0.005),
    "skirt": GarmentClass("skirt", "bottom", "helper-skirt", {}, waist=0.08, loose=(0.85, 1.25), wrinkle=0.008),
}
