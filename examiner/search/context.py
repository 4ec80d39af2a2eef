"""What every strategy searches through: one evaluator, one query budget, one registry of
validated regions, one log of every query.

Budget accounting is exact: each query that renders and predicts counts (validation and
boundary growth included; cache hits are free), and no call ever goes past the budget - the
call that reaches it evaluates what still fits, then raises BudgetExhausted.

Resume: every query is appended to ``queries.jsonl`` as it lands. Strategies are
deterministic for a seed, so a resumed run replays the same strategy from the start and is
served the logged results instead of rendering them again, until the log runs out; from there
it continues live. The result is the run an uninterrupted process would have made."""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from examiner.evaluate import Evaluator, Query
from examiner.search.budget import BudgetExhausted
from examiner.search.characterize import MIN_SAMPLES
from examiner.search.regions import Region, RegionRegistry
from synthgen.errors import SynthgenError


#: fresh queries held back per validated region, to measure its box once its faces are placed
#: again on the whole history at the end (``finalize``); what is left goes to the regions' rates
FINAL_RESERVE = 12
#: a failure this close to a validated box (normalized units, in every dim) is that region's:
#: growth places faces on the last failing probe, up to one bisection step (2 / 2^5) inside
KNOWN_MARGIN = 0.0625


@dataclass(frozen=True)
class Validation:
    samples: int = 32  # at most this many fresh uniform samples inside a region (the history counts first)
    threshold: float = 0.5  # failure rate whose lower confidence bound a region must clear to be reported


def base_samples(budget: int) -> int:
    """Uniform queries every search starts with (the base rate and coverage are measured on
    them and on every later uniform query over the whole space, ``SearchContext.whole_space``):
    4% of the budget, at least 16 and at most 64, never more than a quarter of it."""
    return min(max(16, round(0.04 * budget)), 64, budget // 4)


class SearchContext:
    def __init__(self, evaluator: Evaluator, budget: int, seed: int = 0, validation: Validation = Validation(),
                 log_path: str | Path | None = None, replay: list[dict] | None = None, progress=None,
                 characterization=None):
        if budget < 1:
            from synthgen.errors import ParamError

            raise ParamError("--budget", f"must be at least 1, got {budget}")
        self.evaluator = evaluator
        self.space = evaluator.space
        self.dims = len(self.space)
        self.budget = budget
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.validation = validation
        self.registry = RegionRegistry()
        self.withdrawn: list[Region] = []  # modes the points drawn after their confirmation refute
        #: boxes whose validation failed: strategies do not grow from points inside them again
        self.rejected: list[Region] = []
        self.used = 0
        self.failures = 0
        self.history: list[tuple[np.ndarray, Query]] = []
        self.choices = [len(d.choices) if hasattr(d, "choices") else 0 for d in self.space.dims]
        # per history entry: counted in estimates (graded, not a repeat, not a growth probe),
        # one of the uniform base sample
        self._blind: list[bool] = []
        self._uniform: list[bool] = []
        self._support: list[np.ndarray] = []  # (2, D): the box each query was drawn uniformly from (NaN: none)
        self._arrays: dict = {}
        self._defining = False
        self._drawing_uniform = False
        self._replay = list(replay or [])
        self._finalizing = False
        self._replay_pos = 0
        self._log = open(log_path, "a") if log_path else None
        self.progress = progress
        self.first_region_at: int | None = None
        self._characterizer = None
        if characterization is not None:
            from examiner.search.characterize import Characterizer

            self._characterizer = Characterizer(self, characterization)

    def finalize(self) -> None:
        """Every region's faces placed on the whole history (``faces.py``; a box whose new faces
        the history cannot measure is measured on the fresh queries held back for it), what is
        left of those queries spread over the boxes (more points, narrower rate intervals), the
        regions those points refute withdrawn (``Characterizer.refuted``; kept in ``withdrawn``),
        then each region's statistics (for failures.json)."""
        from examiner.search.faces import final_box

        self._finalizing = True
        X, failed = self.queried_failed()
        regions = self.registry.regions
        for r in regions:
            others = [o for o in regions if o is not r]
            if len(X):
                r.lo, r.hi = final_box(r, X, failed, self.characterizer, others, FINAL_RESERVE)
        # what is left of the reserve measures the rates: fresh uniform points in each box
        left = self.remaining
        for i, r in enumerate(regions):
            n = left // len(regions) + (i < left % len(regions))
            if n > 0:
                self.evaluate_vectors(r.sample(self.rng, n), support=(r.lo, r.hi))
        # a mode the points drawn since it was confirmed refute is not reported as one
        refuted = [self.characterizer.refuted(r) for r in regions]
        self.withdrawn = [r for r, out in zip(regions, refuted) if out]
        self.registry.regions = [r for r, out in zip(regions, refuted) if not out]
        for r in regions:
            r.examples = self.examples(r)
            r.stats = self.characterizer.statistics(r)

    # --- evaluation -------------------------------------------------------------------------
    @property
    def remaining(self) -> int:
        """Queries a strategy may still make: the budget less ``FINAL_RESERVE`` per validated
        region, which ``finalize`` may spend."""
        held = 0 if self._finalizing else FINAL_RESERVE * len(self.registry.regions)
        return self.budget - self.used - held

    def evaluate_vectors(self, X, support: tuple[np.ndarray, np.ndarray] | None = None) -> list[Query]:
        """Query the points X (n, D). ``support``: the box (lo, hi) they were drawn uniformly
        from, if they were; only such points estimate a failure rate (see ``uniform_in``)."""
        X = np.clip(np.atleast_2d(np.asarray(X, dtype=np.float64)), -1.0, 1.0)
        if self.remaining <= 0:
            raise BudgetExhausted
        counted = np.cumsum(self.evaluator.new_queries(X))  # cache hits and repeats are free
        take = X[: int(np.searchsorted(counted, self.remaining, side="right"))]
        queries: list[Query | None] = [self._replayed(x) for x in take]
        live = [i for i, q in enumerate(queries) if q is None]
        if live:
            for i, q in zip(live, self.evaluator.evaluate_vectors(take[live])):
                queries[i] = q
                self._write(take[i], q)
        for x, q in zip(take, queries):
            if not q.cached:
                self.used += 1
            self.failures += bool(q.failed)
            self.history.append((x, q))
            fresh = bool(q.graded and not q.cached)
            self._blind.append(fresh and not self._defining)
            self._uniform.append(fresh and self._drawing_uniform)
            self._support.append(np.full((2, self.dims), np.nan) if support is None
                                 else np.stack([np.broadcast_to(support[0], self.dims), np.broadcast_to(support[1], self.dims)]))
        self._arrays.clear()
        if self.progress:
            self.progress(self)
        if len(take) < len(X):
            raise BudgetExhausted
        return queries

    def _replayed(self, x: np.ndarray) -> Query | None:
        """The logged answer for x while replaying (None once the log is used up)."""
        if self._replay_pos >= len(self._replay):
            return None
        key = self.evaluator.key_of(x)
        hit = self.evaluator.cached(key)
        if hit is not None:
            return hit
        rec = self._replay[self._replay_pos]
        if not np.allclose(rec["x"], x, atol=1e-9):
            raise SynthgenError("queries.jsonl does not match this run (its strategy, seed or settings differ); "
                                "start a new --out or rerun without --resume")
        self._replay_pos += 1
        q = Query(**{**rec["query"], "error": float("nan") if rec["query"]["error"] is None else rec["query"]["error"]})
        self.evaluator.remember(key, q)
        return q

    def _write(self, x: np.ndarray, q: Query) -> None:
        if self._log and not q.cached:
            self._log.write(json.dumps({"x": x.round(12).tolist(), "query": json.loads(q.to_json())}) + "\n")
            self._log.flush()

    def close(self) -> None:
        if self._log:
            self._log.close()
            self._log = None

    @contextmanager
    def defining(self):
        """Queries made inside decide where a box's faces lie (growth probes): no estimate of
        a failure rate uses them."""
        self._defining, before = True, self._defining
        try:
            yield
        finally:
            self._defining = before

    def draw_base_sample(self, n: int) -> None:
        """``n`` uniform queries: the base rate and the coverage of every mode are measured on them."""
        self._drawing_uniform = True
        try:
            self.evaluate_vectors(self.rng.uniform(-1.0, 1.0, (n, self.dims)), support=(-1.0, 1.0))
        finally:
            self._drawing_uniform = False

    def _select(self, which: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if which not in self._arrays:
            mask = np.array(self._blind if which == "blind" else self._uniform, dtype=bool)
            X = np.array([x for x, _ in self.history]).reshape(-1, self.dims)[mask]
            y = np.array([bool(q.failed) for _, q in self.history], dtype=bool)[mask]
            S = np.array(self._support).reshape(-1, 2, self.dims)[mask]
            self._arrays[which] = (X, y, S, np.nonzero(mask)[0])
        return self._arrays[which]

    def blind(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(X (n, D), failed (n,), support (n, 2, D), history index (n,)) of every graded query
        that estimates may use (not a repeat, not a growth probe); support is NaN for points not
        drawn uniformly."""
        return self._select("blind")

    def uniform(self) -> tuple[np.ndarray, np.ndarray]:
        """(X (n, D), failed (n,)) of the uniform base sample."""
        return self._select("uniform")[:2]

    def uniform_queries(self) -> list[Query]:
        """The queries of ``uniform()``, in its order."""
        return [self.history[i][1] for i in self._select("uniform")[3]]

    def whole_space(self) -> tuple[np.ndarray, np.ndarray]:
        """(X (n, D), failed (n,)) of every graded query drawn uniformly over the whole space: the
        base sample and every later such draw (``lse``'s and ``marl``'s uniform share, ``random``'s
        points). Each was drawn whatever the answers before it, so together they are one uniform
        sample of the space, several times the base sample's size."""
        X, y, S, _ = self.blind()
        whole = (S[:, 0] <= -1.0).all(1) & (S[:, 1] >= 1.0).all(1)
        return X[whole], y[whole]

    def base_counts(self) -> tuple[int, int]:
        """(failures, graded queries) of ``whole_space()``: the base rate."""
        _, y = self.whole_space()
        return int(y.sum()), len(y)

    # --- regions -------------------------------------------------------------------------------
    def known(self, x: np.ndarray) -> bool:
        """x lies in (or within KNOWN_MARGIN of) a validated region, or in a box that failed
        validation."""
        return (self.registry.containing(x, KNOWN_MARGIN) is not None
                or any(r.contains(x) for r in self.rejected))

    @property
    def characterizer(self):
        if self._characterizer is None:
            from examiner.search.characterize import Characterizer

            self._characterizer = Characterizer(self)
        return self._characterizer

    def validate(self, region: Region, samples: int | None = None, least: int = MIN_SAMPLES,
                 extend_above: float | None = None) -> bool:
        """The region holds when its failure rate clears the threshold (see Characterizer.validate)."""
        ok = self.characterizer.validate(region, samples, least, extend_above)
        if ok:
            region.examples = self.examples(region)
        return ok

    def queried(self) -> tuple[np.ndarray, list[Query]]:
        """(X (n, D), queries) of every query of the search so far (base sample, proposals,
        growth and validation; cache hits left out, they repeat a point)."""
        rows = [(x, q) for x, q in self.history if not q.cached]
        return (np.array([x for x, _ in rows]) if rows else np.zeros((0, self.dims))), [q for _, q in rows]

    def queried_failed(self) -> tuple[np.ndarray, np.ndarray]:
        """(X (n, D), failed (n,) bool) of ``queried()``."""
        X, queries = self.queried()
        return X, np.array([bool(q.failed) for q in queries], dtype=bool)

    def examples(self, region: Region, n: int = 8) -> list[int]:
        """Query ids of the first ``n`` failures inside the region."""
        return [q.id for x, q in self.history if q.failed and not q.cached and region.contains(x)][:n]

    def accept(self, region: Region) -> Region:
        region.found_at = self.used

        def hull_holds(hull: Region) -> bool:
            hull.fixed_at = len(self.history)
            return self.characterizer.validate(hull)

        kept = self.registry.add(region, self.characterizer.restricted, hull_holds,
                                 touch=self.characterizer.config.resolution,
                                 stands_alone=self.characterizer.fails_outside)
        if self.first_region_at is None:
            self.first_region_at = self.used
        return kept
