"""The scan statistic over the queries (``examiner/search/scan.py``): a pocket on three dims at once
is found in those dims and no others, failures that do not cluster give no box most of the time
(the shuffled bar), and ``ModeFinder`` confirms a scanned pocket that its surrogate does not see."""

import numpy as np
import pytest

from examiner.search.scan import scan_boxes

POCKET = {2: (-0.35, 0.2), 5: (0.1, 0.65), 9: (-0.85, -0.3)}  # 27.5% of each range, 2% of the space, off the bins


def _pocket_queries(n: int, seed: int, inside: float = 0.9, background: float = 0.08):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, (n, 12))
    hit = np.all([(X[:, d] >= a) & (X[:, d] <= b) for d, (a, b) in POCKET.items()], axis=0)
    return X, rng.random(n) < np.where(hit, inside, background)


def test_the_scan_finds_a_three_dim_pocket_in_its_dims_only():
    X, y = _pocket_queries(3000, seed=4)
    boxes = scan_boxes(X, y, np.random.default_rng(0))
    assert boxes, "the pocket's 40-odd failures make no box"
    lo, hi, ratio = boxes[0]
    bounded = np.nonzero((lo > -1.0) | (hi < 1.0))[0].tolist()
    assert bounded == sorted(POCKET)
    for d, (a, b) in POCKET.items():  # faces cut between queries, not on the 8 bins' edges
        assert lo[d] == pytest.approx(a, abs=0.1) and hi[d] == pytest.approx(b, abs=0.1)
    faces = np.concatenate([lo[bounded], hi[bounded]])
    assert not np.any(np.isclose(faces * 4, np.round(faces * 4)) & (np.abs(faces) < 1))
    again = scan_boxes(X, y, np.random.default_rng(0))  # deterministic for the generator
    assert len(again) == len(boxes)
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2] for a, b in zip(boxes, again))


def test_failures_that_do_not_cluster_give_a_box_only_by_the_shuffled_bars_chance():
    """With the failures independent of the point, the best box beats the best of two shuffles
    about a third of the time; without the bar, every one of these samples gives a box."""
    rng = np.random.default_rng(1)
    proposed = 0
    for seed in range(20):
        X = rng.uniform(-1.0, 1.0, (600, 12))
        y = rng.random(600) < 0.3
        proposed += bool(scan_boxes(X, y, np.random.default_rng(seed)))
    assert proposed <= 10


def test_a_pocket_the_surrogate_does_not_see_is_confirmed_from_the_scan(tmp_path):
    from examiner.evaluate import Evaluator
    from examiner.models import load_model
    from examiner.search.context import SearchContext
    from examiner.search.surrogate_modes import ModeFinder, ModeFinding
    from examiner.search_space import SearchSpace

    (tmp_path / "space.yaml").write_text(
        "image: {width: 96, height: 96}\n"
        "search: [pose.left_shoulder.abduct, pose.right_shoulder.abduct, pose.left_elbow.flex, camera.yaw, camera.pitch]\n"
        "dims:\n  pose.left_shoulder.abduct: [0, 160]\n  pose.right_shoulder.abduct: [0, 160]\n"
        "  pose.left_elbow.flex: [0, 140]\n  camera.yaw: [-90, 90]\n  camera.pitch: [-30, 60]\n"
        "fixed:\n  camera.distance: 3.5\n")
    (tmp_path / "planted.yaml").write_text(
        "score: direct\nregions:\n  - name: pocket\n    effect: drop\n"
        "    bounds: {pose.left_shoulder.abduct: [40, 100], pose.left_elbow.flex: [50, 110], camera.yaw: [-30, 40]}\n")

    class Blind:  # a surrogate that predicts no failure anywhere
        def predict(self, X):
            return np.full(len(X), 0.02), np.zeros(len(X))

    def finder(config):
        ev = Evaluator(load_model(f"planted:{tmp_path / 'planted.yaml'}"), SearchSpace.from_yaml(tmp_path / "space.yaml"), seed=0)
        ctx = SearchContext(ev, 600, 0)
        ctx.draw_base_sample(300)
        return ctx, ModeFinder(ctx, config)

    ctx, without = finder(ModeFinding(scan=None))
    assert without.find(Blind(), owner="test") == []
    ctx, with_scan = finder(ModeFinding())
    found = with_scan.find(Blind(), owner="test")
    assert len(found) == 1 and found[0].failure_rate >= 0.8
    assert np.nonzero(found[0].hi - found[0].lo < 1.8)[0].tolist() == [0, 2, 3]
    assert found[0].lo[0] == pytest.approx(2 * 40 / 160 - 1, abs=0.12)
    assert found[0].hi[3] == pytest.approx(2 * 120 / 180 - 1, abs=0.12)
    assert with_scan.find(Blind(), owner="test") == []  # the next scan is due 64 queries later
