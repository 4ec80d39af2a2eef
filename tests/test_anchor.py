"""Anchored probes (``examiner/search/anchor.py``, ``examiner/search/dim_posterior.py``): the
posterior over which dims a mode bounds names a pocket's three dims of twenty from noisy answers
and tells a sporadic failure in a few; a probe from a failure inside a planted pocket proposes a
box on the pocket's dims with faces near the pocket's; a probe from a sporadic failure costs a
few queries and proposes nothing; a probe asks its questions outside known modes and still names
the pocket; ``ModeFinder`` confirms a pocket that neither its surrogate nor a scan proposes."""

import numpy as np
import pytest

from examiner.search.dim_posterior import DimPosterior, DimPosteriorConfig
from examiner.search.proposer import known_mask

POSTERIOR = DimPosteriorConfig()


def _answered(dims: tuple, rate: float, seed: int, D: int = 20, stay: float = 0.08, elsewhere: float = 0.05,
              cap: int = 40) -> DimPosterior:
    """The posterior after answers drawn as a mode on ``dims`` gives them: a freed dim of the mode
    keeps the point inside with probability ``stay``, inside fails at ``rate``, outside at
    ``elsewhere``."""
    rng = np.random.default_rng(seed)
    post = DimPosterior(D, POSTERIOR)
    while post.n < cap:
        _, p, low = post.best()
        if max(p, low) >= POSTERIOR.confident:
            break
        freed = post.next_freed(rng)
        inside = all(not freed[d] or rng.random() < stay for d in dims)
        post.update(freed, bool(rng.random() < (rate if inside and dims else elsewhere)))
    return post


def test_the_posterior_names_a_pockets_three_dims_of_twenty():
    named = [_answered((2, 9, 15), 0.85, seed).best() for seed in range(10)]
    assert sum(dims == [2, 9, 15] and p >= 0.5 for dims, p, _ in named) >= 8


def test_a_sporadic_failure_is_told_from_a_mode_in_a_few_answers():
    for seed in range(10):
        post = _answered((), 0.85, seed)
        assert post.best()[2] >= POSTERIOR.confident and post.n <= 12


SPACE = ("image: {width: 96, height: 96}\n"
         "search: [pose.left_shoulder.abduct, pose.right_shoulder.abduct, pose.left_elbow.flex, pose.right_elbow.flex,\n"
         "         camera.yaw, camera.pitch, camera.distance, light.key_intensity]\n"
         "dims:\n  pose.left_shoulder.abduct: [0, 160]\n  pose.right_shoulder.abduct: [0, 160]\n"
         "  pose.left_elbow.flex: [0, 140]\n  pose.right_elbow.flex: [0, 140]\n  camera.yaw: [-90, 90]\n"
         "  camera.pitch: [-30, 60]\n  camera.distance: [2, 6]\n  light.key_intensity: [1, 5]\n")
# a pocket on dims 0, 3 and 4: 30%, 35% and 30% of their ranges, 3% of the space
POCKET = {0: (-0.2, 0.4), 3: (0.1, 0.8), 4: (-0.7, -0.1)}
PLANTED = ("score: direct\nbackground: {background}\nregions:\n  - name: pocket\n    effect: drop\n    bounds: "
           "{{pose.left_shoulder.abduct: [64, 112], pose.right_elbow.flex: [77, 126], camera.yaw: [-63, -9]}}\n")


def _context(tmp_path, background: float = 0.0, base: int = 64, planted: str | None = None, seed: int = 3):
    """A search context over SPACE with ``base`` uniform queries made; the model: the pocket
    (PLANTED, with ``background``) or ``planted``."""
    from examiner.evaluate import Evaluator
    from examiner.models import load_model
    from examiner.search.context import SearchContext
    from examiner.search_space import SearchSpace

    (tmp_path / "space.yaml").write_text(SPACE)
    (tmp_path / "planted.yaml").write_text(planted or PLANTED.format(background=background))
    model = load_model(f"planted:{tmp_path / 'planted.yaml'}")
    ev = Evaluator(model, SearchSpace.from_yaml(tmp_path / "space.yaml"), seed=0)
    ctx = SearchContext(ev, 1000, seed=seed)
    ctx.draw_base_sample(base)
    return ctx


def _inside(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, (n, 8))
    for d, (a, b) in POCKET.items():
        X[:, d] = rng.uniform(a + 0.1, b - 0.1, n)
    return X


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_probe_from_a_failure_inside_a_pocket_proposes_the_pocket(tmp_path, seed):
    from examiner.search.anchor import AnchorProber, AnchorProbing

    ctx = _context(tmp_path)
    x = _inside(1, seed)[0]
    assert ctx.evaluate_vectors(x[None])[0].failed
    prober = AnchorProber(ctx, AnchorProbing(trees=0))  # x is the anchor (the latest failure)
    used = ctx.used
    box = prober.probe()
    assert box is not None, "no box from a failure inside a hard pocket"
    lo, hi = box
    assert np.nonzero(ctx.characterizer.restricted(lo, hi))[0].tolist() == sorted(POCKET)
    for d, (a, b) in POCKET.items():
        assert lo[d] == pytest.approx(a, abs=0.15) and hi[d] == pytest.approx(b, abs=0.15)
    assert ctx.used - used <= 90 and prober.spent == ctx.used - used
    again = prober.anchor()
    assert again is None or not ((again >= lo) & (again <= hi)).all(), "an anchor inside a probed box is taken again"


def test_a_probe_from_a_sporadic_failure_costs_a_few_queries_and_proposes_nothing(tmp_path):
    from examiner.search.anchor import AnchorProber, AnchorProbing

    ctx = _context(tmp_path, background=0.05, base=200)
    X, failed = ctx.queried_failed()
    outside = ~np.all([(X[:, d] >= a - 0.1) & (X[:, d] <= b + 0.1) for d, (a, b) in POCKET.items()], axis=0)
    assert (failed & outside).any()
    prober = AnchorProber(ctx, AnchorProbing(trees=0))
    assert np.array_equal(prober.anchor(), X[np.nonzero(failed)[0][-1]])  # the latest failure ...
    assert outside[np.nonzero(failed)[0][-1]]  # ... is a sporadic one, outside the pocket
    used = ctx.used
    assert prober.probe() is None
    assert ctx.used - used <= 6


FAR_AND_POCKET = ("score: direct\nregions:\n  - name: far\n    effect: drop\n    bounds: {camera.distance: [4.2, 6]}\n"
                  "  - name: pocket\n    effect: drop\n    bounds: {pose.left_shoulder.abduct: [64, 112], "
                  "pose.right_elbow.flex: [77, 126], camera.yaw: [-63, -9]}\n")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_probe_asks_outside_known_modes_and_still_names_the_pocket(tmp_path, seed):
    """A known mode (camera distance over 4.2 m: 45% of that dim, failing always) would answer
    every query whose freed distance lands in it with a failure that says nothing of the anchor's
    mode; the probe draws its freed values outside known modes, and names the pocket's dims."""
    from examiner.search.anchor import AnchorProber
    from examiner.search.regions import Region

    ctx = _context(tmp_path, planted=FAR_AND_POCKET, seed=seed)
    lo, hi = -np.ones(8), np.ones(8)
    lo[6] = 0.1
    ctx.registry.regions.append(Region(lo, hi))
    x = _inside(1, seed)[0]
    x[6] = -0.6
    assert ctx.evaluate_vectors(x[None])[0].failed
    used = len(ctx.history)
    dims = AnchorProber(ctx).dims_that_matter(x)
    asked = np.array([z for z, _ in ctx.history[used:]])
    assert len(asked) >= 8 and not known_mask(ctx, asked).any()
    assert dims == sorted(POCKET)


EDGE = ("score: direct\nbackground: 0.04\nregions:\n  - name: far\n    effect: drop\n    bounds: "
        "{camera.distance: [4.8, 6]}\n")


def test_the_anchor_is_the_failure_the_other_queries_explain_least(tmp_path):
    """Failures of a mode the forest sees (a threshold on one dim) are explained by each other; a
    sporadic one is not, and is probed first although a failure of the mode came later."""
    from examiner.search.anchor import AnchorProber, AnchorProbing

    for seed in range(3):
        ctx = _context(tmp_path, base=300, planted=EDGE, seed=seed)
        far = np.random.default_rng(seed).uniform(-1.0, 1.0, (1, 8))
        far[0, 6] = 0.9  # camera.distance 5.8: inside the mode
        assert ctx.evaluate_vectors(far)[0].failed
        X, failed = ctx.queried_failed()
        in_mode = X[:, 6] >= 0.4
        assert (failed & ~in_mode).any()
        latest = AnchorProber(ctx, AnchorProbing(trees=0)).anchor()
        assert np.array_equal(latest, far[0])
        x = AnchorProber(ctx).anchor()
        assert x[6] < 0.4, f"seed {seed}: the anchor is a failure of the mode the forest sees"
        assert any(np.array_equal(x, X[i]) for i in np.nonzero(failed & ~in_mode)[0])


def test_the_mode_finder_confirms_a_pocket_only_a_probe_proposes(tmp_path):
    from examiner.search.anchor import AnchorProbing
    from examiner.search.surrogate_modes import ModeFinder, ModeFinding

    class Blind:  # a surrogate that predicts no failure anywhere
        def predict(self, X):
            return np.full(len(X), 0.02), np.zeros(len(X))

    ctx = _context(tmp_path, base=200)
    ctx.evaluate_vectors(_inside(1, 5))
    finder = ModeFinder(ctx, ModeFinding(scan=None, anchor=AnchorProbing(start=0)))
    found = finder.find(Blind(), owner="lse")
    assert len(found) == 1
    lo, hi = found[0].lo, found[0].hi
    assert np.nonzero(ctx.characterizer.restricted(lo, hi))[0].tolist() == sorted(POCKET)
    assert found[0].failure_rate >= 0.8
    ctx = _context(tmp_path, base=200)  # the same without probes: nothing proposes the pocket
    ctx.evaluate_vectors(_inside(1, 5))
    assert ModeFinder(ctx, ModeFinding(scan=None, anchor=None)).find(Blind(), owner="lse") == []


def test_a_search_that_probes_is_deterministic_and_resumes_to_the_same_failures(tmp_path, monkeypatch):
    from examiner.search.anchor import AnchorProber, AnchorProbing
    from examiner.search.run import run_search

    probed = []
    probe = AnchorProber.probe
    monkeypatch.setattr(AnchorProber, "probe", lambda self: probed.append(self.ctx.used) or probe(self))
    (tmp_path / "space.yaml").write_text(SPACE)
    (tmp_path / "planted.yaml").write_text(PLANTED.format(background=0.02))
    model, space = f"planted:{tmp_path / 'planted.yaml'}", tmp_path / "space.yaml"
    runs = {name: run_search(model, space, "lse", 520, tmp_path / name, seed=2, tensorboard=False) for name in ("a", "b")}
    assert probed and min(probed) >= AnchorProbing().start
    assert (tmp_path / "a" / "failures.json").read_bytes() == (tmp_path / "b" / "failures.json").read_bytes()
    assert runs["a"]["regions"]
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "run.json").write_bytes((tmp_path / "a" / "run.json").read_bytes())
    lines = (tmp_path / "a" / "queries.jsonl").read_bytes().splitlines(keepends=True)
    (cut / "queries.jsonl").write_bytes(b"".join(lines[:400]))  # killed after a probe began
    r = run_search(model, space, "lse", 520, cut, seed=2, resume=True, tensorboard=False)
    assert r["replayed_queries"] == 400
    assert (cut / "failures.json").read_bytes() == (tmp_path / "a" / "failures.json").read_bytes()
