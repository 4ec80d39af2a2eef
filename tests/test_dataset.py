"""synthgen generate / verify: determinism across worker counts, kill -9 and resume, Ray,
COCO / DensePose-COCO loadability, and clear refusals of bad input."""

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from synthgen.dataset.generate import generate
from synthgen.dataset.verify import verify
from synthgen.errors import SynthgenError

ROOT = Path(__file__).resolve().parents[1]
SCENE = ROOT / "scenes" / "studio.yaml"
N, SHARD, SIZE = 6, 2, 64
FORMATS = "coco,densepose,dense,webdataset"


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "synthgen.cli", *args], capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run with one local worker."""
    out = tmp_path_factory.mktemp("ds") / "one_worker"
    generate(SCENE, N, out, seed=3, workers=1, size=SIZE, formats=FORMATS, shard_size=SHARD)
    return out


def test_layout_manifest_and_verify(reference):
    man = json.loads((reference / "manifest.json").read_text())
    assert man["complete"] and man["n"] == N and man["counts"]["images"] == N
    assert [s["index"] for s in man["shards"]] == [0, 1, 2]
    assert (reference / "shards/00000/images/00000000.png").is_file()
    assert (reference / "shards/00002/dense/00000005_iuv.png").is_file()
    with np.load(reference / "shards/00001/dense/00000002_labels.npz") as z:
        assert z["depth"].shape == (SIZE, SIZE) and z["parts"].max() <= 24
    meta = json.loads((reference / "shards/00001/meta/00000003.json").read_text())
    assert meta["index"] == 3 and "camera.yaw" in meta["params"] and len(meta["keypoints2d"]) == 17
    report = verify(reference)
    assert report.ok, report.problems
    assert report.images == N


def test_two_workers_and_ray_write_identical_bytes(reference, tmp_path):
    generate(SCENE, N, tmp_path / "two", seed=3, workers=2, size=SIZE, formats=FORMATS, shard_size=SHARD)
    assert tree(tmp_path / "two") == tree(reference)
    pytest.importorskip("ray", reason="Ray is an optional extra (pip install 'pose-examiner[ray]')")
    generate(SCENE, N, tmp_path / "ray", seed=3, workers=2, ray_address="local", size=SIZE, formats=FORMATS,
             shard_size=SHARD)
    assert tree(tmp_path / "ray") == tree(reference)


def test_kill_9_then_resume_gives_identical_bytes(reference, tmp_path):
    out = tmp_path / "killed"
    args = ["generate", "--scene", str(SCENE), "-n", str(N), "--out", str(out), "--seed", "3", "--size", str(SIZE),
            "--format", FORMATS, "--shard-size", str(SHARD)]
    proc = subprocess.Popen([sys.executable, "-m", "synthgen.cli", *args], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    while not (out / "shards" / "00000").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(1.0)  # the worker notices its parent is gone and exits
    man = json.loads((out / "manifest.json").read_text())
    assert not man["complete"], "the run was not interrupted; the test needs a kill mid-run"
    # a partial shard left behind (as a kill inside a shard leaves it) must be redone, not kept
    partial = out / "shards" / "00002"
    if not partial.exists():
        (partial / "images").mkdir(parents=True)
        (partial / "images" / "00000004.png").write_bytes(b"half")
    r = cli(*args)
    assert r.returncode == 0, r.stderr
    assert tree(out) == tree(reference)


def test_coco_loads_and_scores_ground_truth_at_one(reference):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(reference / "coco.json"))
        anns = gt.loadAnns(gt.getAnnIds())
        assert len(anns) == N and len(gt.getImgIds()) == N
        dets = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0} for a in anns]
        ev = COCOeval(gt, gt.loadRes(dets), "keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)
    a = anns[0]
    img = gt.loadImgs(a["image_id"])[0]
    assert (reference / img["file_name"]).is_file()
    mask = gt.annToMask(a)
    assert mask.sum() == a["area"] and mask.shape == (SIZE, SIZE)
    # DensePose-COCO fields as DensePose's loaders read them
    n = len(a["dp_x"])
    assert n > 0 and all(len(a[k]) == n for k in ("dp_y", "dp_I", "dp_U", "dp_V")) and len(a["dp_masks"]) == 14
    from pycocotools import mask as mask_utils

    coarse = np.zeros((256, 256), dtype=np.uint8)
    for i, m in enumerate(a["dp_masks"], start=1):
        if m:
            coarse[mask_utils.decode(m) > 0] = i
    # every sampled point falls on a coarse segment that contains its fine part
    from synthgen.body.skeleton import DENSEPOSE_COARSE

    # (nearest resampling to 256 x 256 may move a point across a segment edge: allow a few)
    hits = 0
    for x, y, part in zip(a["dp_x"], a["dp_y"], a["dp_I"]):
        c = int(coarse[min(int(y / 255 * 256), 255), min(int(x / 255 * 256), 255)])
        hits += c > 0 and part in DENSEPOSE_COARSE[c][1]
    assert hits >= 0.9 * n


def test_webdataset_tar_members(reference):
    import tarfile

    with tarfile.open(reference / "shards/00001/wds.tar") as tf:
        names = tf.getnames()
        meta = json.loads(tf.extractfile("00000002.json").read())
    assert names[:2] == ["00000002.png", "00000002.json"] and "00000003.iuv.png" in names
    assert meta["annotation"]["image_id"] == 3 and meta["index"] == 2


def test_verify_finds_tampering(reference, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(reference, copy)
    (copy / "shards/00001/images/00000003.png").write_bytes(b"not a png")
    r = cli("verify", str(copy))
    assert r.returncode == 1 and "00000003.png: checksum mismatch" in r.stdout.replace("\n", "")


def test_existing_folder_of_another_run_is_refused(reference, tmp_path):
    with pytest.raises(SynthgenError, match="seed = 3"):
        generate(SCENE, N, reference, seed=4, size=SIZE, formats=FORMATS, shard_size=SHARD)
    with pytest.raises(SynthgenError, match="formats"):
        generate(SCENE, N, reference, seed=3, size=SIZE, formats="coco", shard_size=SHARD)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    r = cli("generate", "--scene", str(SCENE), "-n", "2", "--out", str(tmp_path / "other"))
    assert r.returncode == 2 and "holds no manifest.json" in r.stderr
    assert sorted(os.listdir(tmp_path / "other")) == ["notes.txt"]


BAD_SCENES = {
    "unknown_key": ("dims:\n  camera.yawn: [0, 10]\n", "camera.yawn", ":2"),
    "bad_type": ("dims:\n  camera.yaw: [zero, 10]\n", "camera.yaw", ":2"),
    "out_of_range": ("dims:\n  camera.distance: [0.1, 3]\n", "camera.distance", ":2"),
    "unknown_section": ("dimz:\n  camera.yaw: [0, 10]\n", "dimz", ":1"),
    "bad_weights": ("dims:\n  background.kind:\n    choices: [solid, gradient]\n    weights: [1]\n",
                    "background.kind", ":2"),
    "normal_without_std": ("dims:\n  camera.pitch: {low: 0, high: 30, dist: normal}\n", "camera.pitch", ":2"),
    "unknown_dist": ("dims:\n  camera.pitch: {low: 0, high: 30, dist: cauchy}\n", "camera.pitch", ":2"),
    "bad_choice": ("dims:\n  pose.preset:\n    choices: [stand, moonwalk]\n", "pose.preset", ":2"),
    "bad_image_size": ("image: {width: 5, height: 64}\n", "image.width", ":1"),
    "missing_pose_set": ("pose_set: {file: nowhere.yaml}\n", "nowhere.yaml", ":1"),
    "duplicate_key": ("dims:\n  camera.yaw: [0, 10]\n  camera.yaw: [0, 20]\n", "camera.yaw", ":3"),
}


@pytest.mark.parametrize("case", sorted(BAD_SCENES))
def test_bad_scene_is_a_clear_error_and_writes_nothing(case, tmp_path):
    text, key, line = BAD_SCENES[case]
    scene = tmp_path / "scene.yaml"
    scene.write_text(text)
    out = tmp_path / "out"
    r = cli("generate", "--scene", str(scene), "-n", "2", "--out", str(out))
    assert r.returncode == 2, r.stderr
    err = r.stderr.replace("\n", "")
    assert key in err and f"scene.yaml{line}" in err, err
    assert not out.exists()


def test_bad_options_are_named(tmp_path):
    r = cli("generate", "--scene", str(SCENE), "-n", "2", "--out", str(tmp_path / "o"), "--format", "coco,voc")
    assert r.returncode == 2 and "--format" in r.stderr and "voc" in r.stderr
    assert not (tmp_path / "o").exists()


def test_from_regions_samples_inside_the_boxes(tmp_path):
    failures = {"regions": [{"id": 0, "bounds": {"camera.yaw": [40.0, 50.0], "pose.left_elbow.flex": [100.0, 120.0]}},
                            {"id": 1, "bounds": {"camera.pitch": [30.0, 35.0], "background.kind": ["clutter"]}}]}
    f = tmp_path / "failures.json"
    f.write_text(json.dumps(failures))
    out = tmp_path / "regions"
    generate(SCENE, 4, out, seed=1, size=48, formats="coco", shard_size=2, regions=f)
    metas = [json.loads(p.read_text()) for p in sorted(out.glob("shards/*/meta/*.json"))]
    assert [m["region"] for m in metas] == [0, 1, 0, 1]
    for m in metas:
        p = m["params"]
        if m["region"] == 0:
            assert 40 <= p["camera.yaw"] <= 50 and 100 <= p["pose.left_elbow.flex"] <= 120
        else:
            assert 30 <= p["camera.pitch"] <= 35 and p["background.kind"] == "clutter"
    assert verify(out).ok
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"regions": [{"bounds": {"pose.left_elbow.flex": [100, 400]}}]}))
    with pytest.raises(SynthgenError, match="pose.left_elbow.flex"):
        generate(SCENE, 2, tmp_path / "never", size=48, regions=bad)
    assert not (tmp_path / "never").exists()
