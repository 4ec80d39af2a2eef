"""The named pose library (``synthgen/body/data/poses.yaml``): search starting points and
scene pose choices."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from synthgen.errors import ConfigError, ParamError

LIBRARY_FILE = Path(__file__).parent / "data" / "poses.yaml"


@dataclass(frozen=True)
class NamedPose:
    name: str
    description: str
    angles: dict[str, float]


def load_pose_file(path: str | Path) -> dict[str, NamedPose]:
    """Load and validate a pose file (the library's format); errors name file, line and key."""
    from synthgen.catalog import lookup
    from synthgen.space import check_value
    from synthgen.yamlio import load_yaml_with_lines

    data, lines = load_yaml_with_lines(path)
    if not isinstance(data, dict) or not isinstance(data.get("poses"), dict):
        raise ConfigError(str(path), "expected a top-level 'poses:' mapping")
    out = {}
    for name, entry in data["poses"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("angles", {}), dict):
            raise ConfigError(str(path), f"pose '{name}' needs an 'angles' mapping", lines.get(("poses", name)))
        angles = {}
        for key, value in (entry.get("angles") or {}).items():
            at = f"{path}:{lines.get(('poses', name, 'angles', key), '?')}"
            if not str(key).startswith("pose."):
                raise ParamError(str(key), "pose files hold pose.* angles only", at)
            angles[key] = check_value(lookup(key, at), value, at)
        out[name] = NamedPose(name, str(entry.get("description", "")), angles)
    return out


@functools.lru_cache(maxsize=1)
def library_names() -> tuple[str, ...]:
    """The library's pose names (read without validating the angles)."""
    import yaml

    return tuple(yaml.safe_load(LIBRARY_FILE.read_text())["poses"])


@functools.lru_cache(maxsize=1)
def pose_library() -> dict[str, NamedPose]:
    return load_pose_file(LIBRARY_FILE)


def get_pose(name: str) -> dict[str, float]:
    """The angles of library pose ``name`` (a fresh dict)."""
    lib = pose_library()
    if name not in lib:
        raise ParamError("pose", f"unknown library pose '{name}' (known: {', '.join(lib)})")
    return dict(lib[name].angles)
