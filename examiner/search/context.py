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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from examiner.evaluate import Evaluator, Query
from examiner.search.regions import Region, RegionRegistry
from synthgen.errors import SynthgenError


#: a failure this close to a validated box (normalized units, in every dim) is that region's:
#: growth places faces on the last failing probe, up to one bisection step (2 / 2^5) inside
KNOWN_MARGIN = 0.0625


class BudgetExhausted(Exception):
    """The query budget is used up."""


@dataclass(frozen=True)
class Validation:
    samples: int = 32  # N uniform samples inside a region
    threshold: float = 0.8  # failure rate they must reach for the region to be reported


class SearchContext:
    def __init__(self, evaluator: Evaluator, budget: int, seed: int = 0, validation: Validation = Validation(),
                 log_path: str | Path | None = None, replay: list[dict] | None = None, progress=None):
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
        #: boxes whose validation failed: strategies do not grow from points inside them again
        self.rejected: list[Region] = []
        self.used = 0
        self.failures = 0
        self.history: list[tuple[np.ndarray, Query]] = []
        self._replay = list(replay or [])
        self._replay_pos = 0
        self._log = open(log_path, "a") if log_path else None
        self.progress = progress
        self.first_region_at: int | None = None

    # --- evaluation -------------------------------------------------------------------------
    @property
    def remaining(self) -> int:
        return self.budget - self.used

    def evaluate_vectors(self, X) -> list[Query]:
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

    # --- regions -------------------------------------------------------------------------------
    def known(self, x: np.ndarray) -> bool:
        """x lies in (or within KNOWN_MARGIN of) a validated region, or in a box that failed
        validation."""
        return (self.registry.containing(x, KNOWN_MARGIN) is not None
                or any(r.contains(x) for r in self.rejected))

    def validate(self, region: Region) -> bool:
        """Draw N points uniformly inside; the region holds if they fail often enough."""
        X = region.sample(self.rng, self.validation.samples)
        qs = self.evaluate_vectors(X)
        graded = [q for q in qs if q.graded]
        rate = sum(q.failed for q in graded) / len(graded) if graded else 0.0
        region.failure_rate = round(rate, 4)
        region.validated_samples = len(graded)
        ok = len(graded) >= self.validation.samples // 2 and rate >= self.validation.threshold
        if ok:
            region.examples = [q.id for q in qs if q.failed][:8]
        return ok

    def accept(self, region: Region) -> Region:
        region.found_at = self.used
        kept = self.registry.add(region)
        if self.first_region_at is None:
            self.first_region_at = self.used
        return kept
