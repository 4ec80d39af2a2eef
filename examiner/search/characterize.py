"""What a failure mode is, the same for every strategy: a box that restricts only the dims that
matter, with its failure rate (and interval), the space's base rate, lift and coverage.

A strategy hands over a failing point; ``grow_region`` (boundary.py) turns it into a mode:

1. **confirm**: a few fresh points close to it; if none fails, it was a sporadic failure (real
   models miss a few easy images everywhere) and nothing is grown from it.
2. **grow**: a first box from the point (bracketing each face along its own axis).
3. **describe** (``Characterizer.describe``): the box relaxed along a group of its bounded dims to
   their full range is compared with the box; if the added part does not fail measurably less
   often (a one-sided two-proportion test at ``z`` and a drop of at least ``min_drop`` of the
   box's rate; both rates without the points of modes already registered, whose failures say
   nothing of this box's bounds) every dim of the group is free, else the group is split in two
   and each half looked at (group screening: most bounded dims of a first box do not matter). For
   a dim that stays, both bounds are placed where the failure rate changes: the interval along
   that dim that maximizes the likelihood of a two-rate Bernoulli model over every point in the
   relaxed box (the history's and fresh points near each face, rates.py). A cut is resolved where
   it is uncertain (fresh points spread around it where its neighbouring points lie far apart or
   where it moved away from the face tried before), and a face moves to the edge of the range when
   the points between them do not fail measurably less often. No bound is narrower than
   ``resolution``, a bound within half of it of the space's edge is the edge, one spanning
   ``free_share`` of the range is no bound, and a categorical dim is bounded at whole choices.
4. **validate**: the failure rate inside is estimated from uniform queries inside the box made
   after its bounds were placed (those that placed them would flatter it: a box fitted to
   points fails more often on them than on new ones) plus fresh uniform samples, drawn in small
   rounds only until the ``z`` lower confidence bound clears the threshold or the upper one
   falls below it.

Points a box was grown from (the growth probes) decided where its faces lie, so they fail by
construction: no estimate uses them ("blind" points only). Everything a strategy queried counts,
since a point is chosen before its result is known.

This differs from PRIM (which peels a box from a fixed sample): the search decides where to
sample, so each test is run on points drawn for it where the history has too few, and every
kept dim must pass a significance test (PRIM keeps any peel that raises the mean; ``examiner
map``, where the sample is uniform and fixed, starts from PRIM's boxes and then applies the
same tests)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from examiner.search.mode_statistics import mode_statistics
from examiner.search.rates import best_interval, drop_is_significant, to_the_edges, wilson
from examiner.search.regions import Region


#: no failure rate is decided on fewer uniform points
MIN_SAMPLES = 8


@dataclass(frozen=True)
class Characterization:
    resolution: float = 0.1  # narrowest bound, normalized units (5% of a dim's range)
    free_share: float = 0.9  # a bound spanning this share of a dim's range is no bound
    confirm: int = 4  # fresh points near a failure before a region is grown from it
    confirm_radius: float = 0.06  # ... within this half-width (normalized units)
    inside: int = 8  # points inside a box its rate is compared on (history first)
    beside: int = 6  # points in the part a relaxed dim adds (history first)
    per_face: int = 4  # fresh points near each face of a dim that stays bounded
    z: float = 1.2816  # one-sided 90%: validation
    z_fit: float = 1.6449  # one-sided 95%: a bound placed on the same points it is tested on
    min_drop: float = 0.3  # relaxing a dim that matters lowers the rate by at least this share
    passes: int = 2
    gap_rounds: int = 1  # times a cut between far-apart points is resolved with fresh points


class Characterizer:
    """Describes and validates failure modes over a search context's history (see the module
    docstring). ``categorical``: per dim, the number of choices (0 for continuous dims)."""

    def __init__(self, ctx, config: Characterization = Characterization()):
        self.ctx = ctx
        self.config = config
        self.choices = np.array(ctx.choices, dtype=np.int64)
        #: when a list: every bound's test, (dim, failures inside, points inside, failures beside,
        #: points beside, kept), for inspection
        self.trace: list | None = None
        self._held_out: dict = {}

    # --- geometry ---------------------------------------------------------------------------
    def restricted(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """(D,) bool: the dims a box bounds."""
        return (hi - lo) < 2.0 * self.config.free_share - 1e-9

    def snap(self, lo: np.ndarray, hi: np.ndarray, centre: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Bounds no narrower than the resolution, at the edge when close to it, free when wide,
        whole choices for categorical dims."""
        c = self.config
        lo, hi = lo.astype(np.float64).copy(), hi.astype(np.float64).copy()
        mid = 0.5 * (lo + hi) if centre is None else centre
        narrow = hi - lo < c.resolution
        lo[narrow] = np.clip(mid[narrow] - c.resolution / 2, -1.0, 1.0 - c.resolution)
        hi[narrow] = lo[narrow] + c.resolution
        lo[lo < -1.0 + c.resolution / 2] = -1.0
        hi[hi > 1.0 - c.resolution / 2] = 1.0
        for d in np.nonzero(self.choices)[0]:
            k = self.choices[d]
            lo[d] = -1.0 + 2.0 * np.floor((lo[d] + 1.0) / 2.0 * k + 1e-9) / k
            hi[d] = -1.0 + 2.0 * np.ceil((hi[d] + 1.0) / 2.0 * k - 1e-9) / k
            hi[d] = max(hi[d], lo[d] + 2.0 / k)
        free = ~self.restricted(lo, hi)
        lo[free], hi[free] = -1.0, 1.0
        return lo, hi

    # --- data ---------------------------------------------------------------------------------
    def inside(self, X: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return ((X >= lo - 1e-12) & (X <= hi + 1e-12)).all(1)

    def uniform_in(self, lo: np.ndarray, hi: np.ndarray, along: int | None = None,
                    since: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(X, failed) of the blind points inside the box that were drawn uniformly from a box
        holding it: a uniform sample of it, whatever else the search queried. With ``along``,
        the support may be narrower along that dim (the points are then uniform over the other
        dims at each value of it). ``since``: only queries from that history index on."""
        X, y, S, index = self.ctx.blind()
        if not len(X):
            return X, y
        cover = (S[:, 0] <= lo + 1e-12) & (S[:, 1] >= hi - 1e-12)
        if along is not None:
            cover[:, along] = True
        m = cover.all(1) & self.inside(X, lo, hi) & (index >= since)
        return X[m], y[m]

    def _fill(self, lo: np.ndarray, hi: np.ndarray, want: int) -> None:
        """Query fresh uniform points until the box holds ``want`` uniform ones."""
        have = len(self.uniform_in(lo, hi)[1])
        if have < want:
            self.ctx.evaluate_vectors(self.ctx.rng.uniform(lo, hi, (want - have, len(lo))), support=(lo, hi))

    def counts(self, lo: np.ndarray, hi: np.ndarray, exclude: tuple | None = None, since: int = 0,
               unexplained: bool = False) -> tuple[int, int]:
        """(failures, points) of the uniform sample of the box, minus those inside ``exclude``
        and, with ``unexplained``, those inside the modes already registered."""
        X, y = self.uniform_in(lo, hi, since=since)
        keep = np.ones(len(y), dtype=bool)
        if exclude is not None and len(X):
            keep &= ~self.inside(X, *exclude)
        for r in self.ctx.registry.regions if unexplained and len(X) else []:
            keep &= ~r.contains(X)
        return int(y[keep].sum()), int(keep.sum())

    # --- the steps ----------------------------------------------------------------------------
    def confirm(self, x0: np.ndarray) -> bool:
        """A failure is worth growing when one of a few fresh points next to it fails too."""
        c = self.config
        if c.confirm <= 0:
            return True
        r = c.confirm_radius
        lo, hi = np.clip(x0 - r, -1, 1), np.clip(x0 + r, -1, 1)
        qs = self.ctx.evaluate_vectors(self.ctx.rng.uniform(lo, hi, (c.confirm, len(x0))), support=(lo, hi))
        if any(q.failed for q in qs):
            return True
        self.ctx.rejected.append(Region(np.clip(x0 - r, -1, 1), np.clip(x0 + r, -1, 1)))
        return False

    def describe(self, lo: np.ndarray, hi: np.ndarray, x0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The box restricted to the dims that matter, with bounds where the rate changes."""
        c = self.config
        lo, hi = self.snap(np.minimum(lo, x0), np.maximum(hi, x0), centre=x0)
        lo, hi = self._screen(lo, hi)
        for _ in range(c.passes):
            before = (lo.copy(), hi.copy())
            # the dims least likely to matter first: the widest bounds
            for d in sorted(np.nonzero(self.restricted(lo, hi))[0], key=lambda d: -(hi[d] - lo[d])):
                wide_lo, wide_hi = lo.copy(), hi.copy()
                wide_lo[d], wide_hi[d] = -1.0, 1.0
                beside = max(1.0 - (hi[d] - lo[d]) / 2.0, 0.05)  # share of the relaxed box outside the box
                # where along d the rate changes: the two-rate interval over points uniform in
                # the box's other dims (more of them, and some near each face)
                self._near_faces(lo, hi, d)  # each pass: the faces have moved
                self._fill(wide_lo, wide_hi, int(np.ceil(2 * c.beside / beside)))
                # the interval is chosen to separate these points, so it is tested on fresh ones
                # beyond it (sequentially: twice as many before a bound is kept); when those
                # fail too, the interval is fitted again with them (it was too tight) and tested
                # once more
                matters, tried = False, set()
                for _attempt in range(2):
                    a, b, X, y = self._resolved_interval(lo, hi, d)
                    if (round(a, 9), round(b, 9)) in tried:
                        break
                    tried.add((round(a, 9), round(b, 9)))
                    inside = (X[:, d] >= a) & (X[:, d] <= b)
                    k_in, n_in = int(y[inside].sum()), int(inside.sum())
                    for level in (1, 2):
                        k_out, n_out = self._beyond(lo, hi, d, a, b, level * c.beside)
                        matters = drop_is_significant(k_in, n_in, k_out, n_out, c.z, c.min_drop)
                        if not matters or n_out == 0:
                            break
                    if matters:
                        break
                self._record(d, k_in, n_in, k_out, n_out, matters)
                if not matters:
                    lo, hi = wide_lo, wide_hi
                    continue
                lo, hi = lo.copy(), hi.copy()
                lo[d], hi[d] = a, b
                lo, hi = self.snap(lo, hi)
            if np.allclose(before[0], lo) and np.allclose(before[1], hi):
                break
        return lo, hi

    def _resolved_interval(self, lo: np.ndarray, hi: np.ndarray, d: int) -> tuple[float, float, np.ndarray, np.ndarray]:
        """(a, b, X, failed): the two-rate interval along dim d over the points uniform in the
        box's other dims, each cut resolved with fresh points: a cut falls halfway between the
        points on either side of it, so where they lie more than the resolution apart (the
        points crowd near the faces tried before), or where the cut moved away from the face
        it had, ``per_face`` points spread over its neighbourhood are queried and the interval
        fitted again (``gap_rounds`` times at most). Then each face goes to the edge of the
        range unless the points beyond it fail measurably less often (``to_the_edges``)."""
        c = self.config
        wide_lo, wide_hi = lo.copy(), hi.copy()
        wide_lo[d], wide_hi[d] = -1.0, 1.0
        faces = (lo[d], hi[d])
        for round_ in range(c.gap_rounds + 1):
            X, y = self.uniform_in(wide_lo, wide_hi, along=d)
            a, b = best_interval(X[:, d], y, min_inside=max(3, c.inside // 2))
            if round_ == c.gap_rounds or not len(X):
                break
            bands = []
            for cut, face in zip((a, b), faces):
                if cut <= -1.0 or cut >= 1.0:
                    continue
                below, above = X[X[:, d] < cut, d], X[X[:, d] > cut, d]
                g_lo = below.max() if len(below) else -1.0
                g_hi = above.min() if len(above) else 1.0
                if g_hi - g_lo > c.resolution or abs(cut - face) > c.resolution / 2:
                    bands.append((max(-1.0, min(g_lo, cut - c.resolution)), min(1.0, max(g_hi, cut + c.resolution))))
            if not bands:
                break
            faces = (a, b)
            for g_lo, g_hi in bands:
                band_lo, band_hi = lo.copy(), hi.copy()
                band_lo[d], band_hi[d] = g_lo, g_hi
                P = self.ctx.rng.uniform(band_lo, band_hi, (c.per_face, len(lo)))
                # spread along d: one point in each of per_face equal parts of the band
                P[:, d] = g_lo + (g_hi - g_lo) * (np.arange(c.per_face) + self.ctx.rng.uniform(0, 1, c.per_face)) / c.per_face
                self.ctx.evaluate_vectors(P, support=(band_lo, band_hi))
        if len(X):
            a, b = to_the_edges(X[:, d], y, a, b, c.z, c.min_drop)
        return a, b, X, y

    def relaxation_matters(self, lo: np.ndarray, hi: np.ndarray, group: list[int]) -> bool:
        """Relaxing every dim of ``group`` at once measurably lowers the failure rate that no
        registered mode explains."""
        c = self.config
        wide_lo, wide_hi = lo.copy(), hi.copy()
        wide_lo[group], wide_hi[group] = -1.0, 1.0
        beside = max(1.0 - float(np.prod((hi[group] - lo[group]) / 2.0)), 0.05)  # share outside the box
        self._fill(lo, hi, c.inside)
        k_in = n_in = k_out = n_out = 0
        matters = False
        for level in (1, 2):  # a drop seen on few points is checked on twice as many
            self._fill(wide_lo, wide_hi, int(np.ceil(level * c.beside / beside)))
            k_in, n_in = self.counts(lo, hi, unexplained=True)
            k_out, n_out = self.counts(wide_lo, wide_hi, exclude=(lo, hi), unexplained=True)
            matters = drop_is_significant(k_in, n_in, k_out, n_out, c.z, c.min_drop)
            if not matters:
                break
        if len(group) == 1:
            self._record(group[0], k_in, n_in, k_out, n_out, matters)
        return matters

    def _screen(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Group screening of the bounded dims: relax a group at once; if the rate does not
        drop, every dim in it is free, else split it in two and look at each half. With k dims
        that matter among n bounded, about k log2(n) looks instead of n."""
        groups = [sorted(np.nonzero(self.restricted(lo, hi))[0].tolist(), key=lambda d: -(hi[d] - lo[d]))]
        kept: list[int] = []
        while groups:
            group = groups.pop()
            if not group:  # a box that bounds nothing (or an empty half): nothing to screen
                continue
            if self.relaxation_matters(lo, hi, group):
                if len(group) == 1:
                    kept += group
                else:
                    groups += [group[len(group) // 2:], group[: len(group) // 2]]
                continue
            lo, hi = lo.copy(), hi.copy()
            lo[group], hi[group] = -1.0, 1.0
        return lo, hi

    def _beyond(self, lo: np.ndarray, hi: np.ndarray, d: int, a: float, b: float, want: int) -> tuple[int, int]:
        """(failures, points) of fresh points uniform over the box's other dims with dim d
        outside [a, b], ``want`` of them in all (those drawn before for the same cut count)."""
        key = (tuple(np.round(lo, 9)), tuple(np.round(hi, 9)), d, round(a, 9), round(b, 9))
        k, n = self._held_out.get(key, (0, 0))
        below, above = a + 1.0, 1.0 - b
        if n < want and below + above > 1e-9:
            rng = self.ctx.rng
            P = rng.uniform(lo, hi, (want - n, len(lo)))
            u = rng.uniform(0.0, below + above, want - n)
            P[:, d] = np.where(u < below, -1.0 + u, b + (u - below))
            sup_lo, sup_hi = lo.copy(), hi.copy()
            sup_lo[d] = sup_hi[d] = np.nan  # uniform along d only beyond the cut: no box estimate uses them
            qs = self.ctx.evaluate_vectors(P, support=(sup_lo, sup_hi))
            k, n = k + sum(bool(q.failed) for q in qs if q.graded), n + sum(q.graded for q in qs)
            self._held_out[key] = (k, n)
        return k, n

    def _near_faces(self, lo: np.ndarray, hi: np.ndarray, d: int) -> None:
        """``per_face`` fresh points across each face of dim d that is not the space's edge."""
        c = self.config
        for face in (lo[d], hi[d]):
            if face <= -1.0 or face >= 1.0:
                continue
            band = max(c.resolution, 0.25 * (hi[d] - lo[d]))
            band_lo, band_hi = lo.copy(), hi.copy()
            band_lo[d], band_hi[d] = max(-1.0, face - band), min(1.0, face + band)
            self.ctx.evaluate_vectors(self.ctx.rng.uniform(band_lo, band_hi, (c.per_face, len(lo))),
                                      support=(band_lo, band_hi))

    def _record(self, d: int, k_in: int, n_in: int, k_out: int, n_out: int, kept: bool) -> None:
        if self.trace is not None:
            self.trace.append((int(d), k_in, n_in, k_out, n_out, bool(kept)))

    def validate(self, region: Region, samples: int | None = None, least: int = MIN_SAMPLES,
                 extend_above: float | None = None) -> bool:
        """Sequential: the history inside first, then fresh uniform samples in small rounds,
        until the lower confidence bound clears the threshold or the upper one falls below
        (at most ``samples`` fresh ones, the search's ``--samples`` by default; the rate is
        decided on at least ``least`` points). A box still undecided after ``samples`` that fails
        at least ``extend_above`` of the time draws as many again, within ``--samples``."""
        full = self.ctx.validation.samples
        cap = full if samples is None else min(samples, full)
        fresh, step = 0, max(4, cap // 4)
        while True:
            k, n = self.counts(region.lo, region.hi, since=region.fixed_at)
            ok = self._verdict(k, n, least)
            if ok is not None:
                break
            if fresh >= cap and extend_above is not None and cap < full and n and k / n >= extend_above:
                cap, extend_above = min(2 * cap, full), None
            if fresh >= cap:
                ok = False
                break
            take = min(step, cap - fresh)
            self.ctx.evaluate_vectors(region.sample(self.ctx.rng, take), support=(region.lo, region.hi))
            fresh += take
        region.failure_rate = round(k / n, 4) if n else 0.0
        region.validated_samples = n
        region.fresh_samples = fresh
        return ok

    def _verdict(self, k: int, n: int, least: int) -> bool | None:
        """On k failures of n points (at least ``least``): True when the lower ``z`` bound of the
        rate clears the threshold, False when the upper one is under it, else None."""
        if n < least:
            return None
        low, high = wilson(k, n, self.config.z)
        threshold = self.ctx.validation.threshold
        return True if low >= threshold else False if high < threshold else None

    def fails_outside(self, region: Region, other: Region, samples: int = 16) -> bool:
        """Whether the box's uniform points outside ``other`` fail like a mode on their own (the
        validation's verdict; fresh uniform points in the box, at most ``samples``, while it is
        undecided): two overlapping modes, not a slice of ``other``. False, with no query, when
        ``other`` covers three quarters of the box."""
        if region.intersection(other) > 0.75 * region.volume:
            return False
        fresh = 0
        while True:
            ok = self._verdict(*self.counts(region.lo, region.hi, exclude=(other.lo, other.hi)), MIN_SAMPLES)
            if ok is not None or fresh >= samples:
                return bool(ok)
            self.ctx.evaluate_vectors(region.sample(self.ctx.rng, 4), support=(region.lo, region.hi))
            fresh += 4

    def refuted(self, region: Region) -> bool:
        """Whether the uniform points drawn in the box since it was fixed (at least
        ``MIN_SAMPLES``) say its rate is below the threshold: the upper ``z`` bound under it. A
        mode confirmed on a lucky run of failures can be refuted by the points drawn later."""
        return self._verdict(*self.counts(region.lo, region.hi, since=region.fixed_at), MIN_SAMPLES) is False

    # --- statistics for the report ----------------------------------------------------------
    def statistics(self, region: Region) -> dict:
        """Failure rate and 95% interval over the uniform points inside drawn after the box was
        fixed, the base rate, lift, coverage and the restricted dims ranked by how much each
        matters."""
        ctx = self.ctx
        k, n = self.counts(region.lo, region.hi, since=region.fixed_at)
        # the base rate (what ``ctx.base_counts`` counts) and coverage (the share of all failures
        # the mode holds), from the whole space's uniform points read once; coverage, where they
        # hold too few failures, is the mode's volume times its rate over the base rate
        Xu, yu = ctx.whole_space()
        base = float(yu.mean()) if len(yu) else None
        if len(Xu) and yu.sum() >= 20:
            coverage = float((self.inside(Xu, region.lo, region.hi) & yu.astype(bool)).sum() / yu.sum())
        else:
            coverage = min(1.0, region.volume * (k / n if n else 0.0) / base) if base else None
        return mode_statistics(ctx.space.names, region, self.restricted(region.lo, region.hi),
                               lambda lo, hi: self.counts(lo, hi, since=region.fixed_at), base, coverage)

