"""Byte-deterministic encodings (the same arrays always give the same bytes: no timestamps, no
user names) and checksums, so that a dataset is identical whatever the worker count."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def png_bytes(array: np.ndarray) -> bytes:
    """PNG of a (H, W) or (H, W, 3) uint8 image, or a (H, W) uint16 image."""
    buf = io.BytesIO()
    if array.dtype != np.uint16:
        array = np.ascontiguousarray(array, dtype=np.uint8)
    Image.fromarray(np.ascontiguousarray(array)).save(buf, format="PNG")
    return buf.getvalue()


def npz_bytes(**arrays: np.ndarray) -> bytes:
    """A compressed ``.npz`` (what ``np.load`` reads) with fixed member timestamps."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asanyarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue())
    return buf.getvalue()


def json_bytes(obj) -> bytes:
    return (json.dumps(obj, separators=(",", ":"), sort_keys=False) + "\n").encode()


def tar_bytes(members: list[tuple[str, bytes]]) -> bytes:
    """An uncompressed tar of (name, bytes) members, owner and time zeroed (WebDataset shards)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write to a temporary name beside ``path``, then rename it into place."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
