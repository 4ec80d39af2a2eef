"""The trainable heatmap baseline (torch:) and ONNX models (onnx:): training lowers the loss,
checkpoints and ONNX exports reproduce predictions, augmentation moves keypoints with the
pixels, heatmap decoding is sub-pixel exact, and bad files fail with one clear error."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from examiner.models import load_model
from examiner.models.base import ModelUnderTest, Prediction
from examiner.models.baseline import (
    BaselineConfig,
    TorchBaseline,
    evaluate_pck,
    train,
)
from examiner.models.keypoint_geometry import (
    decode_heatmaps,
    gaussian_targets,
    heatmap_to_input,
    letterbox,
)
from examiner.models.training_data import (
    FLIP_INDEX,
    AugmentConfig,
    KeypointDataset,
    augment_matrix,
    load_image,
    read_coco,
    warp,
)
from examiner.models.onnx_model import OnnxModel, export_baseline
from synthgen.dataset.generate import generate
from synthgen.errors import ModelFileError, ParamError, SynthgenError

ROOT = Path(__file__).resolve().parents[1]
SCENE = ROOT / "scenes" / "studio.yaml"
SIZE, N_TRAIN, N_HELDOUT = 64, 8, 4
TINY = dict(input_size=64, widths=(8, 8, 16, 16, 16), blocks=(1, 1, 1, 1), decoder=16)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny networks gain nothing from a second thread, and lose much when the CPU is shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A tiny training set (seed 0) and held-out set (seed 1000000), laid out as
    ``examiner train-baseline --data`` expects, so the CLI reuses them."""
    root = tmp_path_factory.mktemp("baseline") / "data"
    generate(SCENE, N_TRAIN, root / "train", seed=0, workers=1, size=SIZE, formats="coco")
    generate(SCENE, N_HELDOUT, root / "heldout", seed=1_000_000, workers=1, size=SIZE, formats="coco")
    return root


@pytest.fixture(scope="module")
def batch(data):
    records = read_coco(data / "train")
    images = np.stack([load_image(r["file"]) for r in records])
    return images, np.stack([r["keypoints"] for r in records]), np.stack([r["visibility"] for r in records])


@pytest.fixture(scope="module")
def trained(data):
    torch.manual_seed(0)
    model = TorchBaseline(BaselineConfig(**TINY))
    train(model, [data / "train"], steps=3, batch_size=4, lr=3e-3, seed=0, log=None)
    return model


def test_training_steps_reduce_the_loss(batch):
    images, keypoints, vis = batch
    torch.manual_seed(0)
    model = TorchBaseline(BaselineConfig(**TINY))
    model.configure_training(lr=3e-3)
    losses = [model.train_step(images, keypoints, vis) for _ in range(25)]
    assert all(np.isfinite(losses))
    assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:3]), losses


def test_train_step_with_augmentation(batch):
    images, keypoints, vis = batch
    model = TorchBaseline(BaselineConfig(**TINY))
    loss = model.train_step(images[:4], keypoints[:4], vis[:4], rng=np.random.default_rng(0), augment=AugmentConfig())
    assert np.isfinite(loss) and loss > 0
    assert not model.net.training  # back in eval mode for predict


def test_training_is_deterministic_for_a_seed(data):
    def run():
        torch.manual_seed(1)
        model = TorchBaseline(BaselineConfig(**TINY))
        return train(model, [data / "train"], steps=2, batch_size=4, seed=5, log=None)["final_loss"]

    assert run() == run()


def test_predict_returns_a_valid_prediction(trained, batch):
    images = batch[0][:3]
    pred = trained.predict(images).check(3, SIZE, SIZE)
    assert pred.keypoints.shape == (3, 17, 2) and pred.scores.shape == (3, 17) and pred.detected.shape == (3,)
    assert ((pred.scores >= 0) & (pred.scores <= 1)).all()
    wide = np.zeros((2, 48, 80, 3), dtype=np.uint8)  # letterboxed: any aspect ratio
    trained.predict(wide).check(2, 48, 80)
    assert trained.predict(np.zeros((0, SIZE, SIZE, 3), np.uint8)).keypoints.shape == (0, 17, 2)


def test_save_load_round_trip_is_exact(trained, batch, tmp_path):
    path = trained.save(tmp_path / "b.pt")
    assert not list(tmp_path.glob(".tmp-*"))
    ckpt = torch.load(path, weights_only=True)  # plain containers and tensors only
    assert ckpt["input_size"] == 64 and ckpt["summary"]["train"]["steps"] == 3
    again = TorchBaseline.load(path)
    a, b = trained.predict(batch[0]), again.predict(batch[0])
    np.testing.assert_array_equal(a.keypoints, b.keypoints)
    np.testing.assert_array_equal(a.scores, b.scores)
    model = load_model(f"torch:{path}")
    assert isinstance(model, TorchBaseline) and model.name == f"torch:{path}"
    np.testing.assert_array_equal(model.predict(batch[0]).keypoints, a.keypoints)


def test_corrupt_or_missing_checkpoint_names_the_file(tmp_path):
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ModelFileError, match="corrupt.pt"):
        TorchBaseline.load(bad)
    with pytest.raises(ModelFileError, match="nothere.pt"):
        load_model(f"torch:{tmp_path / 'nothere.pt'}")
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(ModelFileError, match="other.pt"):
        TorchBaseline.load(other)


def _dots(size: int, keypoints: np.ndarray) -> torch.Tensor:
    """(1, 3, S, S) black image with a distinct colour at each (integer) keypoint."""
    img = torch.zeros(1, 3, size, size)
    for j, (x, y) in enumerate(keypoints.astype(int)):
        img[0, :, y, x] = torch.tensor([(j + 1) / 17, 1.0, 0.5])
    return img


def _colour_at(img: torch.Tensor, xy) -> torch.Tensor:
    x, y = (int(round(float(v))) for v in xy)
    return img[0, :, y, x]


@pytest.mark.parametrize("kind", ["flip", "translate", "rotate90"])
def test_augmentation_moves_keypoints_with_the_pixels(kind):
    s = 32
    rng = np.random.default_rng(0)
    kp = rng.integers(4, s - 4, size=(17, 2)).astype(np.float64)
    kp[:, 0] = rng.permutation(np.arange(4, 4 + 17))  # distinct columns: no two dots collide
    img = _dots(s, kp)
    flip = kind == "flip"
    m = {"flip": augment_matrix(s, flip=True), "translate": augment_matrix(s, tx=3, ty=-2),
         "rotate90": augment_matrix(s, rotate_deg=90)}[kind]
    out, kp2 = warp(img, torch.as_tensor(kp[None], dtype=torch.float32), m[None], [flip])
    kp2 = kp2[0].numpy()
    for j in range(17):
        src = FLIP_INDEX[j] if flip else j
        assert torch.allclose(_colour_at(out, kp2[j]), _colour_at(img, kp[src]), atol=1e-5), (kind, j)
    if flip:  # mirrored x, left <-> right: the new left wrist is where the right wrist was
        np.testing.assert_allclose(kp2[9], [s - 1 - kp[10, 0], kp[10, 1]], atol=1e-5)
        np.testing.assert_allclose(kp2[10], [s - 1 - kp[9, 0], kp[9, 1]], atol=1e-5)
        np.testing.assert_allclose(kp2[0], [s - 1 - kp[0, 0], kp[0, 1]], atol=1e-5)
    if kind == "translate":
        np.testing.assert_allclose(kp2, kp + [3, -2], atol=1e-5)


def test_dataset_batches_keep_keypoints_and_labels(data):
    ds = KeypointDataset([data / "train"], input_size=64)
    assert len(ds) == len(read_coco(data / "train"))
    x, kp, vis = ds.batch(np.arange(4), augment=False)
    assert x.shape == (4, 3, 64, 64) and 0 <= float(x.min()) and float(x.max()) <= 1
    rec = read_coco(data / "train")[0]  # 64 px images at input 64: letterbox is the identity
    np.testing.assert_allclose(kp[0].numpy(), rec["keypoints"], atol=1e-4)
    x1, kp1, vis1 = ds.batch(np.arange(4), np.random.default_rng(3))
    x2, kp2, vis2 = ds.batch(np.arange(4), np.random.default_rng(3))
    assert torch.equal(x1, x2) and torch.equal(kp1, kp2) and torch.equal(vis1, vis2)
    assert sorted(vis1.sum(1).tolist()) == sorted(vis.sum(1).tolist())  # flips permute, never drop, labels


def test_gaussian_targets_decode_to_their_keypoints():
    kp = torch.tensor([[[10.3, 20.7], [31.9, 5.2]] + [[40.0, 40.0]] * 15])
    target, w = gaussian_targets(kp, torch.ones(1, 17), 64, 4, 1.5)
    xy, peak = decode_heatmaps(target.numpy())
    np.testing.assert_allclose(heatmap_to_input(xy, 64, 64, 16, 16), kp.numpy(), atol=0.05)
    assert (peak > 0.8).all() and (w == 1).all()
    _, w_out = gaussian_targets(torch.tensor([[[-3.0, 5.0]] * 17]), torch.ones(1, 17), 64, 4, 1.5)
    assert (w_out == 0).all()  # joints pushed out of the input are not supervised


def test_letterbox_maps_pixels_both_ways():
    img = np.zeros((1, 40, 80, 3), np.uint8)
    out, lb = letterbox(img, 64, 64)
    assert out.shape == (1, 64, 64, 3)
    xy = np.array([[0.0, 0.0], [79.0, 39.0], [12.5, 30.25]])
    np.testing.assert_allclose(lb.to_image(lb.to_input(xy)), xy, atol=1e-9)
    np.testing.assert_allclose(lb.to_input(np.array([[-0.5, -0.5]])), [[-0.5, 16 - 0.5]])  # image corner


class _Oracle(ModelUnderTest):
    """Returns the ground truth of each image, found by its pixels."""

    def __init__(self, records):
        self.truth = {hashlib.sha1(load_image(r["file"]).tobytes()).hexdigest(): r["keypoints"] for r in records}

    def predict(self, images, infos=None):
        kp = np.stack([self.truth[hashlib.sha1(im.tobytes()).hexdigest()] for im in images])
        return Prediction(kp, np.ones(kp.shape[:2]), np.ones(len(kp), bool))


def test_evaluate_pck(data, trained):
    perfect = evaluate_pck(_Oracle(read_coco(data / "heldout")), data / "heldout")
    assert perfect["pck@0.05"] == perfect["pck@0.1"] == perfect["pck@0.2"] == 1.0
    assert perfect["mean_error_px"] == 0.0 and perfect["images"] == N_HELDOUT
    res = evaluate_pck(trained, data / "heldout")
    assert 0 <= res["pck@0.05"] <= res["pck@0.1"] <= res["pck@0.2"] <= 1
    assert len(res["per_joint_error_px"]) == 17


def test_onnx_export_matches_torch(trained, batch, tmp_path):
    onnx_path, spec_path = export_baseline(trained, tmp_path / "m.onnx")
    assert spec_path == tmp_path / "m.onnx.json"
    spec = json.loads(spec_path.read_text())
    assert spec["input"]["size"] == [64, 64] and spec["output"]["kind"] == "heatmaps"
    images = batch[0][:5]
    ref = trained.predict(images)
    for spec_string in (f"onnx:{onnx_path}", f"onnx:{spec_path}"):
        model = load_model(spec_string)
        assert isinstance(model, OnnxModel)
        hm, _ = model.raw(images)
        np.testing.assert_allclose(hm, trained.heatmaps(images)[0], atol=1e-4)
        pred = model.predict(images).check(len(images), SIZE, SIZE)
        np.testing.assert_allclose(pred.keypoints, ref.keypoints, atol=1e-2)
        np.testing.assert_allclose(pred.scores, ref.scores, atol=1e-4)
        np.testing.assert_array_equal(pred.detected, ref.detected)


def test_onnx_keypoint_output_is_mapped_back(tmp_path):
    """A (B, 17, 3) keypoints model on a 32 x 32 input: output pixels scale back to the image."""
    class Fixed(torch.nn.Module):
        def forward(self, x):
            grid = torch.arange(17, dtype=torch.float32)
            kp = torch.stack([grid, grid + 1, torch.full_like(grid, 0.9)], -1)
            return kp.unsqueeze(0).expand(x.shape[0], 17, 3) + 0 * x.mean()

    path = tmp_path / "kp.onnx"
    torch.onnx.export(Fixed(), (torch.zeros(1, 32, 32, 3),), str(path), input_names=["pixels"], output_names=["kp"],
                      dynamic_axes={"pixels": {0: "b"}, "kp": {0: "b"}}, dynamo=False)
    (tmp_path / "kp.onnx.json").write_text(json.dumps({
        "input": {"name": "pixels", "size": [32, 32], "layout": "NHWC"},
        "output": {"name": "kp", "kind": "keypoints", "order": "coco17"}}))
    pred = OnnxModel(path).predict(np.zeros((2, 64, 64, 3), np.uint8)).check(2, 64, 64)
    grid = np.arange(17.0)
    np.testing.assert_allclose(pred.keypoints[1, :, 0], (grid + 0.5) * 2 - 0.5)
    np.testing.assert_allclose(pred.keypoints[1, :, 1], (grid + 1.5) * 2 - 0.5)
    np.testing.assert_allclose(pred.scores, 0.9, atol=1e-6)


@pytest.mark.parametrize("edit, key", [
    (lambda s: s["input"].pop("size"), "input.size"),
    (lambda s: s["input"].update(layout="NCWH"), "input.layout"),
    (lambda s: s["input"].update(std=[1, 2]), "input.std"),
    (lambda s: s["output"].update(kind="boxes"), "output.kind"),
    (lambda s: s["output"].update(name="nope"), "output.name"),
    (lambda s: s["output"].update(order=[0] * 3), "output.order"),
])
def test_bad_onnx_spec_names_the_key_and_file(trained, tmp_path, edit, key):
    onnx_path, spec_path = export_baseline(trained, tmp_path / "m.onnx")
    spec = json.loads(spec_path.read_text())
    edit(spec)
    spec_path.write_text(json.dumps(spec))
    with pytest.raises(ParamError, match=rf"m\.onnx\.json.*'{key}'"):
        OnnxModel(onnx_path)


def test_onnx_missing_spec_or_model(tmp_path):
    (tmp_path / "x.onnx").write_bytes(b"junk")
    with pytest.raises(SynthgenError, match=r"x\.onnx\.json"):
        load_model(f"onnx:{tmp_path / 'x.onnx'}")
    (tmp_path / "x.onnx.json").write_text(json.dumps({"input": {"size": [8, 8]}, "output": {"kind": "heatmaps"}}))
    with pytest.raises(ModelFileError, match=r"x\.onnx"):
        load_model(f"onnx:{tmp_path / 'x.onnx'}")
    (tmp_path / "x.onnx.json").write_text("{not json")
    with pytest.raises(SynthgenError, match=r"x\.onnx\.json"):
        load_model(f"onnx:{tmp_path / 'x.onnx.json'}")


def test_cli_train_baseline_and_export(data, tmp_path):
    from typer.testing import CliRunner

    from examiner.cli import app

    out = tmp_path / "cli.pt"
    r = CliRunner().invoke(app, ["train-baseline", "--scene", str(SCENE), "--out", str(out), "-n", str(N_TRAIN),
                                 "--val", str(N_HELDOUT), "--steps", "2", "--batch-size", "4", "--size", str(SIZE),
                                 "--input-size", "64", "--data", str(data), "--workers", "1"])
    assert r.exit_code == 0, r.output
    assert "PCK@0.1" in r.output and out.is_file()
    model = TorchBaseline.load(out)
    assert set(model.summary["heldout"]) >= {"pck@0.05", "pck@0.1", "pck@0.2", "mean_error_px"}
    assert model.summary["train"]["steps"] == 2
    r = CliRunner().invoke(app, ["export-onnx", "--model", f"torch:{out}", "--out", str(tmp_path / "cli.onnx")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "cli.onnx.json").is_file()
    load_model(f"onnx:{tmp_path / 'cli.onnx'}").predict(np.zeros((1, SIZE, SIZE, 3), np.uint8)).check(1, SIZE, SIZE)
