"""The dataset manifest (``manifest.json``): what run made the folder (scene file hash, seed,
image size, formats, shard size), every finished shard with its checksum, and the OpenGL
renderer that drew the RGB images with what their bytes promise (``rgb``). It holds no times
or worker counts, so two runs with the same settings on the same renderer write the same
manifest."""

from __future__ import annotations

import json
from pathlib import Path

from synthgen.dataset.files import json_bytes, write_atomic
from synthgen.errors import ConfigError, SynthgenError
from synthgen.render.gl import PROMISES, promise_kind

MANIFEST = "manifest.json"
KIND = "synthgen-dataset"
VERSION = 1
#: settings that must match for a run to continue a folder
IDENTITY = ("scene_sha256", "seed", "width", "height", "formats", "shard_size", "dp_points", "regions_sha256",
            "regions_kind")


def load(root: Path) -> dict | None:
    path = Path(root) / MANIFEST
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(str(path), f"unreadable manifest ({e})") from e
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise ConfigError(str(path), f"not a synthgen dataset manifest (kind != {KIND!r})")
    return data


def check_same_run(existing: dict, identity: dict, root: Path, n: int) -> None:
    """Refuse to continue a folder made with other settings, or to shrink it."""
    for key in IDENTITY:
        if existing.get(key) != identity[key]:
            raise SynthgenError(
                f"{root}: holds a dataset made with {key} = {existing.get(key)!r}, this run has "
                f"{identity[key]!r}; use another --out, or the same settings to resume it")
    if existing.get("n", 0) > n:
        raise SynthgenError(f"{root}: holds a plan of {existing['n']} samples; -n {n} would drop some "
                            f"(ask for at least {existing['n']})")


def write(root: Path, identity: dict, scene_file: str, n: int, shards: dict[int, dict], n_shards: int,
          merged: dict | None = None) -> dict:
    done = [shards[i] for i in sorted(shards)]
    data = {
        "kind": KIND, "version": VERSION, "scene_file": scene_file, **identity, "n": n,
        "complete": len(done) == n_shards and merged is not None,
        "shards_planned": n_shards,
        "counts": {"images": sum(s["count"] for s in done), "annotations": sum(s["annotations"] for s in done)},
        "shards": done,
    }
    renderers = sorted({s.get("rgb_renderer") or "unknown" for s in done})
    if renderers:  # what drew the RGB images, and what their bytes promise (README: Datasets)
        kind = "exact" if all(promise_kind(r) == "exact" for r in renderers) else "driver"
        data["rgb"] = {"renderers": renderers, "bytes": kind, "promise": PROMISES[kind]}
    if merged:
        data["merged"] = merged
    write_atomic(Path(root) / MANIFEST, json_bytes(data))
    return data
