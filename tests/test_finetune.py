"""Fine-tuning on found failure modes: a tiny end-to-end run of the baseline and of a user's own
model (python:module:factory, through train_step); mode samples cover the mode's whole extent
in the search space; replay of the baseline's own data; held-out sets that would share a sample
with anything the model was trained on are refused; early stopping goes back to the best step;
weight interpolation keeps the best validated blend of the starting and the last weights;
intervals and the warning for a held-out set too small for its comparison."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from examiner.finetune import FinetuneConfig, finetune
from examiner.finetune_loop import ALPHAS, MixedBatches, choose_interpolation, run_training
from examiner.intervals import mean_interval, needed_images, relative_change, resolution_warning
from examiner.models.baseline import BaselineConfig, TorchBaseline, train
from examiner.models.trainable import FinetuneSettings, interpolate, trained_ranges
from synthgen.dataset.identity import SampleRange
from synthgen.errors import ParamError

SCENE = "scenes/studio.yaml"
TINY = dict(input_size=64, widths=(8, 8, 16, 16, 16), blocks=(1, 1, 1, 1), decoder=8)
SMALL = dict(heldout=4, size=64, workers=1, log=lambda m: None)

USER_MODEL = '''
import numpy as np
import torch

from examiner.models.base import Prediction


class TinyRegressor:
    """A user's model, not the baseline: an 8 x 8 colour thumbnail, a linear layer, 17 (x, y)."""

    calls = 0

    def __init__(self):
        torch.manual_seed(0)
        self.net = torch.nn.Linear(3 * 8 * 8, 34)
        self.opt = torch.optim.SGD(self.net.parameters(), lr=0.05)

    def _forward(self, images):
        x = torch.as_tensor(np.asarray(images), dtype=torch.float32).permute(0, 3, 1, 2) / 255.0
        return torch.sigmoid(self.net(torch.nn.functional.adaptive_avg_pool2d(x, 8).flatten(1))).view(-1, 17, 2)

    def predict(self, images, infos=None):
        h, w = images.shape[1:3]
        with torch.no_grad():
            xy = self._forward(images).numpy() * [w, h]
        return Prediction(xy, np.ones((len(images), 17)), np.ones(len(images), dtype=bool))

    def train_step(self, images, keypoints, visibility):
        h, w = images.shape[1:3]
        target = torch.as_tensor(np.asarray(keypoints) / [w, h], dtype=torch.float32)
        mask = torch.as_tensor(np.asarray(visibility) > 0, dtype=torch.float32)[..., None]
        loss = (((self._forward(images) - target) ** 2) * mask).sum() / mask.sum().clamp(min=1)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        TinyRegressor.calls += 1
        return float(loss.detach())
'''


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny baseline, a failures.json over scenes/search_pose.yaml, and one run whose
    rendered sets (OUT/data) every other test reuses."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("ft")
    ckpt = TorchBaseline(BaselineConfig(**TINY)).save(d / "m.pt")
    failures = {"space": "scenes/search_pose.yaml", "strategy": "random", "seed": 0, "budget": 10, "agents": 1,
                "searched_dims": [{"name": "pose.left_elbow.flex", "low": 0.0, "high": 145.0, "unit": "deg"}],
                "regions": [{"id": 0, "bounds": {"pose.left_elbow.flex": [120.0, 140.0]}, "failure_rate": 0.7,
                             "interval": [0.5, 0.85], "restricted": ["pose.left_elbow.flex"]}]}
    (d / "search").mkdir()
    (d / "search" / "failures.json").write_text(json.dumps(failures))
    config = FinetuneConfig(mix=0.5, space_mix=0.0, n_train=4, batch_size=2, replay="fresh",
                            settings=FinetuneSettings(steps=2))
    result = finetune(f"torch:{ckpt}", d / "search" / "failures.json", SCENE, d / "run", config, **SMALL)
    yield d, ckpt, result
    torch.set_num_threads(threads)


def folder(tiny, name: str) -> Path:
    """Where the fixture's run rendered one of its sets."""
    return Path(tiny[2]["datasets"][name]["folder"])


def test_tiny_finetune_run(tiny):
    d, ckpt, r = tiny
    md = (d / "run" / "finetune.md").read_text()
    assert md.startswith("| measure") and "[95% CI]" in md and "left elbow" in md
    assert (d / "run" / "finetuned.pt").is_file()
    assert set(r["comparison"]["per_mode"]) <= {"0"}
    for key in ("modes_failure_rate", "default_error"):
        before, change = r["comparison"][key]["before"], r["comparison"][key]["change"]
        assert before[1] <= before[0] <= before[2]
        assert len(change) == 3
    # the fine-tuned checkpoint records what it was trained on: the run's own training sets
    seeds = {(x["seed"], x["label"].split()[2]) for x in TorchBaseline.load(r["finetuned"]).summary["trained_on"]}
    assert seeds == {(1, "regions_train"), (2, "default_train")}


def test_mode_samples_cover_the_whole_mode_in_the_search_space(tiny):
    knees, metas = [], []
    for name in ("regions_train", "regions_heldout"):
        for meta in folder(tiny, name).glob("shards/*/meta/*.json"):
            metas.append(json.loads(meta.read_text()))
    assert len(metas) == 6
    for m in metas:
        assert 120 <= m["params"]["pose.left_elbow.flex"] <= 140  # the mode's restricted dim
        assert m["params"]["camera.distance"] == 3.2  # the search space's own fixed value, not the studio's
        knees.append(m["params"]["pose.right_knee.flex"])
    assert len(set(knees)) == len(knees) and max(knees) - min(knees) > 10  # free searched dims vary


def test_replay_of_the_baseline_s_own_data_and_the_heldout_identity_check(tiny, tmp_path):
    d, _, _ = tiny
    data = d / "run" / "data"
    model = TorchBaseline(BaselineConfig(**TINY))
    train(model, [folder(tiny, "default_train")], steps=1, batch_size=2, log=None)
    assert [(r.seed, r.n) for r in trained_ranges(model)] == [(2, 2)]  # train() records its sample ranges
    ckpt = model.save(tmp_path / "b.pt")
    config = FinetuneConfig(mix=0.5, n_train=4, batch_size=2, replay="baseline", settings=FinetuneSettings(steps=1))
    r = finetune(f"torch:{ckpt}", d / "search" / "failures.json", SCENE, tmp_path / "run", config, data=data, **SMALL)
    assert r["replay"] == {"kind": "baseline", "folders": [str(folder(tiny, "default_train"))]}
    assert "default_train" not in r["datasets"]
    # a baseline trained with --seed 4 on the studio shares samples with the default held-out set
    # (seed 4 = held-out seed 0 * 10 + 4), whether its checkpoint records ranges or only scene and seed
    for summary in ({"trained_on": [SampleRange.planned(SCENE, 4, 3000, "b").to_dict()]},
                    {"scene": SCENE, "train": {"seed_data": 4, "datasets": ["/nowhere"]}}):
        clash = TorchBaseline(BaselineConfig(**TINY), summary).save(tmp_path / "clash.pt")
        with pytest.raises(ParamError, match="--heldout-seed.*default_heldout.*seed 4"):
            finetune(f"torch:{clash}", d / "search" / "failures.json", SCENE, tmp_path / "x", data=data, **SMALL)
    assert not (tmp_path / "x").exists()  # refused before anything rendered


@pytest.fixture
def user_model(tmp_path, monkeypatch):
    (tmp_path / "user_pose.py").write_text(USER_MODEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "user_pose"
    sys.modules.pop("user_pose", None)


def test_a_user_model_is_fine_tuned_through_train_step(tiny, user_model, tmp_path):
    d, _, _ = tiny
    config = FinetuneConfig(mix=0.5, n_train=4, batch_size=2, replay="fresh", settings=FinetuneSettings(steps=3))
    r = finetune(f"python:{user_model}:TinyRegressor", d / "search" / "failures.json", SCENE, tmp_path / "run",
                 config, data=d / "run" / "data", **SMALL)
    assert sys.modules[user_model].TinyRegressor.calls == 3
    assert r["finetuned"] is None and np.isfinite(r["training"]["final_loss"])
    assert (tmp_path / "run" / "finetune.md").is_file()
    # no configure_finetune: settings it cannot honour are refused, naming the option
    bad = FinetuneConfig(mix=0.5, n_train=4, batch_size=2, replay="fresh",
                         settings=FinetuneSettings(steps=1, encoder_lr_scale=0.1))
    with pytest.raises(ParamError, match="--encoder-lr-scale"):
        finetune(f"python:{user_model}:TinyRegressor", d / "search" / "failures.json", SCENE, tmp_path / "r2", bad,
                 data=d / "run" / "data", **SMALL)
    with pytest.raises(ParamError, match="--model"):
        finetune(f"python:{user_model}:nothing", d / "search" / "failures.json", SCENE, tmp_path / "r3", **SMALL)


def test_batches_mix_modes_and_replay(tiny):
    modes, replay = [folder(tiny, "regions_train")], [folder(tiny, "default_train")]
    batches = MixedBatches(modes, replay, mix=0.25, batch_size=4, seed=0)
    assert batches.counts == (1, 3, 0)
    images, keypoints, vis = batches.next()
    assert images.shape == (4, 64, 64, 3) and images.dtype == np.uint8 and keypoints.shape == (4, 17, 2)
    three = MixedBatches(modes, replay, mix=0.25, batch_size=4, seed=0, space_folders=[folder(tiny, "regions_heldout")],
                         space_mix=0.5)
    assert three.counts == (1, 1, 2) and three.next()[0].shape == (4, 64, 64, 3)


def test_search_space_samples_in_the_mix_and_held_out(tiny, tmp_path):
    d, ckpt, first = tiny
    assert "space_failure_rate" in first["comparison"]  # every run measures the whole search space
    config = FinetuneConfig(mix=0.25, space_mix=0.5, n_train=4, batch_size=4, replay="fresh",
                            settings=FinetuneSettings(steps=1))
    # in the first run's data folder: another --mix asks for other training sets beside its own
    r = finetune(f"torch:{ckpt}", d / "search" / "failures.json", SCENE, tmp_path / "run", config,
                 data=d / "run" / "data", **SMALL)
    assert r["training"]["batch"] == [1, 1, 2] and r["datasets"]["space_train"]["samples"] == 2
    assert r["datasets"]["regions_heldout"]["folder"] == first["datasets"]["regions_heldout"]["folder"]
    assert r["datasets"]["regions_train"]["samples"] == 1 < first["datasets"]["regions_train"]["samples"]
    elbows = [json.loads(m.read_text())["params"]["pose.left_elbow.flex"]
              for m in Path(r["datasets"]["space_heldout"]["folder"]).glob("shards/*/meta/*.json")]
    assert len(elbows) == 4 and min(elbows) < 120  # the whole space, not only the mode (elbow 120-140)
    with pytest.raises(ParamError, match="--space-mix"):
        FinetuneConfig(mix=0.8, space_mix=0.3).check()


class _Counter:
    """A 'model' whose weight is the number of steps taken; validation prefers weight 3."""

    name = "counter"

    def __init__(self):
        self.w = 0

    def train_step(self, images, keypoints, visibility):
        self.w += 1
        return 1.0

    def state_dict(self):
        return {"w": self.w}

    def load_state_dict(self, state):
        self.w = state["w"]


class _Batches:
    counts = (1, 0)

    def next(self):
        return np.zeros((1, 8, 8, 3), np.uint8), np.zeros((1, 17, 2)), np.zeros((1, 17), int)


def test_early_stopping_keeps_the_best_validated_step():
    from examiner.models.trainable import restore

    model = _Counter()
    summary, best = run_training(model, _Batches(), FinetuneSettings(steps=6), lambda m: {"val_error": abs(m.w - 3)},
                                 val_every=1, early_stop=True, log=None)
    assert model.w == 6 and summary["stopped_at"] == 3 and [h["step"] for h in summary["validation"]] == list(range(7))
    restore(model, best)
    assert model.w == 3



class _Weights:
    name = "weights"

    def __init__(self, w, n):
        self.w, self.n = np.asarray(w, dtype=float), n

    def state_dict(self):
        return {"w": self.w.copy(), "n": self.n}

    def load_state_dict(self, state):
        self.w, self.n = state["w"].copy(), state["n"]


def test_weight_interpolation_keeps_the_best_validated_blend():
    model = _Weights([1.0, 2.0], 5)  # the last step; the starting weights are 0 with counter 0
    seen = []

    def validate(m):
        seen.append(m.w.copy())
        return {"val_error": abs(m.w[0] - 0.3)}

    alpha, state, history = choose_interpolation(model, {"w": np.zeros(2), "n": 0}, validate, log=None)
    assert alpha == 0.3 and np.allclose(state["w"], [0.3, 0.6]) and state["n"] == 5  # counters are not blended
    assert [h["alpha"] for h in history] == list(ALPHAS) and np.allclose(seen[0], 0) and np.allclose(seen[-1], [1, 2])
    assert np.allclose(model.w, [1, 2]) and model.n == 5  # the model is left at its last step
    # the starting model's validation from training stands for alpha 0: it is not validated again
    seen.clear()
    again = choose_interpolation(model, {"w": np.zeros(2), "n": 0}, validate, log=None,
                                 start_score={"step": 0, "val_error": 0.3})
    assert again[0] == 0.3 and len(seen) == len(ALPHAS) - 1 and again[2][0] == {"alpha": 0.0, "val_error": 0.3}
    # the baseline's state: floating tensors (batch-norm statistics too) blended, step counters taken from the end
    a, b = TorchBaseline(BaselineConfig(**TINY)), TorchBaseline(BaselineConfig(**TINY))
    for p in b.net.parameters():
        p.data.add_(1.0)
    end = {k: v + 2 if k.endswith("num_batches_tracked") else v for k, v in b.state_dict().items()}
    half = interpolate(a.state_dict(), end, 0.5)
    for k, v in half.items():
        if v.is_floating_point():
            assert torch.allclose(v, (a.state_dict()[k] + end[k]) / 2, atol=1e-6), k
        else:
            assert torch.equal(v, end[k]), k


def test_a_finetune_run_keeps_an_interpolated_blend(tiny, tmp_path):
    d, ckpt, _ = tiny
    config = FinetuneConfig(mix=0.5, n_train=4, batch_size=2, replay="fresh", interpolate=True,
                            settings=FinetuneSettings(steps=2))
    r = finetune(f"torch:{ckpt}", d / "search" / "failures.json", SCENE, tmp_path / "run", config, val=2,
                 data=d / "run" / "data", **SMALL)
    kept = r["training"]["interpolation"]
    assert kept["alpha"] in ALPHAS and [h["alpha"] for h in kept["validation"]] == list(ALPHAS)
    assert "comparison_last_step" in r and (tmp_path / "run" / "finetuned_last_step.pt").is_file()
    assert "weight interpolation kept" in (tmp_path / "run" / "finetune.md").read_text()
    start, last, chosen = (TorchBaseline.load(f).net.state_dict() for f in
                           (ckpt, r["finetuned_last_step"], r["finetuned"]))
    for k, v in chosen.items():
        if v.is_floating_point():
            assert torch.allclose(v, start[k] + kept["alpha"] * (last[k] - start[k]), atol=1e-6), k


def test_baseline_finetune_settings():
    model = TorchBaseline(BaselineConfig(**TINY))
    model.configure_finetune(FinetuneSettings(lr=1e-3, encoder_lr_scale=0.1, anchor_weight=1.0, steps=10,
                                              freeze_norm_stats=True))
    stats = {k: v.clone() for k, v in model.net.state_dict().items() if "running" in k}
    groups = model.optimizer.param_groups  # encoder (with and without decay), then decoder and head
    assert groups[0]["lr"] == pytest.approx(0.1 * groups[2]["lr"]) and groups[1]["lr"] == groups[0]["lr"]
    images = np.random.default_rng(0).integers(0, 255, (2, 64, 64, 3), dtype=np.uint8)
    kp = np.full((2, 17, 2), 32.0)
    vis = np.full((2, 17), 2)
    first = model.train_step(images, kp, vis)
    second = model.train_step(images, kp, vis)
    assert np.isfinite(first) and np.isfinite(second)
    weight, start = model.anchor
    drift = sum(((p.detach() - start[n]) ** 2).sum() for n, p in model.net.named_parameters())
    assert weight == 1.0 and drift > 0  # the weights moved away from the anchor
    assert all(torch.equal(v, model.net.state_dict()[k]) for k, v in stats.items())  # batch-norm statistics kept
    model.configure_finetune(FinetuneSettings(steps=10))
    model.train_step(images, kp, vis)
    assert not all(torch.equal(v, model.net.state_dict()[k]) for k, v in stats.items())


def test_intervals_and_the_too_small_warning():
    rng = np.random.default_rng(0)
    err = rng.gamma(2.0, 0.04, 4000)
    after = err * 1.05 + rng.normal(0, 0.004, 4000)
    small, large = relative_change(err[:100], [after[:100]]), relative_change(err, [after])
    for c in (small, large):
        assert c[1] < 0.05 < c[2]  # the true change (+5%) is inside
    assert (large[2] - large[1]) < 0.6 * (small[2] - small[1])
    assert needed_images(100, small, 0.005) > 100 > needed_images(100, small, 0.02)
    assert resolution_warning("x", 100, small, 0.001) and "--heldout" in resolution_warning("x", 100, small, 0.001)
    assert resolution_warning("x", 4000, large, 0.05) is None
    m = mean_interval([err[:200], after[:200]])
    assert m[1] < m[0] < m[2]


def test_bad_options(tiny, tmp_path):
    d, ckpt, _ = tiny
    with pytest.raises(ParamError, match="--mix"):
        finetune(f"torch:{ckpt}", d / "search" / "failures.json", SCENE, tmp_path / "x", FinetuneConfig(mix=0.0))
    with pytest.raises(ParamError, match="--replay"):
        finetune(f"torch:{ckpt}", d / "search" / "failures.json", SCENE, tmp_path / "x", FinetuneConfig(replay="old"))
    with pytest.raises(ParamError, match="--early-stop"):
        finetune(f"torch:{ckpt}", d / "search" / "failures.json", SCENE, tmp_path / "x",
                 FinetuneConfig(early_stop=True))
    with pytest.raises(ParamError, match="--interpolate"):
        finetune(f"torch:{ckpt}", d / "search" / "failures.json", SCENE, tmp_path / "x",
                 FinetuneConfig(interpolate=True))
    with pytest.raises(ParamError, match="--interpolate"):
        FinetuneConfig(interpolate=True, early_stop=True).check()
    (tmp_path / "none.json").write_text(json.dumps({"regions": []}))
    with pytest.raises(ParamError, match="--regions"):
        finetune(f"torch:{ckpt}", tmp_path / "none.json", SCENE, tmp_path / "y")


def test_cli_errors_exit_2(tiny, tmp_path, capsys):
    from examiner.cli import app
    from synthgen.errors import run_cli

    d, ckpt, _ = tiny
    base = ["finetune", "--regions", str(d / "search" / "failures.json"), "--out", str(tmp_path / "o")]
    for extra, option in ((["--model", "python:no_such_module:f"], "--model"),
                          (["--model", f"torch:{ckpt}", "--replay", "old"], "--replay"),
                          (["--model", f"torch:{ckpt}", "--interpolate"], "--interpolate")):
        with pytest.raises(SystemExit) as e:
            run_cli(app, base + extra)
        assert e.value.code == 2 and option in capsys.readouterr().err
