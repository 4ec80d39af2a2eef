"""The surrogate-guided searches: modes read off a surrogate (exact on a known landscape, only
the dims that matter), ``lse`` deterministic for a seed, the acquisition environment a valid
PettingZoo parallel env whose observations do not depend on the space's dims, the shared policy
scoring candidates the same whatever their order, and ``examiner pretrain`` writing a policy that
``marl`` and its ablation load."""

import json

import numpy as np
import pytest

from examiner.search.regions import Region
from synthgen.errors import ParamError

SPACE = """
image: {width: 96, height: 96}
search: [pose.left_shoulder.abduct, pose.right_shoulder.abduct, pose.left_elbow.flex, camera.yaw, camera.pitch]
dims:
  pose.left_shoulder.abduct: [0, 160]
  pose.right_shoulder.abduct: [0, 160]
  pose.left_elbow.flex: [0, 140]
  camera.yaw: [-90, 90]
  camera.pitch: [-30, 60]
fixed:
  camera.distance: 3.5
"""
PLANTED = """
score: direct
regions:
  - name: seen_from_above
    bounds: {camera.pitch: [42, 60]}
    effect: drop
  - name: raised_left_arm_from_the_left
    bounds: {pose.left_shoulder.abduct: [100, 160], camera.yaw: [30, 90]}
    effect: drop
"""


@pytest.fixture(scope="module")
def land(tmp_path_factory):
    d = tmp_path_factory.mktemp("land")
    (d / "space.yaml").write_text(SPACE)
    (d / "planted.yaml").write_text(PLANTED)
    return d


def _context(land, budget=400, seed=0):
    from examiner.evaluate import Evaluator
    from examiner.models import load_model
    from examiner.search.context import SearchContext
    from examiner.search_space import SearchSpace

    ev = Evaluator(load_model(f"planted:{land / 'planted.yaml'}"), SearchSpace.from_yaml(land / "space.yaml"), seed=0)
    return SearchContext(ev, budget, seed)


class BoxSurrogate:
    """A surrogate that knows the landscape: ``inside`` in the box, ``outside`` elsewhere."""

    def __init__(self, lo, hi, inside=0.9, outside=0.05):
        self.box = Region(np.array(lo, float), np.array(hi, float))
        self.inside, self.outside = inside, outside

    def predict(self, X):
        p = np.where(self.box.contains(X), self.inside, self.outside)
        return p, np.zeros(len(X))


def test_modes_are_read_off_the_surrogate_in_their_dims_only(land):
    from examiner.search.surrogate_modes import ModeFinder, ModeFinding

    ctx = _context(land)
    finder = ModeFinder(ctx, ModeFinding(scan=None))  # the surrogate's proposals only (the scan: test_scan.py)
    # dims: l.shoulder, r.shoulder, l.elbow, yaw, pitch; a 2-dim corner interaction
    truth = BoxSurrogate([0.25, -1, -1, 0.3, -1], [1, 1, 1, 1, 1])
    (lo, hi, rate), *_ = finder.propose(truth)
    assert rate == pytest.approx(0.9)
    bounded = np.nonzero(hi - lo < 1.8)[0].tolist()
    assert bounded == [0, 3]  # nothing else
    assert lo[0] == pytest.approx(0.25, abs=0.06) and lo[3] == pytest.approx(0.3, abs=0.06)
    assert hi[0] == 1.0 and hi[3] == 1.0  # at the edge of the space
    # confirmed on queries: the planted model fails there, so the mode holds and is registered
    ctx.draw_base_sample(24)
    truth = BoxSurrogate([-1, -1, -1, -1, 0.6], [1, 1, 1, 1, 1])  # camera.pitch 42-60 deg
    found = finder.find(truth, owner="test")
    assert len(found) == 1 and found[0].failure_rate >= 0.8
    assert np.nonzero(found[0].hi - found[0].lo < 1.8)[0].tolist() == [4]
    assert finder.propose(truth) == []  # known now: not proposed again


def test_a_smeared_interior_pocket_keeps_all_three_bounds(land):
    """A forest predicts a 3-dim pocket at 0.6 with 0.4 all around it: relaxing any one bound
    lowers the box's rate by 0.13, a fifth of its rate but two thirds of its excess. Pruned one
    bound after another, every bound went."""
    from examiner.search.surrogate_modes import ModeFinder

    ctx = _context(land)
    smeared = BoxSurrogate([-0.5, -1, 0.0, -0.2, -1], [0.2, 1, 0.7, 0.5, 1], inside=0.6, outside=0.4)
    (lo, hi, rate), *_ = ModeFinder(ctx).propose(smeared)
    assert rate == pytest.approx(0.6)
    assert np.nonzero(hi - lo < 1.8)[0].tolist() == [0, 2, 3]
    assert lo[[0, 2, 3]] == pytest.approx([-0.5, 0.0, -0.2], abs=0.06)
    assert hi[[0, 2, 3]] == pytest.approx([0.2, 0.7, 0.5], abs=0.06)


def test_a_proposal_that_does_not_hold_costs_few_queries_and_waits_ever_longer_to_be_tried_again(land):
    from examiner.search.regions import Region
    from examiner.search.surrogate_modes import ModeFinder, ModeFinding

    ctx = _context(land, budget=4000)
    finder = ModeFinder(ctx, ModeFinding(scan=None))  # the surrogate's proposals only (the scan's: test_scan.py)
    wrong = BoxSurrogate([-1, -1, -1, -1, -1], [1, 1, -0.6, 1, 1])  # the elbow: no planted mode there
    assert finder.find(wrong, owner="test") == []
    assert ctx.used <= finder.config.samples and not ctx.registry.regions
    assert finder.propose(wrong) == []
    # its validation's points say it fails less often than a mode: not proposed again, ever
    ctx.used += 10 * finder.config.retry_after
    assert finder._fails_less(wrong.box.lo, wrong.box.hi) and finder.propose(wrong) == []
    ctx.used -= 10 * finder.config.retry_after
    # a box refused while those points leave it open (undecided): after the k-th failure,
    # retry_after * 2^(k-1) queries pass before it is tried again
    finder._fails_less = lambda lo, hi: False
    box = Region(np.array([-1.0, -1, -1, -1, -1]), np.array([1.0, 1, -0.6, 1, 1]))
    failed = 0
    for _ in range(3):
        like = [r for r in finder.tried if r.iou(box) >= finder.config.rejected_iou]
        assert len(like) > failed  # each try that fails counts
        failed = len(like)
        ctx.used = max(r.found_at for r in like) + finder.config.retry_after * 2 ** (failed - 1) - 1
        assert finder.propose(wrong) == []
        ctx.used += 1
        assert len(finder.propose(wrong)) == 1
        assert finder.find(wrong, owner="test") == []


def _unlucky_first_look(monkeypatch, ctx):
    """Makes the first relaxation test of a search say "does not matter" (as a few unlucky
    points beside a box can); the later ones run as they are. Returns the groups looked at."""
    ch, looks = ctx.characterizer, []
    real = ch.relaxation_matters

    def look(lo, hi, group):
        looks.append(list(group))
        return False if len(looks) == 1 else real(lo, hi, group)

    monkeypatch.setattr(ch, "relaxation_matters", look)
    return looks


CORNER_ONLY = """
score: direct
regions:
  - name: raised_left_arm_from_the_left
    bounds: {pose.left_shoulder.abduct: [100, 160], camera.yaw: [45, 90]}
    effect: drop
"""
# that interaction's box, normalized: left shoulder abducted 100-160 deg, camera yaw 45-90 deg
CORNER = (np.array([0.25, -1, -1, 0.5, -1]), np.ones(5))


def _corner(tmp_path, seed=0):
    (tmp_path / "space.yaml").write_text(SPACE)
    (tmp_path / "planted.yaml").write_text(CORNER_ONLY)
    return _context(tmp_path, budget=1000, seed=seed)


def test_a_bound_dropped_on_an_unlucky_look_is_kept_when_the_box_without_it_fails(tmp_path, monkeypatch):
    """The first look at the yaw bound finds no drop, so the box is validated without it: the
    raised arm at every yaw fails a quarter of the time, and that validation fails. Its points,
    uniform over every yaw, lie beside the box, and with them the yaw bound matters: the
    proposal is kept as it was, a 2-dim mode, instead of being refused."""
    from examiner.search.surrogate_modes import ModeFinder, ModeFinding

    for seed in range(3):
        ctx = _corner(tmp_path, seed)
        looks = _unlucky_first_look(monkeypatch, ctx)
        region = ModeFinder(ctx, ModeFinding(scan=None)).confirm(*CORNER, owner="test")
        assert looks == [[3], [0], [3]]  # the narrowest bound first; yaw again once the wider box failed
        assert region is not None and region.failure_rate >= 0.8
        assert np.nonzero(region.hi - region.lo < 1.8)[0].tolist() == [0, 3]
        assert [r.id for r in ctx.registry.regions] == [region.id]


def test_a_cut_whose_own_bound_does_not_matter_is_refused_without_testing_the_others(tmp_path, monkeypatch):
    """A cut of a mode (``required``: the dim it was cut on) is that cut or nothing: once its
    own bound does not matter, testing the others would spend queries on a box refused anyway."""
    from examiner.search.surrogate_modes import ModeFinder, ModeFinding

    ctx = _corner(tmp_path)
    looks = _unlucky_first_look(monkeypatch, ctx)
    assert ModeFinder(ctx, ModeFinding(scan=None)).confirm(*CORNER, owner="test", required=(3,)) is None
    assert looks == [[3]] and not ctx.registry.regions


def test_lse_finds_both_modes_and_is_deterministic(land, tmp_path):
    from examiner.models.planted import PlantedModel
    from examiner.search.run import run_search
    from examiner.search.scoring import score_run
    from examiner.search_space import SearchSpace

    model = f"planted:{land / 'planted.yaml'}"
    runs = [run_search(model, land / "space.yaml", "lse", 300, tmp_path / name, seed=3, tensorboard=False)
            for name in ("a", "b")]
    assert (tmp_path / "a" / "failures.json").read_bytes() == (tmp_path / "b" / "failures.json").read_bytes()
    scores = score_run(runs[0], PlantedModel.from_yaml(land / "planted.yaml"), SearchSpace.from_yaml(land / "space.yaml").space)
    assert scores["recall"] == 1.0 and scores["precision"] == 1.0 and scores["spurious_dims"] == 0
    for region in runs[0]["regions"]:
        assert region["lift"] >= 1.5 and len(region["restricted"]) <= 2


def test_a_search_says_how_much_of_its_time_was_its_own(land, tmp_path):
    """The wall time of a search splits into answering queries (here a model that takes 3 ms a
    query) and the search's own work (lse's surrogate and proposals), and the CLI says so."""
    import time

    from examiner.console_output import overhead_sentence
    from examiner.models.planted import PlantedModel
    from examiner.search.run import run_search

    class Slow(PlantedModel):
        def score_params(self, params_list):
            time.sleep(0.003 * len(params_list))
            return super().score_params(params_list)

    r = run_search("planted", land / "space.yaml", "lse", 200, tmp_path / "run", seed=1, tensorboard=False,
                   model_obj=Slow.from_yaml(land / "planted.yaml"))
    assert r["evaluating_seconds"] >= 0.003 * r["queries_used"] > 0
    assert r["overhead_seconds"] > 0
    assert r["evaluating_seconds"] + r["overhead_seconds"] == pytest.approx(r["seconds"], abs=0.011)
    share = round(100 * r["overhead_seconds"] / r["seconds"])
    assert f"{r['overhead_seconds']:.1f} s, {share}% of" in overhead_sentence(r)


def test_acquisition_env_is_a_parallel_env_whose_observations_ignore_the_dims(land, tmp_path):
    from pettingzoo.test import parallel_api_test

    from examiner.search.acquisition_env import FEATURES, AcquisitionEnv
    from examiner.search.context import base_samples

    def fresh(budget=200):
        def make():
            ctx = _context(land, budget)
            ctx.draw_base_sample(base_samples(budget))
            return ctx
        return make

    env = AcquisitionEnv(fresh(), agents=3, pretraining=True)
    parallel_api_test(env, num_cycles=20)
    obs, _ = env.reset()
    assert all(o.shape == (env.config.candidates * len(FEATURES),) for o in obs.values())
    # a 20-dim space gives observations of the same shape
    from examiner.evaluate import Evaluator
    from examiner.landscape import landscape, write_landscape
    from examiner.models.planted import PlantedModel
    from examiner.search.context import SearchContext
    from examiner.search_space import SearchSpace

    big = SearchSpace.from_yaml("scenes/search_all.yaml")
    planted = PlantedModel.from_yaml(write_landscape(landscape(big.space, "realistic", 5), tmp_path / "l.yaml"))

    def make_big():
        ctx = SearchContext(Evaluator(planted, big, seed=0), 200, 0)
        ctx.draw_base_sample(16)
        return ctx

    env20 = AcquisitionEnv(make_big, agents=3, pretraining=True)
    obs20, _ = env20.reset()
    assert len(big.space) == 20 and {o.shape for o in obs20.values()} == {o.shape for o in obs.values()}
    used = env20.ctx.used
    _, rewards, _, _, _ = env20.step({a: 0 for a in env20.agents})
    assert env20.ctx.used >= used + 3 and all(r >= 0 for r in rewards.values())


def test_the_policy_scores_candidates_whatever_their_order():
    import torch

    from examiner.search.candidate_policy import CandidateScorer

    torch.manual_seed(0)
    net = CandidateScorer(candidates=6, features=4)
    obs = torch.randn(2, 6, 4)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    logits = net.forward_actor(obs.reshape(2, -1))
    permuted = net.forward_actor(obs[:, perm].reshape(2, -1))
    assert torch.allclose(permuted, logits[:, perm], atol=1e-6)
    assert torch.allclose(net.forward_critic(obs.reshape(2, -1)), net.forward_critic(obs[:, perm].reshape(2, -1)), atol=1e-6)


def test_pretrain_writes_a_policy_that_marl_and_its_ablation_load(land, tmp_path):
    from examiner.search.pretrain import pretrain
    from examiner.search.run import run_search

    policy = tmp_path / "policy.zip"
    result = pretrain(land / "space.yaml", policy, landscapes=2, budget=96, timesteps=256, agents=2)
    assert policy.is_file() and result["episodes"] >= 2
    # the same arguments train the same weights
    from stable_baselines3 import PPO

    again = tmp_path / "again.zip"
    pretrain(land / "space.yaml", again, landscapes=2, budget=96, timesteps=256, agents=2)
    a, b = (PPO.load(f, device="cpu").policy.state_dict() for f in (policy, again))
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
    model = f"planted:{land / 'planted.yaml'}"
    for variant in ("marl", "marl-frozen", "marl-untrained"):
        r = run_search(model, land / "space.yaml", variant, 160, tmp_path / variant, agents=2, seed=1,
                       tensorboard=False, policy=None if variant == "marl-untrained" else policy)
        assert r["queries_used"] == 160 and r["regions"], variant
        assert json.loads((tmp_path / variant / "run.json").read_text())["strategy"] == variant
    # the benchmark hands the policy to the variants that start from one, and only to them
    from examiner.search.benchmark import benchmark

    doc = benchmark(model, land / "space.yaml", 96, 1, tmp_path / "bench", agents=2,
                    strategies=("marl-frozen", "marl-untrained"), policy=policy)
    assert doc["policy"] == str(policy)
    used = {v: json.loads((tmp_path / "bench" / f"{v}_seed0" / "run.json").read_text()).get("policy")
            for v in ("marl-frozen", "marl-untrained")}
    assert used == {"marl-frozen": str(policy), "marl-untrained": None}
    for strategies, bad in ((("marl",), tmp_path / "missing.zip"), (("lse",), policy)):
        with pytest.raises(ParamError, match="--policy"):
            benchmark(model, land / "space.yaml", 96, 1, tmp_path / "refused", strategies=strategies, policy=bad)
        assert not (tmp_path / "refused").exists()
    with pytest.raises(ParamError, match="--out"):
        pretrain(land / "space.yaml", tmp_path / "policy.pt", landscapes=1, budget=96, timesteps=128)
    with pytest.raises(ParamError, match="--landscapes"):
        pretrain(land / "space.yaml", tmp_path / "p.zip", landscapes=0)
    with pytest.raises(ParamError, match="--policy"):
        run_search(model, land / "space.yaml", "marl", 50, tmp_path / "none", policy=tmp_path / "missing.zip")
    for strategy in ("lse", "marl-untrained"):  # the untrained network would ignore it
        with pytest.raises(ParamError, match="--policy"):
            run_search(model, land / "space.yaml", strategy, 50, tmp_path / strategy, policy=policy)


def test_the_benchmark_runs_marls_ablation_beside_it():
    """Wherever ``examiner benchmark`` runs ``marl`` it runs its ablation too - the same network
    untrained, pretrained but frozen, and ``lse`` - and its default list holds the default
    strategy."""
    import inspect

    from examiner.cli import benchmark
    from examiner.search import DEFAULT_STRATEGY, with_ablation

    assert with_ablation(("random", "marl")) == ("random", "marl", "marl-untrained", "marl-frozen", "lse")
    assert with_ablation(("lse", "marl", "marl-frozen")) == ("lse", "marl", "marl-frozen", "marl-untrained")
    assert with_ablation(("random", "lse")) == ("random", "lse")
    default = inspect.signature(benchmark).parameters["strategies"].default.default.split(",")
    assert DEFAULT_STRATEGY in default and set(with_ablation(tuple(default))) >= {"marl", "marl-untrained",
                                                                                 "marl-frozen", "lse"}


def test_search_and_demo_use_the_default_strategy(tmp_path, monkeypatch):
    """``examiner search`` without --strategy and ``examiner demo`` run ``DEFAULT_STRATEGY``, the
    best measured one (``assets/policies/README.md``)."""
    import inspect

    import examiner.search.run as run_module
    from examiner.cli import search
    from examiner.demo import run_demo
    from examiner.search import DEFAULT_STRATEGY, STRATEGIES

    assert DEFAULT_STRATEGY == "lse" and DEFAULT_STRATEGY in STRATEGIES
    assert inspect.signature(search).parameters["strategy"].default.default == DEFAULT_STRATEGY
    seen = []

    class Stop(Exception):
        pass

    def fake(model, space, strategy, *a, **k):
        seen.append(strategy)
        raise Stop

    monkeypatch.setattr(run_module, "run_search", fake)
    with pytest.raises(Stop):
        run_demo(tmp_path / "demo", 20, model="planted")
    assert seen == [DEFAULT_STRATEGY]
