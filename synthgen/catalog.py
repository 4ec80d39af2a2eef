"""Every named parameter synthgen understands: bounds, unit, default and meaning.

Names are dotted and self-explaining (../DESIGN conventions): ``pose.<smpl_joint>.<flex|abduct|
twist>`` and ``pose.global.<yaw|pitch|roll>`` in degrees (``pose.preset``: a library pose under
them), ``shape.<phenotype>`` in [0, 1] (Anny) or ``shape.beta<i>`` (SMPL), ``camera.*`` in
degrees / metres, ``light.*``, ``skin.*``, ``background.*``, ``occluder.*``. The catalog bounds are what the
body or scene can do; a ParamSpace may narrow them (and widen pose limits only when it says so)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthgen.body.joint_limits import DEFAULT_ANGLES, pose_limits
from synthgen.errors import ParamError

#: the named pose library (its names are ``pose.preset``'s choices; ``synthgen.body.pose_library``
#: reads its angles)
POSE_LIBRARY_FILE = Path(__file__).parent / "body" / "data" / "poses.yaml"


def library_names() -> tuple[str, ...]:
    """The pose library's pose names (read without validating the angles)."""
    import yaml

    return tuple(yaml.safe_load(POSE_LIBRARY_FILE.read_text())["poses"])


@dataclass(frozen=True)
class Continuous:
    name: str
    low: float
    high: float
    default: float
    unit: str = ""
    doc: str = ""
    #: True for joint angles: bounds past `low`/`high` need allow_beyond_limits
    is_limit: bool = False


@dataclass(frozen=True)
class Categorical:
    name: str
    choices: tuple
    default: object
    doc: str = ""


Dim = Continuous | Categorical

ANNY_PHENOTYPES = ("gender", "age", "muscle", "weight", "height", "proportions")
SMPL_BETAS = 10

_PHENOTYPE_DOCS = {
    "gender": "0 male .. 1 female", "age": "0 baby .. 0.5 young adult .. 1 old",
    "muscle": "0 min .. 1 max muscle", "weight": "0 thin .. 1 heavy",
    "height": "0 short .. 1 tall", "proportions": "0 uncommon .. 1 ideal proportions",
}
_CAMERA = {
    "yaw": (-180.0, 180.0, 0.0, "deg", "camera azimuth around the person; 0 = in front"),
    "pitch": (-60.0, 75.0, 0.0, "deg", "camera elevation; positive = above, looking down"),
    "roll": (-45.0, 45.0, 0.0, "deg", "camera roll about its optical axis"),
    "distance": (1.0, 15.0, 3.5, "m", "camera distance from the pelvis"),
    "fov": (15.0, 100.0, 45.0, "deg", "vertical field of view"),
    "offset_x": (-1.0, 1.0, 0.0, "", "person centre across the image, in half-widths (1 = right edge)"),
    "offset_y": (-1.0, 1.0, 0.0, "", "person centre down the image, in half-heights (1 = bottom edge)"),
}


_LIGHT = {
    "ambient": (0.0, 1.0, 0.35, "", "ambient light level"),
    "key_yaw": (-180.0, 180.0, 35.0, "deg", "key light direction around the person, from the camera's side"),
    "key_pitch": (-10.0, 85.0, 40.0, "deg", "key light elevation"),
    "key_intensity": (0.0, 15.0, 5.0, "", "key light strength"),
    "key_temperature": (2500.0, 9000.0, 5600.0, "K", "key light colour temperature"),
    "fill_intensity": (0.0, 8.0, 1.5, "", "fill light strength, from the other side"),
}
_SCENE_CONTINUOUS = {
    "skin.tone": (0.0, 1.0, 0.25, "", "skin tone, 0 lightest .. 1 darkest"),
    "skin.detail": (0.0, 1.0, 0.5, "", "strength of the skin texture"),
    "background.hue": (0.0, 1.0, 0.6, "", "background hue"),
    "background.brightness": (0.0, 1.0, 0.75, "", "background brightness"),
    "background.variant": (0.0, 1.0, 0.0, "", "which clutter layout / which image of the folder"),
    "occluder.x": (-1.0, 1.0, 0.0, "", "occluder across the frame, in half widths at the person"),
    "occluder.y": (-1.0, 1.0, 0.0, "", "occluder down the frame, in half heights at the person"),
    "occluder.size": (0.05, 1.5, 0.4, "m", "occluder size"),
    "occluder.depth": (0.1, 0.9, 0.5, "", "occluder position from the person (0) to the camera (1)"),
    "occluder.hue": (0.0, 1.0, 0.1, "", "occluder colour hue"),
}
for _slot in ("top", "bottom"):
    _SCENE_CONTINUOUS |= {
        f"garment.{_slot}.size": (0.0, 1.0, 0.3, "", "looseness (TailorNet's gamma0): 0 tight .. 1 loose"),
        f"garment.{_slot}.length": (0.0, 1.0, 0.5, "", "sleeve / leg / hem length (TailorNet's gamma1): 0 short .. 1 long"),
        f"garment.{_slot}.color": (0.0, 1.0, 0.6, "", "garment hue"),
        f"garment.{_slot}.brightness": (0.0, 1.0, 0.6, "", "garment brightness"),
    }


def _scene_categoricals() -> dict[str, Categorical]:
    from synthgen.clothing.classes import BOTTOMS, TOPS
    from synthgen.render.textures import PATTERNS

    return {
        "pose.preset": Categorical("pose.preset", ("none", *library_names()), "none",
                                   "a library pose as the base of the pose.* angles"),
        "background.kind": Categorical("background.kind", ("solid", "gradient", "clutter", "outdoor", "image"),
                                       "gradient", "background: plain, gradient, procedural clutter, procedural "
                                       "outdoor (sky over textured ground) or a photo from the scene's folder"),
        "occluder.kind": Categorical("occluder.kind", ("none", "box", "cylinder", "plane"), "none",
                                     "an object between the camera and the person"),
        "occluder.pattern": Categorical("occluder.pattern", PATTERNS, "solid", "occluder texture"),
        "garment.backend": Categorical("garment.backend", ("procedural", "tailornet"), "procedural",
                                       "garment geometry: procedural (cut from MakeHuman helpers, Anny body) "
                                       "or tailornet (TailorNet's networks, SMPL body, the user's TailorNet files)"),
        "garment.top.class": Categorical("garment.top.class", ("none", *TOPS), "none", "the top garment"),
        "garment.bottom.class": Categorical("garment.bottom.class", ("none", *BOTTOMS), "none", "the bottom garment"),
        "garment.top.pattern": Categorical("garment.top.pattern", PATTERNS, "solid", "top garment texture"),
        "garment.bottom.pattern": Categorical("garment.bottom.pattern", PATTERNS, "solid", "bottom garment texture"),
    }


def _build() -> dict[str, Dim]:
    dims: dict[str, Dim] = {}
    for name, (lo, hi) in pose_limits().items():
        dims[name] = Continuous(name, lo, hi, DEFAULT_ANGLES.get(name, 0.0), "deg",
                                f"{name.split('.')[1].replace('_', ' ')} {name.split('.')[2]}", is_limit=True)
    for p in ANNY_PHENOTYPES:
        dims[f"shape.{p}"] = Continuous(f"shape.{p}", 0.0, 1.0, 0.5, "", f"Anny phenotype: {_PHENOTYPE_DOCS[p]}")
    for i in range(SMPL_BETAS):
        dims[f"shape.beta{i}"] = Continuous(f"shape.beta{i}", -5.0, 5.0, 0.0, "", f"SMPL shape coefficient {i}")
    for k, (lo, hi, d, unit, doc) in _CAMERA.items():
        dims[f"camera.{k}"] = Continuous(f"camera.{k}", lo, hi, d, unit, doc)
    for k, (lo, hi, d, unit, doc) in _LIGHT.items():
        dims[f"light.{k}"] = Continuous(f"light.{k}", lo, hi, d, unit, doc)
    for name, (lo, hi, d, unit, doc) in _SCENE_CONTINUOUS.items():
        dims[name] = Continuous(name, lo, hi, d, unit, doc)
    dims.update(_scene_categoricals())
    return dims


CATALOG: dict[str, Dim] = _build()


def lookup(name: str, where: str | None = None) -> Dim:
    """The catalog entry of ``name``, or a ParamError that suggests close names."""
    if not isinstance(name, str):
        raise ParamError(str(name), "parameter names are strings", where)
    try:
        return CATALOG[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, CATALOG, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ParamError(name, f"unknown parameter name{hint}", where) from None


def is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def check_value(dim: Dim, value, where: str | None = None, allow_beyond_limits: bool = False,
                low: float | None = None, high: float | None = None):
    """Validate one value for ``dim``; returns it as float (continuous) or as given."""
    if isinstance(dim, Categorical):
        if value not in dim.choices:
            raise ParamError(dim.name, f"{value!r} is not one of {list(dim.choices)}", where)
        return value
    if not is_number(value):
        raise ParamError(dim.name, f"expected a number, got {type(value).__name__} {value!r}", where)
    value = float(value)
    if not math.isfinite(value):
        raise ParamError(dim.name, f"must be finite, got {value}", where)
    lo = dim.low if low is None else low
    hi = dim.high if high is None else high
    if dim.is_limit and allow_beyond_limits and low is None:
        return value
    if not lo <= value <= hi:
        limit = " (joint limit; set allow_beyond_limits to go past it)" if dim.is_limit and low is None else ""
        raise ParamError(dim.name, f"{value:g} is outside [{lo:g}, {hi:g}]{dim.unit and ' ' + dim.unit}{limit}", where)
    return value
