"""``synthgen verify DIR``: re-check a dataset folder - manifest, shard checksums, counts, and
that every image and annotation is well-formed (COCO, DensePose-COCO, dense maps, tar shards)."""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from synthgen.dataset import manifest
from synthgen.dataset.files import sha256_bytes, sha256_file
from synthgen.dataset.shards import SHARD_FILE, shard_name

N_KEYPOINTS = 17


@dataclass
class Report:
    root: Path
    images: int = 0
    annotations: int = 0
    shards: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(root: str | Path, max_problems: int = 50) -> Report:
    root = Path(root)
    rep = Report(root)

    def problem(text: str) -> None:
        if len(rep.problems) < max_problems:
            rep.problems.append(text)

    man = manifest.load(root)
    if man is None:
        problem(f"{root / manifest.MANIFEST}: missing")
        return rep
    if not man.get("complete"):
        problem(f"{root / manifest.MANIFEST}: the run is not complete "
                f"({len(man.get('shards', []))} of {man.get('shards_planned')} shards); rerun generate to finish it")
    listed = {s["index"]: s for s in man.get("shards", [])}
    expected_start = 0
    for k in range(man.get("shards_planned", 0)):
        if k not in listed:
            continue
        s = listed[k]
        folder = root / shard_name(k)
        if s["start"] != expected_start and k - 1 in listed:
            problem(f"{folder}: starts at {s['start']}, expected {expected_start}")
        expected_start = s["start"] + s["count"]
        try:
            data = (folder / SHARD_FILE).read_bytes()
        except OSError:
            problem(f"{folder / SHARD_FILE}: missing")
            continue
        if sha256_bytes(data) != s["sha256"]:
            problem(f"{folder / SHARD_FILE}: checksum differs from the manifest")
        record = json.loads(data)
        for rel, digest in record["files"].items():
            path = folder / rel
            if not path.is_file():
                problem(f"{path}: missing")
            elif sha256_file(path) != digest:
                problem(f"{path}: checksum mismatch")
        rep.shards += 1
        rep.images += s["count"]
        _check_shard_content(folder, record, s, man, problem)
    if man.get("complete"):
        if rep.images != man["n"]:
            problem(f"{root}: {rep.images} images in shards, the manifest plans {man['n']}")
        for name, digest in (man.get("merged") or {}).items():
            if not (root / name).is_file() or sha256_file(root / name) != digest:
                problem(f"{root / name}: missing or checksum mismatch")
        if (root / "coco.json").is_file():
            rep.annotations = _check_coco(root, root / "coco.json", man, problem, merged=True)
    if rep.annotations == 0:
        rep.annotations = sum(s["annotations"] for s in listed.values())
    return rep


def _check_shard_content(folder: Path, record: dict, summary: dict, man: dict, problem) -> None:
    from PIL import Image

    files = record["files"]
    keys = [f"{i:08d}" for i in range(summary["start"], summary["start"] + summary["count"])]
    for key in keys:
        rel = f"images/{key}.png"
        if rel not in files:
            problem(f"{folder / rel}: missing from the shard")
            continue
        try:
            with Image.open(folder / rel) as im:
                im.load()
                if im.size != (man["width"], man["height"]):
                    problem(f"{folder / rel}: size {im.size}, expected {(man['width'], man['height'])}")
        except Exception as e:  # noqa: BLE001 - any decoder failure is a finding
            problem(f"{folder / rel}: not a readable image ({type(e).__name__})")
        if f"meta/{key}.json" not in files:
            problem(f"{folder}/meta/{key}.json: missing from the shard")
        if "dense" in man["formats"]:
            for suffix in ("iuv.png", "depth.png", "objects.png", "labels.npz"):
                if f"dense/{key}_{suffix}" not in files:
                    problem(f"{folder}/dense/{key}_{suffix}: missing from the shard")
            try:
                with np.load(folder / "dense" / f"{key}_labels.npz") as z:
                    if z["depth"].shape != (man["height"], man["width"]):
                        problem(f"{folder}/dense/{key}_labels.npz: depth shape {z['depth'].shape}")
            except Exception as e:  # noqa: BLE001
                problem(f"{folder}/dense/{key}_labels.npz: unreadable ({type(e).__name__})")
    if "coco" in man["formats"] or "densepose" in man["formats"]:
        n = _check_coco(folder.parent.parent, folder / "coco.json", man, problem, merged=False)
        if n != summary["annotations"]:
            problem(f"{folder / 'coco.json'}: {n} annotations, the manifest says {summary['annotations']}")
    if "webdataset" in man["formats"]:
        try:
            with tarfile.open(folder / "wds.tar") as tf:
                names = set(tf.getnames())
        except (OSError, tarfile.TarError) as e:
            problem(f"{folder / 'wds.tar'}: unreadable ({e})")
            return
        for key in keys:
            for ext in ("png", "json"):
                if f"{key}.{ext}" not in names:
                    problem(f"{folder / 'wds.tar'}: no member {key}.{ext}")


def _check_coco(root: Path, path: Path, man: dict, problem, merged: bool) -> int:
    """Load with pycocotools and check every annotation; returns the annotation count."""
    import contextlib

    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            coco = COCO(str(path))
    except Exception as e:  # noqa: BLE001 - any loader failure is a finding
        problem(f"{path}: pycocotools cannot load it ({e})")
        return 0
    W, H = man["width"], man["height"]
    for img in coco.dataset["images"]:
        if merged and not (root / img["file_name"]).is_file():
            problem(f"{path}: image {img['id']}: file {img['file_name']} missing")
    ids = [a["id"] for a in coco.dataset["annotations"]]
    if len(ids) != len(set(ids)):
        problem(f"{path}: duplicate annotation ids")
    for a in coco.dataset["annotations"]:
        where = f"{path}: annotation {a.get('id')}"
        kp = a.get("keypoints", [])
        if len(kp) != 3 * N_KEYPOINTS:
            problem(f"{where}: {len(kp)} keypoint values, expected {3 * N_KEYPOINTS}")
            continue
        vis = kp[2::3]
        if any(v not in (0, 1, 2) for v in vis) or a.get("num_keypoints") != sum(v > 0 for v in vis):
            problem(f"{where}: bad visibility flags or num_keypoints")
        x, y, w, h = a["bbox"]
        if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > W + 1e-6 or y + h > H + 1e-6:
            problem(f"{where}: bbox {a['bbox']} outside the {W}x{H} image")
        area = int(mask_utils.area(coco.annToRLE(a)))
        if area != a["area"] or area <= 0:
            problem(f"{where}: area {a['area']} but its mask covers {area} pixels")
        if "densepose" in man["formats"]:
            _check_densepose(a, where, problem)
    return len(ids)


def _check_densepose(a: dict, where: str, problem) -> None:
    keys = ("dp_x", "dp_y", "dp_I", "dp_U", "dp_V", "dp_masks")
    if any(k not in a for k in keys):
        problem(f"{where}: missing DensePose fields")
        return
    n = len(a["dp_x"])
    if any(len(a[k]) != n for k in keys[:5]):
        problem(f"{where}: DensePose point lists differ in length")
    xy = np.array(a["dp_x"] + a["dp_y"], dtype=np.float64)
    uv = np.array(a["dp_U"] + a["dp_V"], dtype=np.float64)
    if xy.size and (xy.min() < 0 or xy.max() > 255):
        problem(f"{where}: dp_x / dp_y outside [0, 255]")
    if uv.size and (uv.min() < 0 or uv.max() > 1):
        problem(f"{where}: dp_U / dp_V outside [0, 1]")
    if any(not 1 <= i <= 24 for i in a["dp_I"]):
        problem(f"{where}: dp_I outside 1..24")
    if len(a["dp_masks"]) != 14 or not any(a["dp_masks"]):
        problem(f"{where}: dp_masks must be 14 entries, at least one non-empty")
