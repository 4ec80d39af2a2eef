"""Failure modes read off the surrogate, then confirmed on fresh queries: how ``lse`` and ``marl``
turn everything they have queried into modes without growing each one from a single point.

Growing a region from a failing point (``boundary.py``) costs 150-250 queries in 20 dims: every
face is probed, every bounded dim screened and tested on points drawn for it. The surrogate
already knows most of that from the history. So:

1. **Propose** (``propose``): the surrogate's failure probability over a fixed uniform Monte
   Carlo sample of the space, the points inside known modes set aside, is covered by boxes
   grown one dim at a time (``greedy.greedy_boxes`` on the predicted probabilities: each step
   bounds the dim whose two-rate interval explains the predicted failures best; at most
   ``max_dims`` dims). A bound stays only if relaxing it lowers the box's predicted rate by at
   least ``min_drop`` of the box's excess over the space's predicted rate (every bound judged
   against the whole box); a box is tried only if its predicted rate is at least
   ``min_predicted``, it holds at least ``min_share`` of the space, and it is not the
   box that failed before (IoU at least 0.5 with a rejected one).

   Every ``scan_every`` queries, the queries outside known modes are also scanned for boxes
   on two or three dims whose queries fail more often than the rest (``scan.py``): a forest,
   which splits one dim at a time, does not see a mode that needs three dims at once. The first
   ``scan_limit`` of them are confirmed per scan, the scan's further boxes too while the scan's
   boxes have held at least ``scan_more`` of the time, and none while confirming them has cost
   more than ``scan_share`` of the queries so far. At the same scans, a known mode whose uniform
   queries fail less often than ``sharpen_below`` is cut on the one dim where they fail most
   (``scan.best_cut``, a bar from shuffled failures): a box confirmed on a wrong third dim holds
   a mode on two of its dims, half of it passes, and every query inside it is set aside, so the
   mode it holds is never proposed. The cut replaces the mode if it holds, with its own dim's
   bound mattering and its validated rate taking ``sharpen_gain`` off the share that passes.

   From ``anchor.start`` queries on, a failure that no known mode explains (the one the other
   queries explain least) is also probed: the model is asked which dims the mode around it
   bounds and where its faces lie (``anchor.py``), the one way to a pocket on three dims that
   neither the forest nor the scan proposes.
2. **Confirm** (``confirm``), on queries only, the surrogate decides nothing here: the box's
   failure rate from uniform points drawn inside it after it was fixed (the shared sequential
   validation, ``Characterizer.validate``: ``samples`` of them at most, and as many again when
   the box is still undecided and fails more often than the threshold by ``extend_margin``; a
   box whose earlier uniform queries already put it under the threshold is not proposed); then
   every bound must pass the shared test that relaxing it measurably lowers the real failure
   rate (``Characterizer.relaxation_matters``, fresh points beside the box; the narrowest
   bound, the cheapest to test, first). A bound that does not is dropped and the wider box
   validated again. If the wider box fails, its points, uniform over the dropped dims, lie
   beside the box: the dropped bounds are tested again with them, and the box is kept as
   proposed if they matter after all (a look at six points beside a box can miss a drop from
   0.8 to 0.3; realistic tuning landscapes 0-11, 600 queries, 4 seeds: ``lse`` recall 0.560
   vs 0.549). The scan's boxes are trimmed alike: its third dim is often an extension that a
   few queries happened to favour, and the scan's box on the other two is the mode (refused
   whole, as they used to be, ``lse`` recalled 0.500 on held-out landscapes 100-109 at 600
   queries; trimmed, 0.542). A confirmed box goes to the shared registry (merging with
   overlapping modes on the same or nested dims, unless the one on fewer dims fails like a
   mode outside the other: ``RegionRegistry.add``) and is reported with the same statistics as
   every other mode.

A mode costs about 8-16 fresh queries to validate (up to 32 where 16 leave it undecided) plus
6-12 per restricted dim, instead of a growth. Its faces are where the surrogate puts them, so
their accuracy is the surrogate's: the acquisition (``lse.py``) spends its queries near
predicted boundaries for that reason."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from examiner.search.anchor import AnchorProber, AnchorProbing
from examiner.search.context import SearchContext
from examiner.search.greedy import greedy_boxes
from examiner.search.proposer import known_mask
from examiner.search.regions import Region
from examiner.search.scan import ScanConfig, best_cut, scan_boxes


@dataclass(frozen=True)
class ModeFinding:
    mc_points: int = 4096  # uniform points the surrogate is read on
    max_dims: int = 3  # a proposed mode bounds at most this many dims
    hard: bool = True  # boxes cover the points predicted to fail (p >= 0.5), not the probabilities
    bins: int = 40  # bounds fall between this many equal bins per dim (finer than the resolution)
    min_share: float = 0.01  # ... and holds at least this share of the space
    min_predicted: float = 0.35  # a box is tried when its predicted rate is at least this (a forest's
    # probabilities are smoothed towards the base rate; a box that fails less costs ~8 queries)
    min_drop: float = 0.5  # a bound stays if relaxing it lowers the predicted excess rate by this share
    # (recall 0.55 on 12 tuning landscapes at 600 queries; 0.3: 0.53, 0.65: 0.51)
    check_dims: bool = True  # test every bound on fresh queries beside the box
    samples: int = 16  # fresh queries a proposal's validation draws first; a box still undecided then
    # is dropped (the surrogate, which has seen them, proposes a better one) ...
    extend_margin: float | None = 0.05  # ... unless it failed at least this much above the threshold:
    # then it draws up to as many again, never more than the search's ``--samples`` in all. A box a
    # little wider than a mode that fails 70% of the time is often still undecided at 16; in 24 traced
    # searches, 14 of the 28 boxes so extended held. Realistic tuning landscapes 0-11 at 600 queries,
    # ``lse``, 24 seeds: recall 0.593 against 0.581 (paired +0.012, standard error 0.007), and 0.598
    # (+0.017, 0.007) with ``_fails_less``; seeds 0-11 only: margin 0 0.595, 0.05 0.609, 0.1 0.595;
    # every undecided box given 32 points 0.556 against 0.589
    least: int = 8  # ... and decides on at least this many (12 measured worse: recall 0.49 vs 0.53)
    min_queries: int = 0  # no proposal before the search has made this many queries
    rejected_iou: float = 0.5  # a box this close to one that failed is not tried again ...
    retry_after: int = 150  # ... until this many more queries were made (0: never), twice as many after
    # each further failure
    scan: ScanConfig | None = field(default_factory=ScanConfig)  # boxes from the queries themselves
    # (``scan.py``: the modes on three dims at once a forest does not see); None: the surrogate's only
    scan_every: int = 64  # queries between two scans (32: recall 0.572 against 0.589 on realistic
    # tuning landscapes 0-11 at 600 queries, 12 seeds, paired standard error 0.012)
    scan_limit: int = 1  # of the scan's boxes confirmed after each scan at most (2: 0.571, paired
    # standard error 0.010), the highest likelihood ratio first (the highest lower bound of its
    # queries' rate first: 0.589 against 0.615 on realistic tuning landscapes 0-11 at 600 queries,
    # 12 seeds, -0.025, 0.008); a last scan once 64-192 queries are left, all of its boxes
    # confirmed: no better (+0.004 at most, 0.004; 192 left: -0.014, 0.006)
    scan_more: float = 0.3  # a scan's further boxes are confirmed too while the scan's boxes have held
    # this often ((held + 1) / (tried + 2)): on the realistic tuning landscapes 12% of the boxes after
    # a scan's first held (3 of 26, 12 searches), on six interior 2-dim boxes half; one box per scan
    # left most of those unconfirmed. ``lse``, 600 queries, against one box per scan: realistic tuning
    # landscapes 0-11, 24 seeds, 0.601 against 0.606 (paired -0.005, standard error 0.007); landscapes
    # 400-409 (``benchmarks/families.py``) of six 2-dim boxes a fifth of each range wide, 3 seeds,
    # 0.661 against 0.556 (+0.106, 0.043), of six 3-dim boxes, 2 seeds, 0.625 against 0.550 (+0.075,
    # 0.008). 0.5: realistic -0.004 (0.008), 2-dim boxes +0.044 (0.044); every box of every scan
    # (``scan_limit`` 3): realistic -0.011 (0.013, 12 seeds), 2-dim boxes +0.128 (0.034)
    scan_share: float = 0.2  # no scan while confirming its boxes has cost this share of the queries
    sharpen_below: float = 0.65  # at each scan, a known mode whose queries fail less often than this
    # is cut on one more dim where they fail more often (``scan.best_cut``); 0: never (realistic
    # landscapes 0-11, 600 queries: recall 0.51; 0.8: 0.48, every mode with a soft edge cut; 0: 0.52)
    sharpen_gain: float = 1 / 3  # ... and the cut replaces it if its validated rate leaves at most
    # 1 - this of the mode's share of passing queries (a cut of two pockets' mode may leave one and
    # a half: the next cut takes the half off)
    anchor: AnchorProbing | None = field(default_factory=AnchorProbing)  # probes of unexplained
    # failures (``anchor.py``: the dims of the mode around one, asked of the model); None: no probes


#: points spread inside a box to judge whether known modes hold it
COVER_POINTS = 256


def predicted_rate(p: np.ndarray, Z: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[float, int]:
    """(mean predicted failure probability, points) of the Monte Carlo points inside the box."""
    m = ((Z >= lo - 1e-12) & (Z <= hi + 1e-12)).all(1)
    return (float(p[m].mean()) if m.any() else 0.0), int(m.sum())


class ModeFinder:
    """Proposes modes from a fitted surrogate and confirms them in ``ctx`` (see the module
    docstring)."""

    def __init__(self, ctx: SearchContext, config: ModeFinding = ModeFinding()):
        self.ctx = ctx
        self.config = config
        rng = np.random.default_rng([ctx.seed, 7])
        self.Z = rng.uniform(-1.0, 1.0, (config.mc_points, ctx.dims))
        self.tried: list[Region] = []  # proposals that did not hold
        self.scanned_at = -config.scan_every  # ctx.used at the last scan
        self.scan_spent = 0  # queries spent confirming the scan's boxes
        self.scan_record = [0, 0]  # the scan's boxes that held, and that were tried
        self.cut_tried: dict[int, int] = {}  # mode id -> its uniform points when a cut of it failed
        self.prober = AnchorProber(ctx, config.anchor) if config.anchor is not None else None

    def propose(self, surrogate) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """Candidate boxes (lo, hi, predicted rate), the most probable first."""
        c, ch = self.config, self.ctx.characterizer
        p = surrogate.predict(self.Z)[0]
        free = ~known_mask(self.ctx, self.Z)
        if not (p[free] >= c.min_predicted).any():
            return []
        min_gain = 10.0 * len(self.Z) / 750.0  # the map's bar, for a sample of this size
        out = []
        labels = p[free] >= 0.5 if c.hard else p[free]
        for lo, hi in greedy_boxes(self.Z[free], labels, max_dims=c.max_dims, min_gain=min_gain,
                                   min_share=c.min_share, soft=not c.hard, bins=c.bins):
            lo, hi = self._prune(p, *ch.snap(lo, hi))
            rate, n = predicted_rate(p, self.Z, lo, hi)
            if rate >= c.min_predicted and n >= c.min_share * len(self.Z) and self._new(lo, hi):
                out.append((lo, hi, rate))
        return sorted(out, key=lambda t: -t[2])

    def _new(self, lo: np.ndarray, hi: np.ndarray) -> bool:
        """A box worth confirming: it bounds a dim, is not like one that failed (``_blocked``), its
        uniform queries do not already say it fails less often than a mode (``_fails_less``) and
        known modes do not hold most of it (``_covered``)."""
        if not self.ctx.characterizer.restricted(lo, hi).any() or self._blocked(Region(lo, hi)):
            return False
        return not self._fails_less(lo, hi) and not self._covered(lo, hi)

    def _fails_less(self, lo: np.ndarray, hi: np.ndarray) -> bool:
        """Whether the uniform queries already inside the box refute it (``Characterizer.refuted``
        on all of them: the upper bound of its failure rate under the threshold): its validation
        would refuse it, so it costs no query. The surrogate and the scan propose boxes where those
        queries failed often, so they rarely say so (most proposals that fail do so on their fresh
        points); when they do, it is on points no proposal chose."""
        return self.ctx.characterizer.refuted(Region(lo, hi))

    def _covered(self, lo: np.ndarray, hi: np.ndarray) -> bool:
        """Whether known modes hold more than half of the box (points spread uniformly inside it).
        Counting only the modes that bound one of the box's dims gave the same recall (0.615 on the
        tuning landscapes, paired +0.000, standard error 0.006)."""
        return bool(known_mask(self.ctx, lo + 0.5 * (self.Z[:COVER_POINTS] + 1.0) * (hi - lo)).mean() > 0.5)

    def _scan_holds(self) -> bool:
        """Whether the scan's boxes have held at least ``scan_more`` of the time (Laplace's rule:
        (held + 1) / (tried + 2))."""
        held, tried = self.scan_record
        return (held + 1) / (tried + 2) >= self.config.scan_more

    def due(self) -> bool:
        """Whether a scan is due: ``scan_every`` queries since the last one, and confirming the
        scan's boxes has cost at most ``scan_share`` of the queries (a failure region no box
        describes - an oblique boundary - would otherwise be scanned and refused again and
        again). Marks the scan as made."""
        c, ctx = self.config, self.ctx
        if c.scan is None or ctx.used - self.scanned_at < c.scan_every or self.scan_spent > c.scan_share * ctx.used:
            return False
        self.scanned_at = ctx.used
        return True

    def scanned(self) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """Boxes (lo, hi, likelihood ratio) where the queries outside known modes fail more often
        than the rest (``scan.scan_boxes``). Every known mode's queries are set aside, also on the
        pairs of dims it does not bound: kept there, its failures (dense where it was validated) are
        most likely structure the shuffled bars do not model (tuning recall 0.574 against 0.615,
        standard error 0.012)."""
        c, ctx = self.config, self.ctx
        X, y = ctx.queried_failed()
        free_x = ~known_mask(ctx, X)
        rng = np.random.default_rng([ctx.seed, 11, ctx.used])
        out = []
        for lo, hi, ratio in scan_boxes(X[free_x], y[free_x], rng, c.scan):
            lo, hi = ctx.characterizer.snap(lo, hi)
            if self._new(lo, hi):
                out.append((lo, hi, ratio))
        return out

    def sharpened(self) -> list[tuple[Region, np.ndarray, np.ndarray, int, float]]:
        """(mode, lo, hi, dim, rate): each known mode whose uniform queries fail less often than
        ``sharpen_below``, cut on the one dim (``dim``, one of its own or a new one) where its
        queries fail more often than the rest of it (``scan.best_cut``, in the mode's own
        coordinates; ``rate``: the mode's), tried again on a mode only once it holds half as many
        points again as when a cut of it failed. A box on a wrong third dim holds a mode on two of
        its dims and half of it fails; the mode it holds is then masked, as every point inside a
        known mode is."""
        c, ctx, ch = self.config, self.ctx, self.ctx.characterizer
        rng = np.random.default_rng([ctx.seed, 13, ctx.used])
        out = []
        for mode in list(ctx.registry.regions) if c.sharpen_below > 0 else []:
            X, y = ch.uniform_in(mode.lo, mode.hi)
            if not len(y) or y.mean() >= c.sharpen_below or len(y) < 1.5 * self.cut_tried.get(mode.id, 0):
                continue
            width = np.maximum(mode.hi - mode.lo, 1e-12)
            cut = best_cut(2.0 * (X - mode.lo) / width - 1.0, y, rng, c.scan)
            if cut is None:
                continue
            d, a, b = cut
            lo, hi = mode.lo.copy(), mode.hi.copy()
            lo[d], hi[d] = mode.lo[d] + 0.5 * (a + 1.0) * width[d], mode.lo[d] + 0.5 * (b + 1.0) * width[d]
            lo, hi = ch.snap(lo, hi)
            if not self._blocked(Region(lo, hi)):
                out.append((mode, lo, hi, d, float(y.mean())))
        return out

    def _blocked(self, box: Region) -> bool:
        """A box like k that failed (IoU at least ``rejected_iou``): not tried again until
        ``retry_after`` times 2^(k-1) more queries have been made since the last of them (a
        search of n queries retries a box at most about log2(n / retry_after) times; a box the
        queries point to ever more clearly is never given up for good)."""
        c = self.config
        like = [r for r in self.tried if box.iou(r) >= c.rejected_iou]
        if not like:
            return False
        wait = c.retry_after * 2 ** (len(like) - 1)
        return not c.retry_after or self.ctx.used - max(r.found_at for r in like) < wait

    def _prune(self, p: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The box without the bounds whose relaxation barely matters to the surrogate: relaxing
        a kept bound lowers the predicted rate by at least ``min_drop`` of the box's excess over
        the space's predicted rate. Every bound is judged against the whole box, once: judged
        one after another, a box the forest smears (0.6 inside, 0.3 around) loses every bound."""
        ch = self.ctx.characterizer
        rate, _ = predicted_rate(p, self.Z, lo, hi)
        excess = rate - float(p.mean())
        wlo, whi = lo.copy(), hi.copy()
        for d in np.nonzero(ch.restricted(lo, hi))[0]:
            rlo, rhi = lo.copy(), hi.copy()
            rlo[d], rhi[d] = -1.0, 1.0
            if rate - predicted_rate(p, self.Z, rlo, rhi)[0] < self.config.min_drop * excess:
                wlo[d], whi[d] = -1.0, 1.0
        return wlo, whi

    def confirm(self, lo: np.ndarray, hi: np.ndarray, owner: str, required: tuple[int, ...] = (),
                at_least: float = 0.0, check_dims: bool | None = None) -> Region | None:
        """The box as a registered mode, or None (remembered so it is not proposed again). A
        bound that does not matter is dropped (the box without it is validated), unless it is
        one of ``required``: that refuses the box, and so does a validated rate under
        ``at_least``. ``check_dims``: whether the bounds are tested (the config's by default)."""
        ctx, ch, c = self.ctx, self.ctx.characterizer, self.config
        extend = None if c.extend_margin is None else ctx.validation.threshold + c.extend_margin

        def holds(region: Region) -> bool:
            return ctx.validate(region, c.samples, c.least, extend) and region.failure_rate >= at_least

        def refuse(box: Region) -> None:
            box.found_at = ctx.used
            self.tried.append(box)

        region = Region(lo, hi, owner=owner, fixed_at=len(ctx.history))
        if not holds(region):
            return refuse(region)
        if self.config.check_dims if check_dims is None else check_dims:
            # the narrowest bound first (the cheapest to test); a required bound that does not
            # matter refuses the box, and the others need not be tested
            bounded = [int(d) for d in np.nonzero(ch.restricted(lo, hi))[0]]
            keep = []
            for d in sorted(bounded, key=lambda d: hi[d] - lo[d]):
                if ch.relaxation_matters(lo, hi, [d]):
                    keep.append(d)
                elif d in required:
                    break
            if len(keep) < len(bounded):
                if not keep or not set(required) <= set(keep):
                    return refuse(region)
                wlo, whi = -np.ones_like(lo), np.ones_like(hi)
                wlo[keep], whi[keep] = lo[keep], hi[keep]
                boxed, region = region, Region(wlo, whi, owner=owner, fixed_at=len(ctx.history))
                if not holds(region):
                    # the wider box fails less often: its points, uniform in it, lie beside the
                    # box on the dropped dims, so those bounds are tested again with them
                    if not all(ch.relaxation_matters(lo, hi, [d]) for d in bounded if d not in keep):
                        return refuse(boxed)
                    region = boxed
        return ctx.accept(region)

    def find(self, surrogate, owner: str, limit: int = 2) -> list[Region]:
        """Propose and confirm up to ``limit`` modes from the surrogate, when a scan is due its
        first ``scan_limit`` boxes and the rest while its boxes hold (``scan_more``), when a probe
        is due the box it proposes (its bounds not relaxed again: the probe tested each), and
        every sharpened mode (which replaces the mode it was cut from if it holds); returns the
        ones that held. A proposal that modes confirmed meanwhile hold most of is skipped
        (``_covered``, on points spread inside it). It used to be judged on its centre and low
        corner, which take the middle and the low end of every dim the box leaves free and so can
        lie in known modes on other dims: 4 of 396 proposals in 24 tuning searches were skipped
        so, one of them a corner mode the scan had found with a likelihood ratio of 56."""
        ctx = self.ctx
        found = []
        if ctx.used < self.config.min_queries:
            return found
        due = self.due()
        proposals = [(lo, hi, None) for lo, hi, _ in self.propose(surrogate)[:limit]]
        proposals += [(lo, hi, k) for k, (lo, hi, _) in enumerate(self.scanned() if due else [])]
        for lo, hi, scanned in proposals:
            if scanned is not None and scanned >= self.config.scan_limit and not self._scan_holds():
                break  # the scan's further boxes: only while its boxes have held often enough
            if self._covered(lo, hi):
                continue  # modes confirmed meanwhile hold most of it
            used = ctx.used
            region = self.confirm(lo, hi, owner)
            if scanned is not None:
                self.scan_spent += ctx.used - used
                self.scan_record[0] += region is not None
                self.scan_record[1] += 1
                if region is None and self.prober is not None:
                    self.prober.offer(self.tried[-1])
            if region is not None:
                found.append(region)
        if self.prober is not None and self.prober.due():
            box = self.prober.probe()
            if box is not None:
                used = ctx.used
                region = self.confirm(*box, owner, check_dims=False)
                self.prober.spent += ctx.used - used
                if region is not None:
                    found.append(region)
        for mode, lo, hi, d, rate in self.sharpened() if due else []:
            used, at = ctx.used, ctx.registry.remove(mode)
            if at is None:
                continue  # a cut confirmed meanwhile took its place
            at_least = 1.0 - (1.0 - self.config.sharpen_gain) * (1.0 - rate)
            region = self.confirm(lo, hi, owner, required=(d,), at_least=at_least)
            self.scan_spent += ctx.used - used
            if region is None:
                ctx.registry.restore(at, mode)
                self.cut_tried[mode.id] = len(ctx.characterizer.uniform_in(mode.lo, mode.hi)[1])
            else:
                self.tried.append(Region(mode.lo, mode.hi, found_at=ctx.used))
                found.append(region)
        return found
