"""The pose vocabulary: every ``pose.*`` parameter name, its joint limits and defaults. Pure
data over the skeleton's joint names, below the body models (the catalog reads it; the
rotation math in ``synthgen.body.pose`` uses it)."""

from __future__ import annotations

import functools

from synthgen.body.skeleton import POSED_JOINTS

# Joint limits in degrees, (low, high) for flex, abduct, twist, in the sign convention of
# ``synthgen.body.pose``.
# Sources: American Academy of Orthopaedic Surgeons, "Joint Motion: Method of Measuring and
# Recording" (1965); Norkin & White, "Measurement of Joint Motion: A Guide to Goniometry"
# (5th ed., 2016); Soucie et al., "Range of motion measurements: reference values and a
# database for comparison studies", Haemophilia 17 (2011). Trunk and cervical ranges are split
# over the SMPL joints that carry them (spine1..3: thoracolumbar; neck + head: cervical).
JOINT_LIMITS: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "hip": ((-30, 125), (-30, 45), (-45, 45)),
    "knee": ((-5, 150), (-5, 5), (-15, 15)),
    "ankle": ((-50, 20), (-20, 20), (-35, 15)),
    "foot": ((-40, 70), (-10, 10), (-5, 5)),
    "spine1": ((-10, 27), (-12, 12), (-15, 15)),
    "spine2": ((-10, 27), (-12, 12), (-15, 15)),
    "spine3": ((-10, 27), (-12, 12), (-15, 15)),
    "neck": ((-45, 35), (-30, 30), (-55, 55)),
    "head": ((-25, 20), (-15, 15), (-25, 25)),
    "collar": ((-15, 15), (-10, 40), (-30, 30)),
    "shoulder": ((-60, 180), (-40, 180), (-70, 90)),
    "elbow": ((-5, 150), (-5, 5), (-80, 80)),
    "wrist": ((-70, 80), (-30, 20), (-20, 20)),
}
GLOBAL_LIMITS: dict[str, tuple[float, float]] = {
    "yaw": (-180, 180), "pitch": (-90, 90), "roll": (-90, 90),
}
ANGLES: tuple[str, str, str] = ("flex", "abduct", "twist")

#: Relaxed default: arms slightly away from the hips so that they do not cut into them.
DEFAULT_ANGLES: dict[str, float] = {
    "pose.left_shoulder.abduct": 10.0,
    "pose.right_shoulder.abduct": 10.0,
}


def joint_kind(joint: str) -> str:
    """'left_knee' -> 'knee'; 'spine2' -> 'spine2' (its own limits); the axes use 'spine'."""
    return joint.split("_", 1)[1] if "_" in joint else joint




def param_name(joint: str, angle: str) -> str:
    return f"pose.{joint}.{angle}"


@functools.lru_cache(maxsize=1)
def _pose_param_names() -> tuple[str, ...]:
    names = [param_name(j, a) for j in POSED_JOINTS for a in ANGLES]
    return tuple(names + [f"pose.global.{a}" for a in GLOBAL_LIMITS])


def pose_param_names() -> list[str]:
    """Every pose parameter name: 21 joints x 3 angles, then the global orientation."""
    return list(_pose_param_names())


@functools.lru_cache(maxsize=1)
def _pose_limits() -> dict[str, tuple[float, float]]:
    limits = {}
    for j in POSED_JOINTS:
        for a, lim in zip(ANGLES, JOINT_LIMITS[joint_kind(j)]):
            limits[param_name(j, a)] = (float(lim[0]), float(lim[1]))
    for a, lim in GLOBAL_LIMITS.items():
        limits[f"pose.global.{a}"] = (float(lim[0]), float(lim[1]))
    return limits


def pose_limits() -> dict[str, tuple[float, float]]:
    """{pose parameter name: (low, high)} in degrees."""
    return dict(_pose_limits())
