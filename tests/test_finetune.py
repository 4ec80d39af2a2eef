"""Fine-tuning on found failures: a tiny end-to-end run completes and writes its report; the
region samples stay inside the boxes; held-out sets never share a sample id with training."""

import json

import pytest

from examiner.finetune import finetune
from synthgen.errors import ParamError


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from examiner.models.baseline import BaselineConfig, TorchBaseline

    d = tmp_path_factory.mktemp("ft")
    ckpt = TorchBaseline(BaselineConfig(input_size=64, widths=(8, 8, 16, 16, 16), decoder=8)).save(d / "m.pt")
    failures = {"space": "scenes/search_pose.yaml", "strategy": "random", "seed": 0, "budget": 10, "agents": 1,
                "regions": [{"id": 0, "bounds": {"camera.yaw": [60.0, 80.0]}},
                            {"id": 1, "bounds": {"pose.left_elbow.flex": [120.0, 140.0]}}]}
    (d / "search").mkdir()
    (d / "search" / "failures.json").write_text(json.dumps(failures))
    return d, ckpt


def test_tiny_finetune_run(tiny):
    d, ckpt = tiny
    r = finetune(ckpt, d / "search" / "failures.json", "scenes/studio.yaml", d / "run", mix=0.5, steps=2, n_train=4,
                 n_heldout=4, size=64, workers=1, batch_size=2, log=lambda m: None)
    assert (d / "run" / "finetune.md").read_text().startswith("| measure")
    assert (d / "run" / "finetuned.pt").is_file()
    assert set(r["before"]["regions_heldout"]["per_region"]) <= {"0", "1"}
    seeds = {k: v["seed"] for k, v in r["datasets"].items()}
    assert len(set(seeds.values())) == len(seeds)  # distinct seeds: no (seed, index) id in two sets
    for name in ("regions_train", "regions_heldout"):
        for meta in (d / "run" / "data" / name).glob("shards/*/meta/*.json"):
            m = json.loads(meta.read_text())
            if m["region"] == 0:
                assert 60 <= m["params"]["camera.yaw"] <= 80
            else:
                assert 120 <= m["params"]["pose.left_elbow.flex"] <= 140


def test_bad_mix_and_regions(tiny, tmp_path):
    d, ckpt = tiny
    with pytest.raises(ParamError, match="--mix"):
        finetune(ckpt, d / "search" / "failures.json", "scenes/studio.yaml", tmp_path / "x", mix=0.0)
    (tmp_path / "none.json").write_text(json.dumps({"regions": []}))
    with pytest.raises(ParamError, match="--regions"):
        finetune(ckpt, tmp_path / "none.json", "scenes/studio.yaml", tmp_path / "y")
