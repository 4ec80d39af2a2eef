"""A surrogate of the failure landscape: the probability that a query fails, as a function of the
normalized point, fitted to every query of a search so far (``lse`` and ``marl`` share it).

Kind: a random forest classifier (scikit-learn). ``benchmarks/surrogate.py`` compares it with an
exact GP (BoTorch ``SingleTaskGP`` on the failure indicator) and extra trees on the realistic
landscape family over ``scenes/search_all.yaml`` (LightGBM is not compared: not installed). Why
``KIND_CHOICE`` is the forest: on 10 landscapes, fitted to search-like histories and scored on
2,000 uniform points, it has the best Brier score and AUC at every n - at n = 300 / 600 / 1200
Brier 0.153 / 0.140 / 0.120 and AUC 0.79 / 0.83 / 0.86, against extra trees' 0.167 / 0.158 /
0.136 (AUC 0.76 / 0.80 / 0.85) and the GP's 0.194 / 0.181 / 0.162 (AUC 0.68 / 0.73 / 0.78) -
and fits 1,200 points in 0.6 s (the GP: about 15 s). ``max_features=1.0`` was the best of
0.33 / 0.5 / 1.0 there. ``min_leaf``: 5 is best calibrated (Brier 0.141, AUC 0.822 at n = 600
on landscapes 0-4, against 0.145 / 0.811 for 1), but what a search needs is modes, and with
``min_leaf=1`` ``lse`` explains more of them: recall 0.50 against 0.33 at 600 queries on
realistic landscapes 0-11 (single leaves keep a small cluster of failures sharp enough for a
box to be proposed around it; a wrong proposal costs at most 16 queries), so the default is 1.
A forest fits the shapes failure modes have (thresholds on a few dims, axis-aligned
interactions) exactly with few splits, ignores the many dims that do not matter, costs a
fraction of a second at 1,500 points, and its trees' disagreement is the uncertainty the
level-set acquisition needs (``sd``: the spread of the trees' probabilities).

The mean ``p`` is the trees' average probability; since it is conditional on the point, it
does not care that a search queried some places more than others - which is what lets a mode's
rate be estimated from a non-uniform history (``surrogate_modes.py``), before fresh uniform
points confirm it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: the default kind: the module's docstring says why (``benchmarks/surrogate.py`` has the table)
KIND_CHOICE = "forest"
KINDS = ("forest", "extra", "gp")


@dataclass(frozen=True)
class SurrogateConfig:
    kind: str = KIND_CHOICE  # forest | extra | gp
    trees: int = 64
    min_leaf: int = 1  # queries per leaf at least (see the module docstring)
    max_features: float = 1.0  # share of the dims each split may choose from


class Surrogate:
    """``fit(X, failed)`` then ``predict(X) -> (p, sd)``, X (n, D) in [-1, 1]."""

    def __init__(self, config: SurrogateConfig = SurrogateConfig(), seed: int = 0):
        if config.kind not in KINDS:
            from synthgen.errors import ParamError

            raise ParamError("surrogate.kind", f"{config.kind!r} is not one of {', '.join(KINDS)}")
        self.config = config
        self.seed = int(seed)
        self._model = None
        self._constant: float | None = None
        self.n = 0
        self.held_out: np.ndarray | None = None  # see ``fit``

    def fit(self, X: np.ndarray, failed: np.ndarray, held_out: bool = False) -> "Surrogate":
        """``held_out`` (a forest only): also set ``held_out``, each fitted point's failure
        probability from the trees that did not draw it (out-of-bag): how well the other queries
        explain it."""
        if held_out and self.config.kind != "forest":
            raise ValueError("held-out probabilities need a forest (bootstrap samples)")
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(failed, dtype=bool)
        self.n = len(y)
        self.held_out = None
        if not len(y) or y.all() or not y.any():
            self._constant = float(y.mean()) if len(y) else 0.0
            self._model = None
            self.held_out = np.full(len(y), self._constant) if held_out else None
            return self
        self._constant = None
        c = self.config
        if c.kind == "gp":
            self._model = _fit_gp(X, y, self.seed)
            return self
        from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

        cls = RandomForestClassifier if c.kind == "forest" else ExtraTreesClassifier
        self._model = cls(n_estimators=c.trees, min_samples_leaf=c.min_leaf, max_features=c.max_features,
                          random_state=self.seed, n_jobs=1, oob_score=held_out).fit(X, y)
        if held_out:  # a point every tree drew (rare) gets the base rate
            p = self._model.oob_decision_function_[:, -1]
            self.held_out = np.where(np.isnan(p), y.mean(), p)
        return self

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(p (n,), sd (n,)): the failure probability and its uncertainty."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        if self._constant is not None or self._model is None:
            p = np.full(len(X), self._constant or 0.0)
            return p, np.full(len(X), 0.5 if self.n < 2 else float(np.sqrt(max(p[0] * (1 - p[0]), 1e-4) / self.n)))
        if self.config.kind == "gp":
            return _predict_gp(self._model, X)
        per_tree = np.stack([t.predict_proba(X)[:, -1] for t in self._model.estimators_])
        return per_tree.mean(0), per_tree.std(0)


def _fit_gp(X: np.ndarray, y: np.ndarray, seed: int):
    import torch
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from gpytorch.mlls import ExactMarginalLogLikelihood

    from synthgen.workers import one_torch_thread

    with torch.random.fork_rng(), one_torch_thread():
        torch.manual_seed(seed)
        model = SingleTaskGP(torch.as_tensor((X + 1.0) / 2.0), torch.as_tensor(y, dtype=torch.float64)[:, None])
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model),
                         optimizer_kwargs={"options": {"maxiter": 50}})
    return model


def _predict_gp(model, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import torch

    from synthgen.workers import one_torch_thread

    with torch.no_grad(), one_torch_thread():
        post = model.posterior(torch.as_tensor((X + 1.0) / 2.0))
        mean = post.mean.squeeze(-1).numpy()
        sd = post.variance.clamp_min(0).sqrt().squeeze(-1).numpy()
    return np.clip(mean, 0.0, 1.0), sd
