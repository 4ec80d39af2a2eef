"""Examiner core: metrics against independent references, the planted model, the
fault-tolerant evaluator, BlazePose on a real render, and the Gymnasium / PettingZoo APIs."""

import sys

import numpy as np
import pytest

from examiner.evaluate import Evaluator
from examiner.metrics import COCO_SIGMAS, FailureRule, mpjpe, oks, pa_mpjpe, pck, score_sample
from examiner.models import Prediction, load_model
from examiner.models.planted import PlantedModel
from examiner.search_space import SearchSpace
from synthgen.errors import ConfigError, ParamError

SPACE_YAML = """
image: {width: 96, height: 96}
search: [pose.left_shoulder.abduct, camera.yaw]
failure: {metric: oks, threshold: 0.5}
dims:
  pose.left_shoulder.abduct: [0, 160]
  camera.yaw: [-90, 90]
  camera.pitch: [0, 10]
fixed:
  camera.distance: 3.5
"""
PLANTED_YAML = """
noise: 0.01
regions:
  - name: raised_arm_from_the_left
    bounds: {pose.left_shoulder.abduct: [100, 160], camera.yaw: [30, 90]}
    effect: drop
  - name: swapped_from_the_right
    bounds: {camera.yaw: [-40, -20]}
    effect: swap
"""


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    f = tmp_path_factory.mktemp("space") / "space.yaml"
    f.write_text(SPACE_YAML)
    return SearchSpace.from_yaml(f)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    f = tmp_path_factory.mktemp("planted") / "planted.yaml"
    f.write_text(PLANTED_YAML)
    return load_model(f"planted:{f}")


# --- metrics --------------------------------------------------------------------------------
def test_oks_matches_pycocotools():
    from pycocotools.cocoeval import COCOeval

    rng = np.random.default_rng(0)
    gt = rng.uniform(10, 90, (17, 2))
    vis = rng.integers(0, 3, 17)
    pred = gt + rng.normal(0, 3, gt.shape)
    area = 1500.0
    ev = COCOeval(iouType="keypoints")
    g = {"keypoints": np.column_stack([gt, vis]).ravel().tolist(), "area": area, "bbox": [0, 0, 100, 100],
         "num_keypoints": int((vis > 0).sum())}
    d = {"keypoints": np.column_stack([pred, np.ones(17)]).ravel().tolist(), "score": 1.0}
    ev.cocoGt = ev.cocoDt = None
    ev._gts = {(1, 1): [g]}
    ev._dts = {(1, 1): [d]}
    ev.params.imgIds, ev.params.catIds = [1], [1]
    ref = ev.computeOks(1, 1)[0, 0]
    assert oks(pred, gt, vis, area) == pytest.approx(ref, rel=1e-9)
    assert oks(gt, gt, vis, area) == pytest.approx(1.0)
    assert np.allclose(COCO_SIGMAS[:5], [.026, .025, .025, .035, .035])


def test_pck_mpjpe_pa_mpjpe():
    gt = np.zeros((17, 2))
    pred = gt.copy()
    pred[:4, 0] = 11.0
    vis = np.full(17, 2)
    assert pck(pred, gt, vis, 100.0, 0.1) == pytest.approx(13 / 17)
    rng = np.random.default_rng(1)
    j = rng.normal(0, 0.3, (17, 3))
    from scipy.spatial.transform import Rotation

    moved = 1.3 * j @ Rotation.from_euler("xyz", [20, -35, 60], degrees=True).as_matrix().T + [0.5, -0.2, 3.0]
    assert pa_mpjpe(moved, j) == pytest.approx(0.0, abs=1e-6)
    assert mpjpe(moved, j) > 50.0 and mpjpe(j + 0.1, j) == pytest.approx(0.0, abs=1e-9)


def test_failure_rule():
    gt = np.random.default_rng(2).uniform(20, 80, (17, 2))
    vis = np.full(17, 2)
    rule = FailureRule()
    good = score_sample(rule, gt + 0.5, True, gt, vis, np.array([20, 20, 60, 60]), 2000.0)
    assert good["graded"] and not good["failed"] and good["error"] < 0.05
    miss = score_sample(rule, gt, False, gt, vis, np.array([20, 20, 60, 60]), 2000.0)
    assert miss["failed"] and miss["error"] == 1.0
    hidden = score_sample(rule, gt, True, gt, np.zeros(17), np.array([0, 0, 1, 1]), 1.0)
    assert not hidden["graded"] and not hidden["failed"]
    with pytest.raises(ParamError, match="failure.metric"):
        FailureRule(metric="accuracy")


# --- planted model and evaluator ---------------------------------------------------------------
def test_planted_model_fails_only_inside_its_regions(search, planted):
    ev = Evaluator(planted, search)
    qs = ev.evaluate([{"pose.left_shoulder.abduct": 130, "camera.yaw": 60},   # inside region 0: drop
                      {"pose.left_shoulder.abduct": 130, "camera.yaw": 0},    # outside
                      {"pose.left_shoulder.abduct": 20, "camera.yaw": -30}])  # inside region 1: swap
    assert [q.failed for q in qs] == [True, False, True]
    assert qs[0].metrics["detected"] is False and qs[1].metrics["oks"] > 0.9
    assert qs[2].metrics["oks"] < 0.5
    assert ev.queries_used == 3 and [q.id for q in qs] == [0, 1, 2]
    again = ev.evaluate([{"pose.left_shoulder.abduct": 130, "camera.yaw": 0}])[0]
    assert again.cached and ev.queries_used == 3 and again.error == qs[1].error
    twice = ev.evaluate([{"pose.left_shoulder.abduct": 60, "camera.yaw": 5}] * 2)  # one point twice in a call
    assert [q.cached for q in twice] == [False, True] and ev.queries_used == 4 and twice[0].id == twice[1].id
    assert Evaluator(planted, search).evaluate_vectors(np.zeros((1, 2)))[0].error == \
        ev.evaluate_vectors(np.zeros((1, 2)))[0].error


@pytest.mark.parametrize("text, key", [
    ("regions: []\n", "regions"),
    ("regions:\n  - bounds: {camera.yawn: [0, 1]}\n", "camera.yawn"),
    ("regions:\n  - bounds: {camera.yaw: [10, 0]}\n", "camera.yaw"),
    ("regions:\n  - bounds: {camera.yaw: [0, 10]}\n    effect: explode\n", "effect"),
    ("regions:\n  - bounds: {background.kind: [0, 1]}\n", "background.kind"),
])
def test_planted_file_errors_name_the_key(tmp_path, text, key):
    f = tmp_path / "p.yaml"
    f.write_text(text)
    with pytest.raises((ParamError, ConfigError), match=key.replace(".", r"\.")):
        PlantedModel.from_yaml(f)


BAD_MODULE = '''
import numpy as np

def flaky(images):
    out = []
    for img in images:
        m = img.mean()
        if m < 0:  # never
            raise RuntimeError
        out.append(np.full((17, 3), 40.0))
    if len(images) and images[0][0, 0, 0] % 2 == 1:
        raise RuntimeError("odd pixel")
    return np.stack(out)

def nan_model(images):
    out = np.full((len(images), 17, 3), 40.0)
    out[:, 3, 0] = np.nan
    out[:, :, 2] = 1.0
    return out

def wrong_shape(images):
    return np.zeros((len(images), 16, 3))

def raises(images):
    raise ValueError("model exploded")
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "user_models.py").write_text(BAD_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "user_models"
    sys.modules.pop("user_models", None)


@pytest.mark.parametrize("fn, status", [("nan_model", "bad_output"), ("wrong_shape", "bad_output"),
                                        ("raises", "model_error")])
def test_misbehaving_models_are_recorded_and_evaluation_goes_on(search, user_module, fn, status):
    ev = Evaluator(load_model(f"python:{user_module}:{fn}"), search, batch_size=2)
    qs = ev.evaluate_vectors(np.array([[0.0, 0.0], [0.5, -0.5], [-0.5, 0.2]]))
    assert [q.status for q in qs] == [status] * 3 and all(q.failed for q in qs)
    assert ev.counts[status] == 3 and ev.queries_used == 3
    assert qs[0].message


def test_one_bad_image_does_not_sink_its_batch(search, user_module):
    class Picky:
        needs_image = True
        name = "picky"

        def __init__(self):
            self.calls = 0

        def predict(self, images, infos=None):
            self.calls += 1
            if len(images) > 1:
                raise RuntimeError("batch too big")
            return Prediction(np.tile(infos[0].keypoints2d, (1, 1, 1)), np.ones((1, 17)), np.ones(1, bool))

    ev = Evaluator(Picky(), search, batch_size=3)
    qs = ev.evaluate_vectors(np.array([[0.0, 0.0], [0.5, -0.5], [-0.5, 0.2]]))
    assert [q.status for q in qs] == ["ok"] * 3 and all(not q.failed for q in qs)


def test_search_space_errors(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("search: [pose.nose.*]\ndims:\n  camera.yaw: [0, 10]\n")
    with pytest.raises(ParamError, match="pose.nose"):
        SearchSpace.from_yaml(f)
    f.write_text("search: [camera.yaw]\nfailure: {metric: accuracy}\ndims:\n  camera.yaw: [0, 10]\n")
    with pytest.raises(ParamError, match="failure"):
        SearchSpace.from_yaml(f)
    with pytest.raises(ParamError, match="--model"):
        load_model("tensorflow:model.pb")


def test_blazepose_on_a_rendered_person(tmp_path):
    pytest.importorskip("mediapipe", reason="BlazePose needs mediapipe==0.10.14 (the test extra installs it)")
    f = tmp_path / "s.yaml"
    f.write_text("image: {width: 256, height: 256}\nsearch: [camera.yaw]\ndims:\n  camera.yaw: [-180, 180]\n"
                 "fixed:\n  camera.distance: 3.2\n  garment.top.class: t-shirt\n  garment.bottom.class: pant\n")
    model = load_model("mediapipe")
    ev = Evaluator(model, SearchSpace.from_yaml(f))
    front, back = ev.evaluate([{"camera.yaw": 0.0}, {"camera.yaw": 180.0}])
    assert front.status == "ok" and front.metrics["detected"], front
    assert front.metrics["oks"] > 0.8 and front.metrics["pa_mpjpe_mm"] < 150
    assert back.status == "ok" and back.graded  # seen from behind: scored, whatever the verdict
    model.close()


# --- environments ---------------------------------------------------------------------------------
def test_gymnasium_and_sb3_env_checkers(search, planted):
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    from examiner.env import ExaminerEnv

    env = ExaminerEnv(Evaluator(planted, search), max_steps=5)
    check_env(env, skip_render_check=True)
    sb3_check_env(ExaminerEnv(Evaluator(planted, search), max_steps=5), warn=True)
    obs, info = env.reset(seed=3, options={"start": np.array([0.5, 0.6])})
    assert obs.shape == env.observation_space.shape
    assert env.core.history[-1][1].params["camera.yaw"] == pytest.approx(54.0)
    obs, r, term, trunc, info = env.step(np.array([1.0, 1.0], dtype=np.float32))
    assert info["failed"] and r > 1.0  # a new failure far from any known region earns the bonus


def test_pettingzoo_parallel_api_and_batching(search, planted):
    from pettingzoo.test import parallel_api_test

    from examiner.env import ExaminerParallelEnv

    parallel_api_test(ExaminerParallelEnv(Evaluator(planted, search), n_agents=3, max_steps=4), num_cycles=10)
    calls = []
    ev = Evaluator(planted, search)
    real = ev.evaluate
    ev.evaluate = lambda ps: calls.append(len(ps)) or real(ps)
    env = ExaminerParallelEnv(ev, n_agents=3, max_steps=2)
    obs, _ = env.reset(seed=0)
    env.step({a: env.action_space(a).sample() for a in env.agents})
    assert calls == [3, 3]  # one evaluator call per step for all agents
    assert obs["agent_1"][-3:].tolist() == [-1.0, 1.0, -1.0]
