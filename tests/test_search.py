"""Failure search: region boxes, every strategy on a toy planted model, exact budget
accounting, and resume giving the same failures.json as an uninterrupted run."""

import json

import numpy as np
import pytest

from examiner.search import STRATEGIES, make_strategy
from examiner.search.scoring import match_reported, score_run
from examiner.search.regions import Region, RegionRegistry
from examiner.search.run import run_search
from examiner.search_space import SearchSpace
from synthgen.errors import ParamError, SynthgenError

SPACE = """
image: {width: 96, height: 96}
search: [pose.left_shoulder.abduct, camera.yaw]
dims:
  pose.left_shoulder.abduct: [0, 160]
  camera.yaw: [-90, 90]
fixed:
  camera.distance: 3.5
"""
PLANTED = """
regions:
  - name: raised_left_arm_from_the_left
    bounds: {pose.left_shoulder.abduct: [100, 140], camera.yaw: [20, 60]}
    effect: drop
"""


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    d = tmp_path_factory.mktemp("toy")
    (d / "space.yaml").write_text(SPACE)
    (d / "planted.yaml").write_text(PLANTED)
    return d


def test_region_geometry():
    a = Region([-1, -1], [0, 0])
    b = Region([-0.5, -0.5], [0.5, 0.5])
    assert a.volume == pytest.approx(0.25) and a.intersection(b) == pytest.approx(0.0625)
    assert a.iou(b) == pytest.approx(0.0625 / (0.25 + 0.25 - 0.0625))
    assert a.contains(np.array([-0.5, -0.2])) and not a.contains(np.array([0.5, 0.0]))
    assert Region([-1, -1], [1, 1]).contains_region(b) and not b.contains_region(a)
    assert a.distance(np.array([1.0, 0.0])) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        Region([0, 0], [-1, 1])


def _reported(*modes):
    """A failures.json's regions: (lo, hi, lift, coverage) each, normalized over three dims."""
    return {"regions": [{"normalized": {"lo": lo, "hi": hi}, "lift": lift, "coverage": cov} for lo, hi, lift, cov in modes]}


def test_a_search_s_modes_are_matched_to_a_map_s_with_enough_lift_and_coverage():
    """A real model has no planted truth: a map's modes (lift at least 2, coverage at least 10%)
    are the reference, matched by the benchmark's rule (most of the found box in the mode)."""
    far = ([0.5, -1, -1], [1, 1, 1], 3.0, 0.4)
    small_and_lit = ([-1, -1, 0], [1, -0.5, 1], 2.5, 0.2)
    weak = ([-1, 0.5, -1], [-0.5, 1, 1], 1.5, 0.3)  # lift under 2: not a reference mode
    rare = ([-1, -1, -1], [-0.8, -0.8, 1], 4.0, 0.05)  # under 10% of the failures: neither
    reference = _reported(far, small_and_lit, weak, rare)
    search = _reported(([0.6, -1, -1], [1, 1, 1], 3.1, 0.3),  # inside "far", on its dims
                       ([-1, -1, 0.2], [1, -0.2, 1], 2.2, 0.2),  # 62% of it in "small and lit"
                       ([-1, 0.5, -1], [-0.5, 1, 1], 1.6, 0.3))  # "weak": nothing to match
    pairs, modes, same = match_reported(search, reference)
    assert modes == 2 and sorted((i, j) for i, j, _ in pairs) == [(0, 0), (1, 1)] and same == [True, True]
    pairs, _, same = match_reported(_reported(([0.5, -1, -1], [1, 1, 0.0], 3.0, 0.2)), reference)
    assert [(i, j) for i, j, _ in pairs] == [(0, 0)] and same == [False]  # in "far", one dim too many
    pairs, _, _ = match_reported(_reported(([-0.2, -1, -1], [1, 1, 1], 2.0, 0.5)), reference)
    assert pairs == []  # 58% of it outside "far"


def test_the_benchmark_pairs_each_strategy_with_the_best_on_the_same_landscapes_and_seeds():
    """Landscapes differ far more than strategies: b trails a by 0.1 on every landscape (standard
    error 0), although their means' spreads overlap; c ran one landscape only and is compared there."""
    from examiner.benchmark_report import paired_sentences
    from examiner.search.benchmark import paired_against_best

    runs = [{"strategy": "a", "landscape": k, "seed": 0, "recall": 0.2 + 0.2 * k} for k in range(4)]
    runs += [{"strategy": "b", "landscape": k, "seed": 0, "recall": 0.1 + 0.2 * k} for k in range(4)]
    runs += [{"strategy": "c", "landscape": 3, "seed": 0, "recall": 0.45},
             {"strategy": "d", "landscape": 0, "seed": 0, "recall": None}]  # d: no recall, not compared
    paired = paired_against_best(runs)
    assert paired["best"] == "a" and [x["strategy"] for x in paired["against"]] == ["b", "c"]
    b, c = paired["against"]
    assert b["runs"] == 4 and b["difference"] == pytest.approx(-0.1) and b["se"] == pytest.approx(0.0, abs=1e-12)
    assert c["runs"] == 1 and c["difference"] == pytest.approx(-0.35) and c["se"] is None
    assert paired_sentences({"paired": paired})[0] == "b: -0.100 recall against a (paired over 4 runs, standard error 0.000)"
    assert paired_against_best(runs[:4]) is None  # one strategy: nothing to pair


def test_the_benchmark_draws_a_family_with_its_options(toy, tmp_path):
    """``family_options`` reach the family (two boxes of one dim, half of its range) and the
    landscape file's provenance, and the benchmark's document records them."""
    import yaml

    from examiner.search.benchmark import benchmark

    doc = benchmark(None, toy / "space.yaml", 64, 1, tmp_path, strategies=("random",), family="boxes", landscapes=1,
                    first_landscape=3, family_options={"modes": 2, "dims_per_mode": 1, "width": 0.5})
    text = (tmp_path / "landscapes" / "boxes_3.yaml").read_text()
    regions = yaml.safe_load(text)["regions"]
    assert len(regions) == 2 and all(len(r["bounds"]) == 1 for r in regions)
    assert "--modes 2 --dims 1 --width 0.5" in text
    assert doc["family_options"] == {"modes": 2, "dims_per_mode": 1, "width": 0.5} and len(doc["runs"]) == 1


def test_registry_merges_duplicates_and_keeps_distinct():
    reg = RegionRegistry()
    r0 = reg.add(Region([-1, -1], [-0.5, -0.5]))
    same = reg.add(Region([-0.95, -0.95], [-0.55, -0.5]))  # inside r0: a duplicate
    assert same is r0 and len(reg) == 1
    bigger = reg.add(Region([-1, -1], [-0.4, -0.4]))  # holds r0: replaces it, keeps its id
    assert len(reg) == 1 and bigger.id == r0.id and reg.regions[0] is bigger
    reg.add(Region([0.5, 0.5], [1, 1]))
    assert len(reg) == 2 and [r.id for r in reg.regions] == [0, 1]
    assert reg.containing(np.array([0.7, 0.9])).id == 1 and reg.containing(np.array([0.0, 0.0])) is None


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_each_strategy_finds_the_planted_region(toy, tmp_path, strategy):
    from examiner.models.planted import PlantedModel

    budget = 500
    r = run_search(f"planted:{toy / 'planted.yaml'}", toy / "space.yaml", strategy, budget, tmp_path / "run",
                   agents=3, seed=1, tensorboard=False)
    assert r["queries_used"] <= budget and r["regions"], r
    scores = score_run(r, PlantedModel.from_yaml(toy / "planted.yaml"), SearchSpace.from_yaml(toy / "space.yaml").space)
    assert scores["recall"] == 1.0 and scores["precision"] == 1.0 and scores["spurious_dims"] == 0
    region = r["regions"][0]
    assert region["failure_rate"] >= 0.5 and region["validated_samples"] >= 8 and scores["iou"] >= 0.6
    lo, hi = region["bounds"]["pose.left_shoulder.abduct"]
    assert 80 <= lo and hi - lo <= 70  # the box stays around the planted one (100-140)
    lines = (tmp_path / "run" / "queries.jsonl").read_text().splitlines()
    assert len(lines) == r["queries_used"]  # every counted query is logged, once
    assert r["queries_used"] == budget  # strategies spend the whole budget, never more


@pytest.mark.parametrize("strategy", ["random", "lse", "marl"])
def test_resume_after_a_kill_gives_the_same_failures_json(toy, tmp_path, strategy):
    model = f"planted:{toy / 'planted.yaml'}"
    whole = tmp_path / "whole"
    run_search(model, toy / "space.yaml", strategy, 300, whole, agents=2, seed=4, tensorboard=False)
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "run.json").write_bytes((whole / "run.json").read_bytes())
    lines = (whole / "queries.jsonl").read_bytes().splitlines(keepends=True)
    (cut / "queries.jsonl").write_bytes(b"".join(lines[:137]) + lines[137][:25])  # killed mid-line
    with pytest.raises(SynthgenError, match="--resume"):
        run_search(model, toy / "space.yaml", strategy, 300, cut, agents=2, seed=4, tensorboard=False)
    r = run_search(model, toy / "space.yaml", strategy, 300, cut, agents=2, seed=4, resume=True, tensorboard=False)
    assert r["replayed_queries"] == 137
    assert (cut / "failures.json").read_bytes() == (whole / "failures.json").read_bytes()
    def logged(folder):
        rows = [json.loads(line) for line in (folder / "queries.jsonl").read_text().splitlines()]
        for row in rows:
            row["query"].pop("seconds")
        return rows

    def same(a, b):
        """Equal up to the last float bits: live queries after the replay may be batched
        differently, and a body's last bits can depend on its batch (a factor logged to 6
        decimals may then round one unit apart)."""
        if isinstance(a, float) or isinstance(b, float):
            return a == pytest.approx(b, rel=1e-6, abs=2e-6)
        if isinstance(a, list) and isinstance(b, list):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
        if isinstance(a, dict) and isinstance(b, dict):
            return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        return a == b

    assert same(logged(cut), logged(whole))
    with pytest.raises(SynthgenError, match="seed"):
        run_search(model, toy / "space.yaml", strategy, 300, cut, agents=2, seed=5, resume=True, tensorboard=False)


def test_budget_is_exact_with_validation_included(toy, tmp_path):
    r = run_search(f"planted:{toy / 'planted.yaml'}", toy / "space.yaml", "random", 77, tmp_path / "r", seed=0,
                   tensorboard=False)
    assert r["queries_used"] == 77
    doc = json.loads((tmp_path / "r" / "failures.json").read_text())
    assert set(doc) >= {"strategy", "model", "space", "seed", "budget", "queries_used", "regions"}


def test_a_strategy_object_runs_in_place_of_the_named_one(toy, tmp_path):
    """A benchmark's own rule (``strategy_obj``) gets the search's context and budget, and its
    name, not a shipped strategy's, goes into run.json and failures.json."""
    from examiner.search.strategy import Strategy

    class FivesAtRandom(Strategy):
        name = "rule: five at random"

        def run(self, ctx) -> None:
            self.seen = ctx
            while True:
                ctx.evaluate_vectors(ctx.rng.uniform(-1.0, 1.0, (5, ctx.dims)))

    rule = FivesAtRandom(agents=1)
    r = run_search(f"planted:{toy / 'planted.yaml'}", toy / "space.yaml", rule.name, 60, tmp_path / "r", seed=0,
                   tensorboard=False, strategy_obj=rule)
    assert rule.seen.used == r["queries_used"] == 60
    assert r["strategy"] == json.loads((tmp_path / "r" / "run.json").read_text())["strategy"] == "rule: five at random"


def test_bad_arguments_are_named(toy, tmp_path):
    with pytest.raises(ParamError, match="--strategy"):
        make_strategy("annealing")
    with pytest.raises(ParamError, match="--budget"):
        run_search(f"planted:{toy / 'planted.yaml'}", toy / "space.yaml", "random", 0, tmp_path / "x")
    with pytest.raises(ParamError, match="--space"):
        run_search(f"planted:{toy / 'planted.yaml'}", toy / "nope.yaml", "random", 10, tmp_path / "y")


def test_repeats_within_a_batch_are_free_so_the_budget_is_spent_exactly(toy):
    from examiner.evaluate import Evaluator
    from examiner.models import load_model
    from examiner.search.budget import BudgetExhausted
    from examiner.search.context import SearchContext
    from examiner.search_space import SearchSpace

    ev = Evaluator(load_model(f"planted:{toy / 'planted.yaml'}"), SearchSpace.from_yaml(toy / "space.yaml"), seed=0)
    ctx = SearchContext(ev, budget=3, seed=0)
    a, b, c, d = np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6], [0.7, 0.8]])
    qs = ctx.evaluate_vectors([a, a, b, c])  # a twice: the repeat is a cache hit and fits
    assert ctx.used == 3 and [q.cached for q in qs] == [False, True, False, False]
    with pytest.raises(BudgetExhausted):  # at the limit every call ends the search (no endless free hits)
        ctx.evaluate_vectors([a])
    ctx2 = SearchContext(ev, budget=2, seed=0)  # a, b, c are cached in ev now; d is new
    qs = ctx2.evaluate_vectors([a, d, d, b])
    assert ctx2.used == 1 and [q.cached for q in qs] == [True, False, True, True]
    with pytest.raises(BudgetExhausted):
        ctx2.evaluate_vectors([np.array([0.9, 0.9]), np.array([-0.9, 0.9]), a])
    assert ctx2.used == 2 and len(ctx2.history) == 5


@pytest.mark.parametrize("strategy", ["bo", "tpe"])
def test_model_based_baselines_are_deterministic_for_a_seed(toy, tmp_path, strategy):
    (tmp_path / "direct.yaml").write_text(PLANTED + "score: direct\n")  # errors from the parameters: no body to pose
    model = f"planted:{tmp_path / 'direct.yaml'}"
    runs = {name: run_search(model, toy / "space.yaml", strategy, budget, tmp_path / name, seed=seed, tensorboard=False)
            for name, seed, budget in (("a", 2, 90), ("b", 2, 90), ("c", 3, 30))}
    assert [r["queries_used"] for r in runs.values()] == [90, 90, 30]

    def points(name):
        return [json.loads(line)["x"] for line in (tmp_path / name / "queries.jsonl").read_text().splitlines()]

    assert (tmp_path / "a" / "failures.json").read_bytes() == (tmp_path / "b" / "failures.json").read_bytes()
    assert points("a") == points("b") and points("a")[:30] != points("c")  # the seed, and only the seed, decides


def test_model_based_baselines_penalize_known_regions_and_waste_no_query(toy):
    from examiner.evaluate import Evaluator
    from examiner.models import load_model
    from examiner.search.bayesopt import BayesOpt
    from examiner.search.context import KNOWN_MARGIN, SearchContext
    from examiner.search.proposer import known_mask, observations
    from examiner.search.tpe import TpeSearch

    ctx = SearchContext(Evaluator(load_model(f"planted:{toy / 'planted.yaml'}"), SearchSpace.from_yaml(toy / "space.yaml")),
                        budget=100, seed=0)
    ctx.draw_base_sample(24)
    ctx.registry.add(Region([-1.0, -1.0], [0.0, 0.0]))
    X, value = observations(ctx, known_penalty=0.5)
    inside = (X <= KNOWN_MARGIN).all(1)
    assert inside.any() and (~inside).any() and (known_mask(ctx, X) == inside).all()
    np.testing.assert_allclose(value, [q.error for _, q in ctx.history] - 0.5 * inside)

    bo = BayesOpt()
    bo.start(ctx)
    queried = X[~inside][0]
    batch = np.array([[-0.5, -0.5], [0.5, 0.5], queried, [0.5, 0.5]])  # known, new, queried, repeat of row 1
    kept = bo._without_waste(ctx, batch.copy())
    assert (kept[1] == batch[1]).all() and not (kept[[0, 2, 3]] == batch[[0, 2, 3]]).all(1).any()
    assert not known_mask(ctx, kept).any() and all(ctx.evaluator.new_queries(kept))
    for strategy in (bo, TpeSearch()):  # proposals are a (q, D) batch in the box; proposing queries nothing
        strategy.start(ctx)
        used = ctx.used
        proposed = strategy.propose(ctx)
        assert proposed.shape == (strategy.config.batch, 2) and (np.abs(proposed) <= 1.0).all() and ctx.used == used
    told = [t.value for t in strategy._study.trials if t.value is not None]  # tpe's study holds the penalized history
    np.testing.assert_allclose(told, value)
