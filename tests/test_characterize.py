"""The shared characterization of failure modes, landscapes and the benchmark's metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from examiner.landscape import landscape, write_landscape
from examiner.models.planted import PlantedModel
from examiner.search.characterize import Characterization, Characterizer
from examiner.search.rates import best_interval, to_the_edges, wilson
from examiner.search.regions import Region, RegionRegistry
from examiner.search.run import run_search
from examiner.search.scoring import match, score_run
from examiner.search_space import SearchSpace

SPACE = """
image: {width: 64, height: 64}
search: [camera.pitch, camera.yaw, camera.distance, light.ambient]
dims:
  camera.pitch: [-40, 70]
  camera.yaw: [-180, 180]
  camera.distance: [2, 8]
  light.ambient: [0, 0.6]
"""


def _planted(tmp_path, regions: str, extra: str = "") -> str:
    path = tmp_path / "planted.yaml"
    path.write_text("score: direct\n" + extra + "regions:\n" + regions)
    return f"planted:{path}"


@pytest.fixture()
def space(tmp_path):
    (tmp_path / "space.yaml").write_text(SPACE)
    return tmp_path / "space.yaml"


def _restricted(region: dict, searched: list[dict]) -> dict:
    return {k: region["bounds"][k] for k in region["restricted"]}


def test_an_edge_threshold_is_recovered_in_its_one_dim(tmp_path, space):
    model = _planted(tmp_path, "  - {name: high, bounds: {camera.pitch: [48, 70]}}\n")
    r = run_search(model, space, "random", 600, tmp_path / "run", seed=3, tensorboard=False)
    assert len(r["regions"]) == 1, r["regions"]
    (lo, hi), = _restricted(r["regions"][0], r["searched_dims"]).values()
    assert r["regions"][0]["restricted"] == ["camera.pitch"]
    assert abs(lo - 48) <= 0.05 * 110 and hi == 70  # within 5% of the range; up to the edge, not 70..70
    assert r["regions"][0]["failure_rate"] >= 0.95 and r["regions"][0]["interval"][0] >= 0.8


def test_a_two_dim_interaction_keeps_both_dims_and_nothing_else(tmp_path, space):
    model = _planted(tmp_path, "  - {name: far_dim, bounds: {camera.distance: [5.5, 8], light.ambient: [0, 0.25]}}\n")
    r = run_search(model, space, "random", 800, tmp_path / "run", seed=1, tensorboard=False)
    assert len(r["regions"]) == 1, r["regions"]
    got = _restricted(r["regions"][0], r["searched_dims"])
    assert sorted(got) == ["camera.distance", "light.ambient"]
    assert abs(got["camera.distance"][0] - 5.5) <= 0.3 and got["camera.distance"][1] == 8
    assert got["light.ambient"][0] == 0 and abs(got["light.ambient"][1] - 0.25) <= 0.03
    region = r["regions"][0]
    assert region["lift"] > 2 and 0 < region["coverage"] <= 1 and region["base_rate"] < 0.4
    assert set(region["importance"]) == {"camera.distance", "light.ambient"}


def test_no_bound_is_narrower_than_the_resolution(tmp_path, space):
    ctx = _context(space)
    ch = Characterizer(ctx, Characterization(resolution=0.1))
    lo, hi = ch.snap(np.array([0.3, -1.0, 0.5, 0.96]), np.array([0.3, 1.0, 0.52, 0.97]))
    assert (hi - lo >= 0.1 - 1e-12).all()
    assert hi[3] == 1.0  # within half the resolution of the edge: the edge
    assert lo[1] == -1.0 and hi[1] == 1.0
    model = _planted(tmp_path, "  - {name: slice, bounds: {camera.yaw: [10, 12]}}\n")
    r = run_search(model, space, "cmaes", 400, tmp_path / "run", seed=0, tensorboard=False)
    for region in r["regions"]:
        widths = np.array(region["normalized"]["hi"]) - np.array(region["normalized"]["lo"])
        assert (widths >= 0.1 - 1e-9).all(), region


def _context(space):
    from examiner.evaluate import Evaluator
    from examiner.search.context import SearchContext

    class Never:
        name = "never"
        needs_image = False
        scores_params = True

        def score_params(self, params):
            return [(0.0, False)] * len(params)

    return SearchContext(Evaluator(Never(), SearchSpace.from_yaml(space)), budget=100)


def test_overlapping_modes_on_the_same_or_nested_dims_are_one(space):
    ctx = _context(space)
    restricted = ctx.characterizer.restricted
    reg = RegionRegistry()
    a = reg.add(Region([0.5, -1, -1, -1], [1, 1, 1, 1]), restricted)
    b = reg.add(Region([0.3, -1, -1, -1], [0.7, 1, 1, 1]), restricted)  # same dim, overlapping
    assert len(reg) == 1 and a is b and a.lo[0] == 0.3 and a.hi[0] == 1
    c = reg.add(Region([0.0, -1, -1, -1], [0.4, 1, 1, -0.5]), restricted)  # a superset of its dims, overlapping
    assert len(reg) == 1 and c is a and a.lo[0] == 0.0 and a.hi[3] == 1  # the hull: free where either is free
    reg.add(Region([-1, -1, -1, -1], [-0.5, 1, 1, 1]), restricted)  # same dim, apart: another mode
    reg.add(Region([-1, -1, -1, -1], [1, -0.6, 1, 1]), restricted)  # another dim: another mode
    assert len(reg) == 3
    refused = reg.add(Region([-0.7, -1, -1, -1], [-0.4, 1, 1, 1]), restricted, hull_holds=lambda hull: False)
    assert len(reg) == 3 and refused.hi[0] == -0.5  # a hull that does not hold: the mode held stays as it was
    # ... unless the new one bounds more dims: the held one said the mode in too few of them
    # (a slice of a two-dim interaction, its second dim left free)
    slice_ = reg.regions[1]
    both = reg.add(Region([-1, -1, -1, 0.5], [-0.3, 1, 1, 1]), restricted, hull_holds=lambda hull: False)
    assert len(reg) == 3 and reg.regions[1] is both and both.id == slice_.id
    assert both.hi[0] == -0.3 and both.lo[3] == 0.5
    fewer = reg.add(Region([-1, -1, -1, -1], [-0.2, 1, 1, 1]), restricted, hull_holds=lambda hull: False)
    assert len(reg) == 3 and fewer is both and both.lo[3] == 0.5  # fewer dims than the held one: it stays


def test_best_interval_and_wilson():
    x = np.linspace(-1, 1, 41)
    y = (x > 0.2) & (x < 0.6)
    a, b = best_interval(x, y)
    assert 0.15 <= a <= 0.25 and 0.55 <= b <= 0.65
    lo, hi = wilson(8, 10)  # the textbook Wilson 95% interval of 8 / 10
    assert lo == pytest.approx(0.4902, abs=1e-3) and hi == pytest.approx(0.9433, abs=1e-3)


def test_a_face_goes_to_the_edge_unless_the_rate_drops_before_it():
    """The two-rate interval leaves the outermost passing point of a mode out; a mode that
    reaches the edge of the range is moved back to it, an interior one keeps both faces."""
    x = np.concatenate([[-1.0], np.linspace(-0.88, 1, 48)])
    y = (x <= -0.3) & (np.random.default_rng(0).uniform(size=len(x)) < 0.8)  # fails 80% of the time
    y[0] = False  # its outermost point happens to pass
    a, b = best_interval(x, y)
    assert a == pytest.approx(-0.94) and b == pytest.approx(-0.3, abs=0.1)
    assert to_the_edges(x, y, a, b, 1.2816, 0.3) == (-1.0, b)
    inner = (x >= 0.2) & (x <= 0.6)
    a, b = best_interval(x, inner)
    assert to_the_edges(x, inner, a, b, 1.2816, 0.3) == (a, b)


@pytest.mark.parametrize("rounds, resolved", [(3, True), (0, False)])
def test_a_cut_between_far_apart_points_is_resolved_with_fresh_ones(tmp_path, space, rounds, resolved):
    """The points along a dim lie only far from the mode's faces (distance 4.4..6.2 m, -0.2..0.4
    normalized): the cut is placed within the resolution of each face by querying points around
    it; without those rounds it stays halfway across the gap."""
    from examiner.evaluate import Evaluator
    from examiner.models import load_model
    from examiner.search.context import SearchContext

    search = SearchSpace.from_yaml(space)
    model = load_model(_planted(tmp_path, "  - {name: mid, bounds: {camera.distance: [4.4, 6.2]}}\n"))
    ctx = SearchContext(Evaluator(model, search), budget=200, seed=0)
    ch = Characterizer(ctx, Characterization(gap_rounds=rounds))
    d = search.space.names.index("camera.distance")
    rng = np.random.default_rng(1)
    P = rng.uniform(-1, 1, (24, ctx.dims))
    P[:, d] = np.concatenate([rng.uniform(-1, -2 / 3, 10), rng.uniform(2 / 3, 1, 10), rng.uniform(0, 1 / 6, 4)])
    ctx.evaluate_vectors(P, support=(-1.0, 1.0))
    lo, hi = -np.ones(ctx.dims), np.ones(ctx.dims)
    lo[d], hi[d] = 0.0, 1 / 6
    used = ctx.used
    a, b, X, _ = ch._resolved_interval(lo, hi, d)
    error = max(abs(a + 0.2), abs(b - 0.4))
    assert (error <= ch.config.resolution) == resolved, (a, b)
    assert (ctx.used > used) == resolved and len(X) == ctx.used  # every point is uniform in the slab


def test_metrics_give_the_hand_computed_values(tmp_path, space):
    """Mode A: pitch in its top fifth; mode B: distance and ambient, each in their upper half.
    Found: R1 = A plus a bound on yaw (1 spurious dim), R2 = the upper half of B along distance
    (IoU 0.5 on B's dims), R3 = most of A again (a duplicate: explains nothing more), R4 =
    somewhere else. Recall 1, precision 2/4, IoU (1 + 0.5) / 2, spurious (1 + 0) / 2."""
    path = tmp_path / "two.yaml"
    path.write_text("score: direct\nregions:\n"
                    "  - {name: A, bounds: {camera.pitch: [48, 70]}}\n"
                    "  - {name: B, bounds: {camera.distance: [5, 8], light.ambient: [0.3, 0.6]}}\n")
    planted = PlantedModel.from_yaml(path)
    sp = SearchSpace.from_yaml(space).space
    a_lo = 2 * (48 + 40) / 110 - 1
    boxes = [([a_lo, -0.5, -1, -1], [1, 0.5, 1, 1]), ([-1, -1, 0.5, 0], [1, 1, 1, 1]),
             ([a_lo + 0.05, -1, -1, -1], [1, 1, 1, 1]), ([-1, -1, -1, -1], [-0.6, 1, -0.5, 1])]
    result = {"budget": 100, "fixed": {}, "regions": [
        {"id": i, "found_at_query": 10 * (i + 1), "normalized": {"lo": lo, "hi": hi}} for i, (lo, hi) in enumerate(boxes)]}
    s = score_run(result, planted, sp)
    assert s["recall"] == 1.0 and s["precision"] == 0.5
    assert s["iou"] == pytest.approx(0.75, abs=0.02) and s["spurious_dims"] == 0.5
    assert {m["mode"]: m["region"] for m in s["matches"]} == {"A": 0, "B": 1}
    assert s["curve"][0] == [10, 0.5] and s["curve"][1] == [20, 1.0]
    pairs = match([(np.array(boxes[3][0], float), np.array(boxes[3][1], float))], planted, sp, {}, np.random.default_rng(0))
    assert pairs == []  # a box in no mode explains none


def test_landscapes_are_reproducible_and_mix_every_shape(tmp_path):
    space = SearchSpace.from_yaml("scenes/search_all.yaml").space
    doc = landscape(space, "realistic", 7)
    assert doc == landscape(space, "realistic", 7) and doc != landscape(space, "realistic", 8)
    kinds = [r["name"].rsplit("_", 1)[0] for r in doc["regions"]]
    assert kinds == ["edge", "edge", "interaction", "interaction", "pocket", "pocket", "oblique", "overlap"]
    model = PlantedModel.from_yaml(write_landscape(doc, tmp_path / "l.yaml"))
    rng = np.random.default_rng(0)
    params = [space.from_vector(rng.uniform(-1, 1, len(space))) for _ in range(2000)]
    failed = np.array([f for _, f in model.score_params(params)])
    assert 0.1 < failed.mean() < 0.5  # a realistic base rate
    assert model.score_params(params[:50]) == model.score_params(params[:50])  # deterministic per point


def test_map_finds_the_modes_and_ranks_the_dims_that_matter(tmp_path, space):
    from examiner.map import run_map

    model = _planted(tmp_path, "  - {name: far_dim, bounds: {camera.distance: [5, 8], light.ambient: [0, 0.3]}, rate: 0.9}\n",
                     "background: 0.03\n")
    r = run_map(model, space, 800, tmp_path / "map", seed=0)
    assert [s["name"] for s in r["sensitivity"][:2]] == ["camera.distance", "light.ambient"] or \
        [s["name"] for s in r["sensitivity"][:2]] == ["light.ambient", "camera.distance"]
    assert len(r["regions"]) == 1, r["regions"]
    mode = r["regions"][0]
    assert sorted(mode["restricted"]) == ["camera.distance", "light.ambient"]
    assert mode["lift"] > 3 and mode["coverage"] > 0.5 and mode["samples"] >= 8
    lo, hi = mode["bounds"]["camera.distance"]
    assert abs(lo - 5) <= 0.5 and hi == 8
    again = run_map(model, space, 800, tmp_path / "map", seed=0, resume=True)
    assert again["regions"] == r["regions"] and again["replayed_queries"] == 800


def test_screening_a_box_that_bounds_nothing_ends(space):
    from examiner.search.characterize import Characterizer

    ch = Characterizer(_context(space))
    lo, hi = -np.ones(ch.ctx.dims), np.ones(ch.ctx.dims)
    out_lo, out_hi = ch._screen(lo, hi)  # used to split an empty group forever
    assert (out_lo == lo).all() and (out_hi == hi).all()


def test_faces_are_placed_again_on_the_whole_history():
    """A box confirmed with its faces off (0.1 instead of 0.3, -0.6 instead of -0.4) is placed
    where the queries put the boundary; an edge stays at the edge, a categorical bound keeps its
    choice, and with too few queries nothing moves."""
    from types import SimpleNamespace

    from examiner.search.faces import refine_faces

    ch = Characterizer(SimpleNamespace(choices=[0, 0, 0, 3]))
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (3000, 4))
    failed = ((X[:, 0] >= 0.3) & (X[:, 1] <= -0.4)) ^ (rng.uniform(size=len(X)) < 0.03)
    region = Region(np.array([0.1, -1.0, -1.0, -1.0]), np.array([1.0, -0.6, 1.0, -1 / 3]))
    lo, hi = refine_faces(region, X, failed, ch)
    assert lo[0] == pytest.approx(0.3, abs=0.04) and hi[0] == 1.0
    assert lo[1] == -1.0 and hi[1] == pytest.approx(-0.4, abs=0.04)
    assert (lo[2], hi[2]) == (-1.0, 1.0)
    assert (lo[3], hi[3]) == (-1.0, pytest.approx(-1 / 3))
    assert all(h - l >= ch.config.resolution for l, h in zip(lo, hi))
    few = refine_faces(region, X[:30], failed[:30], ch)
    assert np.allclose(few[0], region.lo) and np.allclose(few[1], region.hi)


def test_placing_faces_again_moves_bounds_but_drops_none():
    """A bound the description kept stays a bound at the end, even where the queries fail alike
    across almost all of its dim (the refit interval, -0.85 to 1, would span the range and free
    it)."""
    from types import SimpleNamespace

    from examiner.search.faces import refine_faces

    ch = Characterizer(SimpleNamespace(choices=[0, 0]))
    rng = np.random.default_rng(2)
    X = rng.uniform(-1, 1, (3000, 2))
    failed = (X[:, 0] >= 0.3) & (rng.uniform(size=len(X)) < np.where(X[:, 1] < -0.85, 0.2, 0.9))
    lo, hi = refine_faces(Region(np.array([0.3, -0.5]), np.array([1.0, 0.5])), X, failed, ch)
    assert lo[0] == pytest.approx(0.3, abs=0.04) and hi[0] == 1.0
    assert (lo[1], hi[1]) == (-0.5, 0.5)


def test_faces_are_placed_without_the_points_of_other_modes():
    """A search that samples where failures are crowds another mode next to this one (dim 0 in
    [0, 0.3], dim 1 above 0.5); its points would pull this mode's face (dim 0 from 0.3) towards
    it. Left out, the face is where this mode's rate changes."""
    from types import SimpleNamespace

    from examiner.search.faces import refine_faces

    ch = Characterizer(SimpleNamespace(choices=[0, 0, 0]))
    rng = np.random.default_rng(1)
    other = Region(np.array([0.0, 0.5, -1.0]), np.array([0.3, 1.0, 1.0]))
    X = np.concatenate([rng.uniform(-1, 1, (1500, 3)), other.sample(rng, 1500)])
    failed = (X[:, 0] >= 0.3) | ch.inside(X, other.lo, other.hi)
    region = Region(np.array([0.15, -1.0, -1.0]), np.array([1.0, 1.0, 1.0]))
    pulled = refine_faces(region, X, failed, ch)[0][0]
    lo, hi = refine_faces(region, X, failed, ch, others=[other])
    assert lo[0] == pytest.approx(0.3, abs=0.03) and hi[0] == 1.0
    assert pulled < 0.1


def test_a_box_that_fails_validation_is_peeled_where_its_points_fail(tmp_path, space):
    """A box that reaches too far along one dim (distance from 3.2 m, the mode from 5 m) is cut
    back there on its own uniform points; a dim that does not separate them stays; a box whose
    points fail evenly has nothing to peel."""
    from examiner.evaluate import Evaluator
    from examiner.models import load_model
    from examiner.search.boundary import _peel
    from examiner.search.context import SearchContext

    search = SearchSpace.from_yaml(space)
    model = load_model(_planted(tmp_path, "  - {name: far, rate: 0.9, bounds: {camera.distance: [5, 8]}}\n"))
    ctx = SearchContext(Evaluator(model, search), budget=200, seed=0)
    ch = ctx.characterizer
    d, p = search.space.names.index("camera.distance"), search.space.names.index("camera.pitch")
    lo, hi = -np.ones(ctx.dims), np.ones(ctx.dims)
    lo[d], lo[p] = -0.6, 0.0
    ctx.evaluate_vectors(ctx.rng.uniform(lo, hi, (40, ctx.dims)), support=(lo, hi))
    out_lo, out_hi = _peel(ch, lo, hi)
    assert out_lo[d] == pytest.approx(0.0, abs=ch.config.resolution) and out_hi[d] == 1.0
    assert (out_lo[p], out_hi[p]) == (0.0, 1.0)
    inner_lo = lo.copy()
    inner_lo[d] = 0.2
    ctx.evaluate_vectors(ctx.rng.uniform(inner_lo, hi, (40, ctx.dims)), support=(inner_lo, hi))
    assert _peel(ch, inner_lo, hi) is None


def test_faces_placed_at_the_end_are_measured_on_the_queries_held_back(tmp_path, space):
    """A mode's box confirmed too narrow (distance from 6.5 m, the mode from 5 m) is placed
    again on the whole history at the end; its new box holds none of the points drawn uniformly
    after it was confirmed, so it is measured on fresh ones the search held back; what is left
    of them goes to the mode's rate, and the budget is spent exactly."""
    from examiner.evaluate import Evaluator
    from examiner.models import load_model
    from examiner.search.context import FINAL_RESERVE, SearchContext

    search = SearchSpace.from_yaml(space)
    model = load_model(_planted(tmp_path, "  - {name: far, rate: 0.9, bounds: {camera.distance: [5, 8]}}\n"))
    ctx = SearchContext(Evaluator(model, search), budget=300, seed=0)
    d = search.space.names.index("camera.distance")
    ctx.evaluate_vectors(ctx.rng.uniform(-1, 1, (200, ctx.dims)), support=(-1.0, 1.0))
    lo, hi = -np.ones(ctx.dims), np.ones(ctx.dims)
    lo[d] = 0.5
    region = Region(lo, hi, fixed_at=len(ctx.history))
    assert ctx.validate(region)
    ctx.accept(region)
    assert ctx.remaining == 300 - ctx.used - FINAL_RESERVE
    before = ctx.used
    ctx.finalize()
    (r,) = ctx.registry.regions
    assert r.lo[d] == pytest.approx(0.0, abs=ctx.characterizer.config.resolution) and r.hi[d] == 1.0
    assert ctx.used == 300 and ctx.used > before
    assert r.stats["samples"] >= 300 - before and r.stats["failure_rate"] >= 0.75


def test_a_bound_placed_too_tightly_is_widened_but_not_into_a_part_that_fails_less(tmp_path, space):
    """At the end, a bound that holds only the middle of its mode (distance 6-7 m of a mode
    from 5 m) is widened to the mode, though the new interval overlaps the old one by less than
    half. A neighbouring band that fails far less often (5-6.5 m at 55%, the mode above 6.5 m at
    95%) is not added to a mode even where the two-rate interval takes it in."""
    from examiner.evaluate import Evaluator
    from examiner.models import load_model
    from examiner.search.context import SearchContext
    from examiner.search.faces import refine_faces

    search = SearchSpace.from_yaml(space)
    d = search.space.names.index("camera.distance")
    norm = lambda metres: (metres - 2.0) / 6.0 * 2 - 1  # noqa: E731

    def context(regions: str) -> SearchContext:
        ctx = SearchContext(Evaluator(load_model(_planted(tmp_path, regions)), search), budget=900, seed=0)
        ctx.evaluate_vectors(ctx.rng.uniform(-1, 1, (500, ctx.dims)), support=(-1.0, 1.0))
        return ctx

    ctx = context("  - {name: far, rate: 0.95, bounds: {camera.distance: [5, 8]}}\n")
    lo, hi = -np.ones(ctx.dims), np.ones(ctx.dims)
    lo[d], hi[d] = norm(6), norm(7)
    tight = refine_faces(Region(lo, hi), *ctx.queried_failed(), ctx.characterizer)
    assert tight[0][d] == pytest.approx(norm(5), abs=0.05) and tight[1][d] == 1.0

    ctx = context("  - {name: far, rate: 0.95, bounds: {camera.distance: [6.5, 8]}}\n"
                  "  - {name: band, rate: 0.55, bounds: {camera.distance: [5, 6.5]}}\n")
    lo, hi = -np.ones(ctx.dims), np.ones(ctx.dims)
    lo[d] = norm(6.5)
    assert refine_faces(Region(lo, hi), *ctx.queried_failed(), ctx.characterizer)[0][d] < norm(5.5)
    region = Region(lo, hi, fixed_at=len(ctx.history))
    assert ctx.validate(region)
    ctx.accept(region)
    ctx.evaluate_vectors(ctx.rng.uniform(-1, 1, (300, ctx.dims)), support=(-1.0, 1.0))
    ctx.finalize()
    (r,) = ctx.registry.regions
    assert r.lo[d] == pytest.approx(norm(6.5), abs=ctx.characterizer.config.resolution)


def test_a_box_on_more_dims_takes_a_held_mode_s_place_only_if_it_fails_as_often(space):
    """Where the hull of a held mode and a new box on more of the same dims fails, the new box
    stands for the mode if it fails at least as often (the held one was a diluted slice of it);
    one that fails less often (a looser box with an extra dim) leaves the held mode as it was."""
    restricted = _context(space).characterizer.restricted
    reg = RegionRegistry()
    held = reg.add(Region([-1, -1, 0.2, -1], [-0.7, 1, 1, 1], failure_rate=0.75), restricted)
    looser = Region([-1, -1, 0.4, -0.4], [0.2, 1, 1, 1], failure_rate=0.69)
    assert reg.add(looser, restricted, hull_holds=lambda hull: False) is held and reg.regions == [held]
    assert held.hi[0] == -0.7 and held.lo[3] == -1
    sharper = Region([-1, -1, 0.4, -0.4], [-0.5, 1, 1, 1], failure_rate=0.9)
    assert reg.add(sharper, restricted, hull_holds=lambda hull: False) is sharper and reg.regions == [sharper]
    assert sharper.id == held.id


def test_a_mode_that_overlaps_a_held_one_on_more_dims_stands_beside_it_if_it_fails_outside_it(tmp_path, space):
    """Two modes that overlap: a high view (pitch above 37 deg, any distance) and a far, dark
    scene (distance over 6.5 m, ambient under 0.15). A box on all three dims inside the far, dark
    mode, reaching into the high view, is held first; the high view, confirmed later on its one
    dim, is no slice of it: its points outside the held box fail as often. Both are kept (the
    hull of the two fails, and the held box, on more dims, used to swallow it). A slice of the
    far, dark mode (distance over 7.25 m, ambient free) does fail at the base rate outside the
    held box."""
    from examiner.evaluate import Evaluator
    from examiner.models import load_model
    from examiner.search.context import SearchContext

    search = SearchSpace.from_yaml(space)
    names = search.space.names
    p, d, a = (names.index(n) for n in ("camera.pitch", "camera.distance", "light.ambient"))
    model = load_model(_planted(tmp_path, "  - {name: high, rate: 0.9, bounds: {camera.pitch: [37, 70]}}\n"
                                          "  - {name: far_dark, rate: 0.9, bounds: {camera.distance: [6.5, 8], "
                                          "light.ambient: [0, 0.15]}}\n"))

    def box(bounds: dict) -> Region:
        lo, hi = -np.ones(len(names)), np.ones(len(names))
        for dim, (low, high) in bounds.items():
            lo[dim], hi[dim] = low, high
        return Region(lo, hi)

    ctx = SearchContext(Evaluator(model, search), budget=600, seed=0)
    ctx.evaluate_vectors(ctx.rng.uniform(-1, 1, (200, ctx.dims)), support=(-1.0, 1.0))
    where = box({p: (-0.6, 1.0), d: (0.5, 1.0), a: (-1.0, -0.5)})
    ctx.accept(where)
    high, far = box({p: (0.4, 1.0)}), box({d: (0.75, 1.0)})
    assert ctx.characterizer.fails_outside(high, where) and not ctx.characterizer.fails_outside(far, where)
    assert ctx.validate(high)
    kept = ctx.accept(high)
    assert kept is high and ctx.registry.regions == [where, high] and where.lo[p] == -0.6


def test_a_mode_the_later_points_refute_is_withdrawn(tmp_path, space):
    """A mode confirmed on a lucky run of failures (distance above 5 m, where the model fails
    only 25% of the time) is withdrawn at the end when the uniform points drawn in it afterwards
    put its rate's upper bound under the threshold; it is listed in failures.json as withdrawn,
    not as a mode. One that holds (above 6.5 m at 90%) is kept."""
    from examiner.evaluate import Evaluator
    from examiner.models import load_model
    from examiner.search.context import SearchContext
    from examiner.search.run import failures_document

    search = SearchSpace.from_yaml(space)
    d = search.space.names.index("camera.distance")
    model = load_model(_planted(tmp_path, "  - {name: weak, rate: 0.25, bounds: {camera.distance: [5, 6.5]}}\n"
                                          "  - {name: far, rate: 0.9, bounds: {camera.yaw: [120, 180]}}\n"))
    ctx = SearchContext(Evaluator(model, search), budget=400, seed=0)
    ctx.evaluate_vectors(ctx.rng.uniform(-1, 1, (100, ctx.dims)), support=(-1.0, 1.0))
    boxes = []
    for dim, low, high in ((d, 0.0, 0.5), (search.space.names.index("camera.yaw"), 2 / 3, 1.0)):
        lo, hi = -np.ones(ctx.dims), np.ones(ctx.dims)
        lo[dim], hi[dim] = low, high
        boxes.append(Region(lo, hi, fixed_at=len(ctx.history)))
        ctx.accept(boxes[-1])  # confirmed without validation: as if on a lucky run
    ctx.finalize()
    assert [r.lo[d] for r in ctx.registry.regions] == [-1.0] and ctx.withdrawn == [boxes[0]]
    assert boxes[0].stats["interval"][1] < ctx.validation.threshold
    settings = {"strategy": "random", "model": "planted", "space": str(space), "seed": 0, "budget": 400,
                "agents": 1, "validation": {}}
    doc = failures_document(ctx, search, settings, model.name)
    assert len(doc["regions"]) == 1 and doc["withdrawn"][0]["bounds"]["camera.distance"] == [5.0, 6.5]
    from examiner.report import _summary_rows

    rows = dict(_summary_rows(json.loads(json.dumps(doc))))
    assert rows["failure modes found"] == "1"
    assert [v for k, v in rows.items() if k.startswith("withdrawn")][0].startswith("camera distance 5-6.5 m: fails")


def test_a_bound_widened_around_a_tight_one_may_move_its_near_face_within_the_resolution(tmp_path, space):
    """A mode at 5-7 m confirmed as 4.9-5.6 m: its faces placed again give about 5-7 m, which
    overlaps the old interval by less than half and leaves its lower face 0.1 m (under the 0.3 m
    resolution) inside. It is the same mode placed too tightly, so the bound is widened."""
    from examiner.evaluate import Evaluator
    from examiner.models import load_model
    from examiner.search.context import SearchContext
    from examiner.search.faces import refine_faces

    search = SearchSpace.from_yaml(space)
    d = search.space.names.index("camera.distance")
    norm = lambda metres: (metres - 2.0) / 6.0 * 2 - 1  # noqa: E731
    model = load_model(_planted(tmp_path, "  - {name: mid, rate: 0.95, bounds: {camera.distance: [5, 7]}}\n"))
    ctx = SearchContext(Evaluator(model, search), budget=900, seed=0)
    ctx.evaluate_vectors(ctx.rng.uniform(-1, 1, (500, ctx.dims)), support=(-1.0, 1.0))
    lo, hi = -np.ones(ctx.dims), np.ones(ctx.dims)
    lo[d], hi[d] = norm(4.9), norm(5.6)
    new_lo, new_hi = refine_faces(Region(lo, hi), *ctx.queried_failed(), ctx.characterizer)
    assert new_lo[d] == pytest.approx(norm(5), abs=0.05) and new_hi[d] == pytest.approx(norm(7), abs=0.05)


def test_the_base_rate_is_measured_on_every_uniform_query_over_the_whole_space(tmp_path, space):
    """The base sample and every later query drawn uniformly over the whole space measure the base
    rate and each mode's coverage; points drawn in a smaller box, or not uniformly, do not."""
    from examiner.evaluate import Evaluator
    from examiner.models import load_model
    from examiner.search.context import SearchContext

    model = load_model(_planted(tmp_path, "  - {name: high, bounds: {camera.pitch: [15, 70]}}\n"))
    ctx = SearchContext(Evaluator(model, SearchSpace.from_yaml(space)), budget=1000, seed=0)
    rng = np.random.default_rng(1)
    ctx.draw_base_sample(16)
    ctx.evaluate_vectors(rng.uniform(-1, 1, (200, 4)), support=(-1.0, 1.0))  # e.g. lse's uniform share
    high = np.array([0.0, -1, -1, -1]), np.ones(4)
    ctx.evaluate_vectors(rng.uniform(*high, (100, 4)), support=high)  # uniform in the mode only
    ctx.evaluate_vectors(np.tile([0.5, 0, 0, 0], (50, 1)) + rng.normal(0, 0.1, (50, 4)))  # not uniform
    X, failed = ctx.whole_space()
    assert len(X) == 216 and ctx.base_counts() == (int(failed.sum()), 216)
    truth = 55 / 110  # the mode's share of the space, where every point fails
    assert abs(failed.mean() - truth) < 0.1 and ctx.uniform()[0].shape == (16, 4)
    region = Region(*high)
    region.fixed_at = 0
    stats = ctx.characterizer.statistics(region)
    assert stats["base_rate"] == round(failed.mean(), 4) and stats["failure_rate"] == 1.0
    assert stats["coverage"] == 1.0 and stats["lift"] == pytest.approx(1 / failed.mean(), abs=0.01)


def test_a_bound_matters_by_the_failures_no_registered_mode_explains(tmp_path, space):
    """Box B bounds yaw; mode A (ambient above 0.15, three quarters of the space) fails
    everywhere beside B too. Counting A's failures, relaxing yaw lowers B's rate from 1 to
    about 0.75: too little to matter. With A registered, its points are set aside and nothing
    beside B fails. (400 uniform queries first: the test reads the history before drawing.)"""
    from examiner.evaluate import Evaluator
    from examiner.models import load_model
    from examiner.search.context import SearchContext

    model = load_model(_planted(tmp_path, "  - {name: a, bounds: {light.ambient: [0.15, 0.6]}}\n"
                                          "  - {name: b, bounds: {camera.yaw: [-90, 18]}}\n", "background: 0\n"))
    search = SearchSpace.from_yaml(space)
    lo, hi = -np.ones(4), np.ones(4)
    lo[1], hi[1] = -0.5, 0.1  # yaw [-90, 18]

    def context():
        ctx = SearchContext(Evaluator(model, search), budget=800, seed=0)
        ctx.evaluate_vectors(np.random.default_rng(0).uniform(-1, 1, (400, 4)), support=(-1.0, 1.0))
        return ctx

    assert not Characterizer(context()).relaxation_matters(lo, hi, [1])
    ctx = context()
    ctx.registry.add(Region(np.array([-1.0, -1, -1, -0.5]), np.ones(4)))  # A
    assert Characterizer(ctx).relaxation_matters(lo, hi, [1])
    k, n = Characterizer(ctx).counts(lo, hi, unexplained=True)
    assert n > 0 and k == n  # what is left inside B fails, all of it
