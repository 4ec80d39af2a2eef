"""Parallel evaluation: a search gives the same queries, failures and regions for any worker
count, whether the workers predict (a per-image model) or only render (others)."""

import json
import sys

import numpy as np
import pytest

from examiner.search.run import run_search
from synthgen.errors import ParamError

SPACE = """
image: {width: 64, height: 64}
search: [camera.yaw, camera.pitch, camera.distance]
failure: {metric: pck_bbox, threshold: 0.5, alpha: 0.3}
dims:
  camera.yaw: [-180, 180]
  camera.pitch: [-50, 75]
  camera.distance: [2.0, 9.0]
fixed:
  pose.preset: stand
"""
# a model of the image alone: it sees a person where enough pixels differ from the corner's
# colour and puts every keypoint on their centroid (so it fails often, but not everywhere)
MODELS = '''
import numpy as np

def _guess(images):
    out = np.full((len(images), 17, 3), np.nan)
    for b, img in enumerate(images.astype(np.float64)):
        fg = np.abs(img - img[0, 0]).sum(-1) > 60
        if fg.mean() > 0.04:
            ys, xs = np.nonzero(fg)
            out[b, :, 0] = xs.mean() + np.linspace(-4, 4, 17) * xs.std() / 4
            out[b, :, 1] = np.linspace(ys.min(), ys.max(), 17)
            out[b, :, 2] = 1.0
    return out

def per_image(images):
    return _guess(images)

per_image.per_image = True

def batched(images):
    return _guess(images)

EVENTS = []

def recording(images):
    import threading
    EVENTS.append(("predict", len(images), threading.current_thread() is threading.main_thread()))
    return _guess(images)

recording.per_image = True
'''


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("pool")
    (d / "space.yaml").write_text(SPACE)
    (d / "pool_models.py").write_text(MODELS)
    sys.path.insert(0, str(d))
    yield d
    sys.path.remove(str(d))
    sys.modules.pop("pool_models", None)


def _run(d, fn, workers, name):
    result = run_search(f"python:pool_models:{fn}", d / "space.yaml", "random", 72, d / name, seed=3,
                        tensorboard=False, workers=workers)
    queries = [json.loads(line) for line in (d / name / "queries.jsonl").read_text().splitlines()]
    for q in queries:
        q["query"].pop("seconds")
    return result, (d / name / "failures.json").read_bytes(), queries


@pytest.mark.parametrize("fn", ["per_image", "batched"])
def test_a_search_is_the_same_for_any_worker_count(setup, fn):
    one, doc1, q1 = _run(setup, fn, 1, f"{fn}_1")
    two, doc2, q2 = _run(setup, fn, 2, f"{fn}_2")
    assert two["workers"] == 2 and one["workers"] == 1
    assert len(q1) == 72 and q1 == q2 and doc1 == doc2
    failed = np.mean([q["query"]["failed"] for q in q1])
    assert 0.05 < failed < 0.95  # the model passes some queries and fails others


def test_worker_count_must_be_positive(setup):
    with pytest.raises(ParamError, match="--workers"):
        run_search("python:pool_models:batched", setup / "space.yaml", "random", 10, setup / "bad", workers=0)
    assert not (setup / "bad").exists()


def test_eval_is_the_same_for_any_worker_count(setup):
    from examiner.scene_eval import run_eval

    lines = []
    for workers in (1, 2):
        run_eval("python:pool_models:per_image", setup / "space.yaml", 24, setup / f"eval_{workers}", seed=5,
                 worst=2, workers=workers)
        rows = [json.loads(line) for line in (setup / f"eval_{workers}" / "samples.jsonl").read_text().splitlines()]
        for r in rows:
            r.pop("seconds")
        lines.append(rows)
    assert len(lines[0]) == 24 and lines[0] == lines[1]
    assert (setup / "eval_1" / "worst.png").read_bytes() == (setup / "eval_2" / "worst.png").read_bytes()


def test_a_per_image_model_predicts_each_image_as_soon_as_it_is_drawn(setup, monkeypatch):
    """In the search's own process, a per-image model predicts each image once it is drawn, one
    image at a time and in order, on a thread other than the one that draws (the next images are
    drawn, posed, dressed and labelled meanwhile), and the queries are the same as the same
    model's on whole batches."""
    from examiner.evaluate import Evaluator
    from examiner.models import load_model
    from examiner.search_space import SearchSpace
    from synthgen.render.renderer import Renderer

    search = SearchSpace.from_yaml(setup / "space.yaml")
    X = np.random.default_rng(0).uniform(-1, 1, (12, 3))
    model = load_model("python:pool_models:recording")
    events = sys.modules["pool_models"].EVENTS
    draw = Renderer._draw
    monkeypatch.setattr(Renderer, "_draw", lambda self, *a: events.append(("draw", 1)) or draw(self, *a))
    streamed = Evaluator(model, search, seed=3, batch_size=6).evaluate_vectors(X)
    predicts = [i for i, e in enumerate(events) if e[0] == "predict"]
    assert [events[i] for i in predicts] == [("predict", 1, False)] * 12  # one image each, off the drawing thread
    for k, i in enumerate(predicts):  # the k-th prediction comes after the k-th image is drawn
        assert sum(e[0] == "draw" for e in events[:i]) >= k + 1
    assert sum(e[0] == "draw" for e in events) == 12
    events.clear()
    model.per_image = False
    batched = Evaluator(model, search, seed=3, batch_size=6).evaluate_vectors(X)
    assert events == [("draw", 1)] * 6 + [("predict", 6, True)] + [("draw", 1)] * 6 + [("predict", 6, True)]
    strip = [{k: v for k, v in vars(q).items() if k != "seconds"} for q in streamed]
    assert strip == [{k: v for k, v in vars(q).items() if k != "seconds"} for q in batched]
    assert 0 < sum(q.failed for q in streamed) < 12
