"""Anchored probes: which dims the mode around one failing query bounds, asked of the model
(``dim_posterior.py``), and the box it fills on them.

A pocket - three dims each bounded to a quarter or a third of their range, 2-3% of the space -
stays hidden from what ``lse`` and ``marl`` read off their queries: the forest splits one dim at
a time, and the scan (``scan.py``), which looks at three dims at once, mostly finds two of a
pocket's dims with a wrong third; such a box fails its validation, since the pocket holds a
fifth to a third of it. On the realistic tuning landscapes at 600 queries, 8% of the pockets
were found, although the queries inside them failed about 85% of the time and half of those
failures were in no reported mode at the end.

A probe asks the model instead. Take a failing query x that no known mode holds, nor lies within
``beside`` of one (a failure beside a mode is most likely that mode's fading edge), and of those
the one the other queries explain least: the lowest out-of-bag failure probability of a forest
fitted to every query (the anchor). Failures of the modes the forest sees (thresholds,
interactions, the oblique one), which it will propose itself, are explained by their neighbours;
a pocket's, and sporadic ones, are not. In 48 traced ``lse`` searches on the tuning landscapes
(600 queries), 41% of the anchors so chosen lay in a pocket and 9% in an overlap (the latest
unexplained failure, the rule before: 26% and 9%), 28% in no mode (sporadic or fading, told
apart in 8 queries on average; 17% before) and 21% in an interaction or the oblique mode (45%
before, where a probe costs about 25 queries and almost never names a box):

1. **Which dims?** Each query keeps x's values (within ``jitter``) on some dims and moves the
   others at least ``away`` from x (where a mode a third of the range wide is left). It still
   fails if no dim the mode bounds was moved. ``dim_posterior.DimPosterior`` weighs every set of
   at most three dims (and "no mode here") by every answer and picks the next set to move where
   the answer is expected to tell most. A sporadic failure is told apart in a few queries. The
   probe stops when one set holds ``posterior.confident`` of the posterior, or when a mode on
   ``min_dims`` dims has become unlikely (``give_up`` after ``give_up_after`` answers: modes on
   one or two dims the surrogate sees), or after ``max_queries``. The moved values are drawn
   outside every known mode (the first of ``draws`` draws that is): a moved dim that lands in a
   known mode (an edge mode holds 5-10% of its dim and is found early) fails for that mode's
   reason, and the posterior, which expects failures away from the anchor's mode only at its
   ``elsewhere`` rate, took such an answer for a sign that the moved dims do not matter. In the
   probes of 24 traced ``lse`` searches (tuning landscapes 0-11, 600 queries), an anchor in no
   mode took 14.4 queries on average (3 of 11 all 40 of ``max_queries``) and a pocket's dims were
   named from 12 of 23 anchors in one; with the moved values outside known modes, 6.3 (none of 9)
   and 16 of 20.
2. **Where?** Along each dim found, ``line`` points (one in each equal part of the range, the
   other dims next to x) and ``refine`` rounds of one more in the gap at each face. The faces go
   where the failure rate changes (``rates.best_interval``), then ``inward`` into the gap beyond
   the outermost failing point: a box a little inside the mode validates, one a little outside
   may not. A dim that does not matter fails along all of its range and is left free.

The box then goes to ``ModeFinder.confirm``: validated on fresh uniform queries inside it, like
every proposal. Its bounds are not tested again by relaxing them (the lines are that test, on
points next to the anchor). A scanned box that failed its validation at a rate that says part of
it is a mode is probed first (from its latest failure, its dims favoured in the prior).

Probes start after ``start`` queries (the modes the surrogate and the scan see are found first,
so most failures left unexplained belong to the ones they do not), at most one every ``every``
queries, and none while they have cost more than ``share`` of the queries so far. An anchor
inside a box probed before is not taken again. Deterministic for the search's generator.

Measured with ``lse`` (realistic landscapes over ``scenes/search_all.yaml``, 600 queries, 12
seeds): on tuning landscapes 0-11, recall 0.549 without probes and 0.574 with them (pockets 6% and
22%, overlaps 3% and 8%; interactions and the oblique mode lose a little to the queries probes
take); on held-out landscapes 100-109, 0.551 and 0.561 (pockets 7% and 18%). A probe costs about
50 queries where it finds a pocket (its box confirmed included), 20-35 where it gives up; in 24
traced searches the dims it named were the mode's exact dims in 13 of 18 namings. Anchors chosen
by the forest instead of the latest unexplained failure: tuning 0.574 -> 0.576 (pockets 22% ->
24%, overlaps 8% -> 13%, interactions 67% -> 64%; paired +0.003, standard error 0.008, 144
searches), held-out 0.561 -> 0.556 (pockets 18% -> 23%; -0.005, 0.008, 120 searches), and
``marl`` held-out 0.588 -> 0.604 (+0.017, 0.018, 30 searches): no change in recall that these
samples can tell, with more of what probes find being pockets. The moved values drawn outside
known modes (``draws``; the code of a later time): tuning 0.598 -> 0.606 (24 seeds, 288 searches;
paired +0.008, standard error 0.006; pockets 28% -> 30%), held-out 0.582 -> 0.598 (+0.016, 0.012,
120 searches), and ``marl`` held-out 0.589 -> 0.616 (+0.027, 0.009, 120 searches; pockets 25% ->
32%)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from examiner.search.dim_posterior import DimPosterior, DimPosteriorConfig
from examiner.search.proposer import known_mask
from examiner.search.rates import best_interval
from examiner.search.surrogate import Surrogate, SurrogateConfig


@dataclass(frozen=True)
class AnchorProbing:
    start: int = 320  # no probe before the search has made this many queries (192: tuning recall
    # 0.584 against 0.589 at 600 queries, 12 seeds, paired standard error 0.012: pockets 0.35
    # against 0.24, interactions 0.64 against 0.68, the oblique mode 0.67 against 0.77; the
    # probes' queries come from the rest)
    every: int = 64  # queries between two probes at least (40: tuning recall 0.615 against 0.615,
    # paired standard error 0.004, before ``draws``)
    share: float = 0.25  # no probe while probing has cost more than this share of the queries (0.15,
    # with probes from 192 queries: tuning recall 0.570, standard error 0.011)
    jitter: float = 0.04  # kept dims are drawn within this of the anchor (normalized units; 0.01,
    # with ``draws``: tuning recall 0.618 against 0.625, paired standard error 0.009)
    max_queries: int = 40  # queries that ask which dims matter at most
    beside: float = 0.15  # no anchor within this of a known mode (normalized units)
    inward: float = 0.25  # faces this far into the gap beyond the outermost failing point along a line
    accept: float = 0.3  # the most probable set of dims is taken at this posterior (each dim is
    # then looked at along its range, where one that does not matter fails throughout)
    min_dims: int = 3  # a mode on fewer dims is left to the surrogate, which sees those (2, with
    # ``draws``: tuning recall 0.627 against 0.625, paired standard error 0.004)
    give_up: float = 0.1  # the probe stops when a mode on ``min_dims`` dims is less likely than this
    give_up_after: int = 12  # ... after this many answers (8: tuning recall 0.614 against 0.615)
    away: float = 0.5  # a freed dim is drawn at least this far from the anchor (normalized units)
    posterior: DimPosteriorConfig = DimPosteriorConfig()
    draws: int = 64  # of at most these draws of a query, the first outside every known mode is asked
    # (a known mode answers a freed dim landing in it with a failure that says nothing of the
    # anchor's mode; 1: the first draw, as before. Realistic tuning landscapes 0-11, 600 queries,
    # 24 seeds: recall 0.606 against 0.598, paired +0.008, standard error 0.006)
    line: int = 5  # points drawn along each dim found (one per equal part of its range; the others
    # next to the anchor) to place its faces
    refine: int = 2  # rounds of one more point at each face not at the edge (line 4 and refine 1:
    # tuning recall 0.618 against 0.615, paired standard error 0.006)
    repair_rates: tuple = (0.15, 0.5)  # a refused scanned box failing this often is probed
    trees: int = 128  # the forest that ranks anchors by how well the other queries explain them
    # (0: the latest unexplained failure is the anchor)


class AnchorProber:
    """Probes unexplained failures of ``ctx`` (see the module docstring)."""

    def __init__(self, ctx, config: AnchorProbing = AnchorProbing()):
        self.ctx = ctx
        self.config = config
        self.spent = 0  # queries probing has cost
        self.probed_at = -config.every  # ctx.used at the last probe
        self.refused: list = []  # refused scanned boxes waiting for a probe
        self._line: dict[int, list] = {}  # dim -> (value, failed) of points next to the anchor but along it
        self.probed: list[tuple[np.ndarray, np.ndarray]] = []  # boxes no anchor is taken from again

    def due(self) -> bool:
        """``start`` queries made, ``every`` since the last probe, and probing has cost at most
        ``share`` of them (confirming its boxes included)."""
        c, ctx = self.config, self.ctx
        return ctx.used >= c.start and ctx.used - self.probed_at >= c.every and self.spent <= c.share * ctx.used

    def offer(self, box) -> None:
        """A scanned box (a ``Region``) that failed its validation: probed first if its validated
        rate is within ``repair_rates`` (part of it is most likely a mode)."""
        lo, hi = self.config.repair_rates
        if box.failure_rate is not None and lo <= box.failure_rate < hi:
            self.refused.append(box)

    def anchor(self) -> np.ndarray | None:
        """Of the failing queries that no known mode, rejected box or probed box holds, the one the
        other queries explain least: the lowest out-of-bag failure probability of a forest fitted
        to every query (the latest of equals; the latest outright with ``trees`` 0)."""
        X, y = self.ctx.queried_failed()
        if not len(X):
            return None
        free = y & ~known_mask(self.ctx, X)
        for r in self.ctx.registry.regions:  # a failure beside a known mode is most likely its own
            free &= ~r.contains(X, self.config.beside)
        for lo, hi in self.probed:
            free &= ~((X >= lo) & (X <= hi)).all(1)
        idx = np.nonzero(free)[0]
        if not len(idx):
            return None
        if not self.config.trees:
            return X[idx[-1]]
        # a forest of its own, fitted once per probe: the search's surrogate is refitted every
        # batch, where out-of-bag probabilities would cost on every refit
        held_out = Surrogate(SurrogateConfig(trees=self.config.trees), seed=self.ctx.used).fit(X, y, True).held_out
        return X[idx[np.lexsort((-idx, held_out[idx]))[0]]]

    def _near(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        j = self.config.jitter
        return np.clip(x - j, -1.0, 1.0), np.clip(x + j, -1.0, 1.0)

    def _away(self, v: float) -> float:
        """A value of a dim at least ``away`` from v (uniform over what is left of the range)."""
        a = self.config.away
        below, above = max(0.0, v - a + 1.0), max(0.0, 1.0 - v - a)
        if below + above <= 0.0:
            return float(self.ctx.rng.uniform(-1.0, 1.0))
        u = self.ctx.rng.uniform(0.0, below + above)
        return -1.0 + u if u < below else v + a + (u - below)

    def dims_that_matter(self, x: np.ndarray, favoured=()) -> list[int] | None:
        """The dims the mode around x bounds (``dim_posterior``), or None: no mode (or one failing
        under ``posterior.low_rate``), a mode on fewer than ``min_dims`` dims, or no set of dims
        holding ``accept`` of the posterior after ``max_queries``. ``favoured``: dims the prior
        favours."""
        c, ctx = self.config, self.ctx
        post = DimPosterior(len(x), c.posterior, favoured)
        near_lo, near_hi = self._near(x)
        for _ in range(c.max_queries):
            dims, p, low = post.best()
            if low >= c.posterior.confident or p >= c.posterior.confident:
                break
            if post.n >= c.give_up_after and post.at_least(c.min_dims) < c.give_up:
                return None
            freed = post.next_freed(ctx.rng)
            moved = np.nonzero(freed)[0]
            for _ in range(c.draws):  # until the query lies outside every known mode
                z = ctx.rng.uniform(near_lo, near_hi, (1, len(x)))
                for d in moved:
                    z[0, d] = self._away(float(x[d]))
                if not known_mask(ctx, z)[0]:
                    break
            q = ctx.evaluate_vectors(z)[0]
            if not q.graded:
                continue
            post.update(freed, bool(q.failed))
            if freed.sum() == 1:
                d = int(np.nonzero(freed)[0][0])
                self._line.setdefault(d, []).append((float(z[0, d]), bool(q.failed)))
        dims, p, low = post.best()
        return dims if len(dims) >= c.min_dims and p >= c.accept and low < 0.5 else None

    def _along(self, x: np.ndarray, d: int, values: np.ndarray) -> None:
        """Query points next to x with dim d at ``values``; remember each answer on d's line."""
        lo, hi = self._near(x)
        lo[d], hi[d] = -1.0, 1.0
        P = self.ctx.rng.uniform(lo, hi, (len(values), len(x)))
        P[:, d] = values
        for v, q in zip(values, self.ctx.evaluate_vectors(P, support=(lo, hi))):
            if q.graded:
                self._line.setdefault(d, []).append((float(v), bool(q.failed)))

    def interval(self, x: np.ndarray, d: int) -> tuple[float, float]:
        """Where along dim d points next to the anchor fail: ``line`` points, one in each equal
        part of the range, then ``refine`` rounds of one at each face between its neighbours."""
        c, rng = self.config, self.ctx.rng
        resolution = self.ctx.characterizer.config.resolution
        self._along(x, d, -1.0 + 2.0 * (np.arange(c.line) + rng.uniform(0.0, 1.0, c.line)) / c.line)
        for round_ in range(c.refine + 1):
            v, y = (np.array(t) for t in zip(*self._line[d], (float(x[d]), True)))
            y = y.astype(bool)
            a, b = best_interval(v, y, min_inside=1)
            if round_ == c.refine:
                break
            mids = []
            for cut in (a, b):  # a face at the edge is looked at too: no point may lie beyond it yet
                below, above = v[v < cut], v[v > cut]
                g_lo = below.max() if len(below) else -1.0
                g_hi = above.min() if len(above) else 1.0
                if g_hi - g_lo > resolution:
                    mids.append(rng.uniform(g_lo, g_hi))
            if not mids:
                break
            self._along(x, d, np.array(mids))
        return self._inward(v, y, min(a, float(x[d])), max(b, float(x[d])))

    def _inward(self, v: np.ndarray, y: np.ndarray, a: float, b: float) -> tuple[float, float]:
        """Each face not at the edge moved from halfway between the outermost failing point and
        the next point beyond it to ``inward`` of that gap (a box a little inside the mode
        validates; one a little outside it may not)."""
        f = v[(v >= a) & (v <= b) & y]
        if not len(f):
            return a, b
        t = self.config.inward
        if a > -1.0:
            below = v[v < f.min()]
            a = f.min() - t * (f.min() - (below.max() if len(below) else -1.0))
        if b < 1.0:
            above = v[v > f.max()]
            b = f.max() + t * ((above.min() if len(above) else 1.0) - f.max())
        return float(a), float(b)

    def fitted_box(self, x: np.ndarray, dims: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """The box bounded on ``dims`` by each one's ``interval`` (the other dims free)."""
        lo, hi = -np.ones(len(x)), np.ones(len(x))
        for d in dims:
            lo[d], hi[d] = self.interval(x, d)
        return lo, hi

    def probe(self) -> tuple[np.ndarray, np.ndarray] | None:
        """A box to confirm, or None: from the latest failure inside a refused scanned box that
        waits (``offer``), else from the failure the other queries explain least (``anchor``)."""
        first = None
        x = None
        if self.refused:
            X, y = self.ctx.queried_failed()
            y = y & ~known_mask(self.ctx, X)
        while self.refused and x is None:
            r = self.refused.pop()
            inside = y & r.contains(X)
            if inside.any():
                x = X[np.nonzero(inside)[0][-1]]
                first = [int(d) for d in np.nonzero(self.ctx.characterizer.restricted(r.lo, r.hi))[0]]
        if x is None:
            x = self.anchor()
        if x is None:
            return None
        used = self.probed_at = self.ctx.used
        box = None
        self._line = {}
        try:
            dims = self.dims_that_matter(x, first or ())
            if dims:
                box = self.ctx.characterizer.snap(*self.fitted_box(x, dims))
                if not self.ctx.characterizer.restricted(*box).any():
                    box = None
        finally:
            self.spent += self.ctx.used - used
            self.probed.append(box if box is not None else self._near(x))
        return box
