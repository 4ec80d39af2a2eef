"""Every named parameter synthgen understands: bounds, unit, default and meaning.

Names are dotted and self-explaining (../DESIGN conventions): ``pose.<smpl_joint>.<flex|abduct|
twist>`` and ``pose.global.<yaw|pitch|roll>`` in degrees, ``shape.<phenotype>`` in [0, 1] (Anny)
or ``shape.beta<i>`` (SMPL), ``camera.*`` in degrees / metres. The catalog bounds are what the
body or scene can do; a ParamSpace may narrow them (and widen pose limits only when it says so)."""

from __future__ import annotations

from dataclasses import dataclass

from synthgen.body.pose import DEFAULT_ANGLES, pose_limits
from synthgen.errors import ParamError


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
