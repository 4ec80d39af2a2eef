import subprocess
import sys
from pathlib import Path

import numpy as np


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "synthgen.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_space_check_ok_and_bad(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("dims:\n  camera.yaw: [-30, 30]\n  pose.left_knee.flex: [0, 90]\n")
    r = run("space", "check", str(good))
    assert r.returncode == 0 and "pose.left_knee.flex" in r.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("dims:\n  camera.yaw: [-30, 30]\n  pose.left_knee.flex: [0, .nan]\n")
    r = run("space", "check", str(bad))
    assert r.returncode == 2
    assert f"{bad}:3" in r.stderr and "pose.left_knee.flex" in r.stderr and "Traceback" not in r.stderr


def test_space_check_reads_every_scene_and_search_file(tmp_path):
    from synthgen.cli import app
    from typer.testing import CliRunner

    scenes = sorted((Path(__file__).resolve().parents[1] / "scenes").glob("*.yaml"))
    searches = [f for f in scenes if "\nsearch:" in f.read_text()]
    assert len(scenes) >= 8 and len(searches) >= 3
    runner = CliRunner()
    for f in scenes:
        r = runner.invoke(app, ["space", "check", str(f)])
        assert r.exit_code == 0, (f, r.output)
        assert ("failure: oks below" in r.output) == (f in searches), f
    # no two presets whose names differ only in word order
    words = [tuple(sorted(f.stem.split("_"))) for f in scenes]
    assert len(set(words)) == len(words)
    bad = tmp_path / "search.yaml"
    bad.write_text("dims:\n  camera.yaw: [-30, 30]\nsearch: [camera.pich]\n")
    r = run("space", "check", str(bad))
    assert r.returncode == 2 and "search" in r.stderr and "camera.pich" in r.stderr and "Traceback" not in r.stderr


def test_pose_commands(tmp_path):
    r = run("pose", "list")
    assert r.returncode == 0 and "squat" in r.stdout
    r = run("pose", "check", "--pose", "t_pose")
    assert r.returncode == 0 and '"plausible": true' in r.stdout
    r = run("pose", "check", "--params", '{"pose.left_knee.flex": 170}')
    assert r.returncode == 1 and "limit_violations" in r.stdout
    r = run("pose", "check", "--params", '{"pose.left_kne.flex": 10}')
    assert r.returncode == 2 and "pose.left_kne.flex" in r.stderr
    r = run("pose", "check", "--params", "{not json")
    assert r.returncode == 2 and "--params" in r.stderr


def test_pose_import_writes_a_library_file(tmp_path):
    from synthgen.pose_files import load_pose_file

    np.savez(tmp_path / "clip.npz", poses=np.random.default_rng(0).normal(scale=0.2, size=(6, 72)))
    out = tmp_path / "clip_poses.yaml"
    r = run("pose", "import", str(tmp_path / "clip.npz"), "--out", str(out), "--stride", "2")
    assert r.returncode == 0, r.stderr
    assert len(load_pose_file(out)) == 3
    r = run("pose", "import", str(tmp_path / "none.npz"), "--out", str(out))
    assert r.returncode == 2 and "no such file" in r.stderr


def test_smpl_backend_needs_its_file(tmp_path, monkeypatch):
    monkeypatch.delenv("SYNTHGEN_BODY_MODELS", raising=False)
    r = run("pose", "check", "--pose", "stand", "--backend", "smpl", "--body-models", str(tmp_path))
    assert r.returncode == 2 and "SMPL_NEUTRAL" in r.stderr and "smpl.is.tue.mpg.de" in r.stderr


def test_preview_renders_a_body(anny_body, tmp_path):
    from synthgen.montage import grid
    from synthgen.preview import render_bodies

    out = anny_body([{}, {"pose.left_shoulder.abduct": 90}])
    images = render_bodies([(out, 0), (out, 1)], width=80, height=120)
    assert images[0].shape == (120, 80, 3)
    body_pixels = (images[0] < 200).all(-1)
    assert 200 < body_pixels.sum() < 80 * 120 / 2
    assert not np.array_equal(images[0], images[1])
    path = grid(images, ["a", "b"], tmp_path / "grid.png")
    assert path.stat().st_size > 1000 and not list(tmp_path.glob("*.tmp"))


def test_render_is_byte_identical_across_processes(tmp_path):
    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    scene = str(root / "scenes" / "studio.yaml")
    for name in ("a", "b"):
        r = run("render", "--scene", scene, "--seed", "4", "--out", str(tmp_path / name), "--size", "96")
        assert r.returncode == 0, r.stderr
    a, b = tmp_path / "a" / "sample_000004.png", tmp_path / "b" / "sample_000004.png"
    assert a.read_bytes() == b.read_bytes()
    assert (tmp_path / "a" / "sample_000004_montage.png").stat().st_size > 1000
    r = run("preview", "--scene", scene, "-n", "3", "--out", str(tmp_path / "grid.png"), "--size", "64")
    assert r.returncode == 0 and (tmp_path / "grid.png").exists()
    r = run("render", "--scene", scene, "--size", "4", "--out", str(tmp_path / "c"))
    assert r.returncode == 2 and "--size" in r.stderr and not (tmp_path / "c").exists()
