"""``examiner eval``: a small run's table, JSON and montage agree with each other and with the
planted model's known failures; the same seed gives the same numbers; a model that raises is
recorded per sample; bad options exit with code 2 naming the option."""

import json
import sys

import numpy as np
import pytest
from PIL import Image

from examiner.scene_eval import run_eval
from synthgen.errors import run_cli

SCENE = """
image: {width: 64, height: 64}
dims:
  pose.left_shoulder.abduct: [0, 160]
  camera.yaw: [-90, 90]
  camera.pitch: [0, 10]
fixed:
  camera.distance: 3.5
"""
PLANTED = """
noise: 0.01
regions:
  - name: seen_from_the_left
    bounds: {camera.yaw: [30, 90]}
    effect: drop
  - name: swapped_from_the_right
    bounds: {camera.yaw: [-60, -20]}
    effect: swap
"""
N = 16


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("eval")
    (d / "scene.yaml").write_text(SCENE)
    (d / "planted.yaml").write_text(PLANTED)
    return d


@pytest.fixture(scope="module")
def small_run(files):
    from typer.testing import CliRunner

    from examiner.cli import app

    out = files / "run"
    r = CliRunner().invoke(app, ["eval", "--model", f"planted:{files / 'planted.yaml'}", "--scene",
                                 str(files / "scene.yaml"), "-n", str(N), "--out", str(out), "--worst", "3"])
    assert r.exit_code == 0, r.output
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    return r.output, json.loads((out / "eval.json").read_text()), samples, out


def test_output_of_a_small_run(small_run):
    output, summary, samples, out = small_run
    for text in ("detection rate", "failure rate", "mean OKS", "PCK@0.1", "left_wrist", "worst.png"):
        assert text in output
    assert [s["sample"] for s in samples] == list(range(N)) and summary["samples"] == N
    graded = [s for s in samples if s["graded"]]
    detected = [s for s in graded if s["metrics"]["detected"]]
    assert summary["graded"] == len(graded) > 0 and summary["status"] == {"ok": N}
    assert summary["failure_rate"]["count"] == sum(s["failed"] for s in graded)
    assert summary["detection_rate"]["count"] == len(detected)
    assert summary["failure_rate"]["rate"] == pytest.approx(sum(s["failed"] for s in graded) / len(graded), abs=1e-4)
    lo, hi = summary["failure_rate"]["interval95"]
    assert lo <= summary["failure_rate"]["rate"] <= hi
    # the planted model drops exactly the samples seen from the left, and swaps those from the right
    from_left = [s for s in graded if 30 <= s["params"]["camera.yaw"] <= 90]
    assert from_left and all(not s["metrics"]["detected"] and s["failed"] for s in from_left)
    assert len(detected) == len(graded) - len(from_left)
    oks = [s["metrics"]["oks"] if s["metrics"]["detected"] else 0.0 for s in graded]
    assert summary["metrics"]["oks"]["all"] == pytest.approx(np.mean(oks), abs=1e-4)
    assert summary["metrics"]["oks"]["detected"]["mean"] == pytest.approx(
        np.mean([s["metrics"]["oks"] for s in detected]), abs=1e-4)
    assert summary["metrics"]["pck_bbox"]["all"] <= summary["metrics"]["pck_bbox"]["detected"]["mean"]
    wrist = next(j for j in summary["per_joint"] if j["joint"] == "left_wrist")
    errors = [s["metrics"]["joint_errors_px"][9] for s in detected if s["metrics"]["joint_errors_px"][9] is not None]
    assert wrist["labelled"] == len(errors) and wrist["mean_px"] == pytest.approx(np.mean(errors), abs=1e-3)
    # the worst three are misses (error 1), earliest first, and drawn in the montage
    assert [w["sample"] for w in summary["worst"]] == [s["sample"] for s in from_left][:3]
    with Image.open(out / "worst.png") as im:
        assert im.size[0] == 3 * 256 and im.size[1] > 256


def test_same_seed_same_numbers_and_sample_i_depends_on_seed_and_i(files, small_run):
    _, summary, samples, _ = small_run
    model = f"planted:{files / 'planted.yaml'}"
    again = run_eval(model, files / "scene.yaml", N, files / "again", worst=0)
    timing = ("seconds", "samples_per_s", "files", "worst", "scene")
    assert {k: v for k, v in again.items() if k not in timing} == {k: v for k, v in summary.items() if k not in timing}
    assert not (files / "again" / "worst.png").exists()
    first = run_eval(model, files / "scene.yaml", 4, files / "short", worst=0)
    short = [json.loads(line) for line in (files / "short" / "samples.jsonl").read_text().splitlines()]
    assert [s["params"] for s in short] == [s["params"] for s in samples[:4]] and first["samples"] == 4
    run_eval(model, files / "scene.yaml", 4, files / "other", seed=1, worst=0)
    other = [json.loads(line) for line in (files / "other" / "samples.jsonl").read_text().splitlines()]
    assert other[0]["params"] != short[0]["params"]


RAISING = '''
def raises(images):
    assert images.shape[1:] == (64, 64, 3) and images.dtype.name == "uint8"
    raise RuntimeError("model exploded")
'''


def test_a_model_that_raises_is_recorded_on_rendered_images(files, tmp_path, monkeypatch):
    (tmp_path / "eval_user_model.py").write_text(RAISING)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        s = run_eval("python:eval_user_model:raises", files / "scene.yaml", 3, tmp_path / "out", worst=1)
    finally:
        sys.modules.pop("eval_user_model", None)
    assert s["status"] == {"model_error": 3} and s["failure_rate"]["rate"] == 1.0
    assert s["detection_rate"]["count"] == 0 and s["metrics"] == {} and s["worst"][0]["caption"] == "#0 model error"
    line = json.loads((tmp_path / "out" / "samples.jsonl").read_text().splitlines()[0])
    assert "model exploded" in line["message"] and (tmp_path / "out" / "worst.png").is_file()


@pytest.mark.parametrize("change, option", [
    ({"--scene": "nowhere.yaml"}, "--scene"),
    ({"--model": "nonsense"}, "--model"),
    ({"--model": "planted:nowhere.yaml"}, "--model"),
    ({"-n": "0"}, "-n"),
    ({"--worst": "-1"}, "--worst"),
])
def test_bad_options_exit_2_naming_the_option(files, tmp_path, capsys, change, option):
    from examiner.cli import app

    args = {"--model": f"planted:{files / 'planted.yaml'}", "--scene": str(files / "scene.yaml"), "-n": "2",
            "--out": str(tmp_path / "out")} | change
    with pytest.raises(SystemExit) as e:
        run_cli(app, ["eval", *[x for kv in args.items() for x in kv]])
    err = capsys.readouterr().err
    assert e.value.code == 2 and option in err and "Traceback" not in err
    assert not (tmp_path / "out" / "eval.json").exists()
