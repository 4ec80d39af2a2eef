"""The failure surrogate (``examiner.search.surrogate``) on a landscape built with numpy: fail
iff x0 > 0.5, in 5 dims, no noise."""

import numpy as np
import pytest

from examiner.search.surrogate import Surrogate, SurrogateConfig
from synthgen.errors import ParamError


def _at(x0: float, n: int = 200, seed: int = 1) -> np.ndarray:
    X = np.random.default_rng(seed).uniform(-1, 1, (n, 5))
    X[:, 0] = x0
    return X


@pytest.fixture(scope="module")
def forest() -> Surrogate:
    X = np.random.default_rng(0).uniform(-1, 1, (300, 5))
    return Surrogate(SurrogateConfig(kind="forest"), seed=0).fit(X, X[:, 0] > 0.5)


def test_forest_learns_a_threshold(forest):
    p_fail, _ = forest.predict(_at(0.9))
    p_pass, _ = forest.predict(_at(-0.5))
    assert p_fail.min() > 0.8
    assert p_pass.max() < 0.2


def test_sd_is_largest_at_the_boundary(forest):
    _, sd_edge = forest.predict(_at(0.5))
    _, sd_fail = forest.predict(_at(0.9))
    _, sd_pass = forest.predict(_at(-0.5))
    assert sd_edge.mean() > 2 * max(sd_fail.mean(), sd_pass.mean())
    assert np.all(sd_edge >= 0) and np.all(sd_pass >= 0)


@pytest.mark.parametrize("label", [False, True])
def test_constant_labels_give_a_constant_prediction(label):
    X = np.random.default_rng(2).uniform(-1, 1, (50, 5))
    s = Surrogate(SurrogateConfig(kind="forest")).fit(X, np.full(50, label))
    p, sd = s.predict(np.random.default_rng(3).uniform(-1, 1, (20, 5)))
    assert p.shape == sd.shape == (20,)
    assert np.all(p == float(label))
    assert np.ptp(sd) == 0


def test_a_bad_kind_names_the_parameter():
    with pytest.raises(ParamError, match="surrogate.kind") as e:
        Surrogate(SurrogateConfig(kind="svm"))
    assert e.value.key == "surrogate.kind"


def test_held_out_probabilities_tell_a_stray_failure_from_a_modes():
    X = np.random.default_rng(4).uniform(-1, 1, (300, 5))
    failed = X[:, 0] > 0.5
    stray = int(np.argmin(X[:, 0]))  # one failure where nothing else fails
    failed[stray] = True
    plain = Surrogate(SurrogateConfig(kind="forest"), seed=0).fit(X, failed)
    s = Surrogate(SurrogateConfig(kind="forest"), seed=0).fit(X, failed, held_out=True)
    assert plain.held_out is None and s.held_out.shape == (300,)
    assert np.all((s.held_out >= 0) & (s.held_out <= 1))
    assert s.held_out[stray] < 0.1 < 0.7 < s.held_out[X[:, 0] > 0.6].mean()
    assert np.array_equal(s.predict(X)[0], plain.predict(X)[0])  # the forest itself is the same
    for kind in ("extra", "gp"):
        with pytest.raises(ValueError, match="forest"):
            Surrogate(SurrogateConfig(kind=kind)).fit(X, failed, held_out=True)
