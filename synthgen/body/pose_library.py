"""The named pose library (``synthgen/body/data/poses.yaml``): search starting points and
scene pose choices."""

from __future__ import annotations

import functools

from synthgen.catalog import POSE_LIBRARY_FILE
from synthgen.errors import ParamError
from synthgen.pose_files import NamedPose, load_pose_file


@functools.lru_cache(maxsize=1)
def pose_library() -> dict[str, NamedPose]:
    return load_pose_file(POSE_LIBRARY_FILE)


def get_pose(name: str) -> dict[str, float]:
    """The angles of library pose ``name`` (a fresh dict)."""
    lib = pose_library()
    if name not in lib:
        raise ParamError("pose", f"unknown library pose '{name}' (known: {', '.join(lib)})")
    return dict(lib[name].angles)
