"""Pose files (the pose library's format, and what ``synthgen pose import`` writes): named
poses of ``pose.*`` angles, each checked against the catalog. Read by the pose library and
by spaces that sample an imported pose set."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from synthgen.catalog import check_value, lookup
from synthgen.errors import ConfigError, ParamError


@dataclass(frozen=True)
class NamedPose:
    name: str
    description: str
    angles: dict[str, float]


def load_pose_file(path: str | Path) -> dict[str, NamedPose]:
    """Load and validate a pose file; errors name file, line and key."""
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
