"""Failure regions: axis-aligned boxes over the searched dims, held in the normalized space
[-1, 1]^D that agents act in and reported in named physical units. A region is reported only
after validation: samples drawn uniformly inside it fail at a high enough rate."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from synthgen.catalog import Categorical
from synthgen.space import ParamSpace


@dataclass
class Region:
    lo: np.ndarray  # (D,) normalized lower corner
    hi: np.ndarray  # (D,) normalized upper corner
    id: int = -1
    failure_rate: float | None = None  # validated failure rate (None: not validated yet)
    validated_samples: int = 0
    examples: list = field(default_factory=list)  # query ids of failing samples inside
    owner: str = ""  # the agent / strategy that found it
    found_at: int = 0  # queries used when it was validated
    fresh_samples: int = 0  # fresh queries its validation drew (the rest came from the history)
    stats: dict = field(default_factory=dict)  # rate, interval, base rate, lift, coverage, restricted dims
    #: queries made before this many history entries helped place the box: its failure rate is
    #: estimated on later ones only (a box fitted to points looks better on them than it is)
    fixed_at: int = 0

    def __post_init__(self):
        self.lo = np.asarray(self.lo, dtype=np.float64)
        self.hi = np.asarray(self.hi, dtype=np.float64)
        if self.lo.shape != self.hi.shape or (self.lo > self.hi).any():
            raise ValueError("a region needs lo <= hi in every dim")

    @classmethod
    def around(cls, x: np.ndarray, half_width: float | np.ndarray, **kw) -> "Region":
        x = np.asarray(x, dtype=np.float64)
        return cls(np.clip(x - half_width, -1, 1), np.clip(x + half_width, -1, 1), **kw)

    @property
    def center(self) -> np.ndarray:
        return 0.5 * (self.lo + self.hi)

    @property
    def volume(self) -> float:
        """Fraction of the whole searched space that the box covers."""
        return float(np.prod((self.hi - self.lo) / 2.0))

    def contains(self, x: np.ndarray, margin: float = 0.0) -> bool | np.ndarray:
        """x lies in the box grown by ``margin`` (normalized units) on every side."""
        x = np.asarray(x)
        pad = margin + 1e-12
        return ((x >= self.lo - pad) & (x <= self.hi + pad)).all(-1)

    def contains_region(self, other: "Region") -> bool:
        return bool((self.lo <= other.lo + 1e-12).all() and (self.hi >= other.hi - 1e-12).all())

    def intersection(self, other: "Region") -> float:
        side = np.clip(np.minimum(self.hi, other.hi) - np.maximum(self.lo, other.lo), 0, None)
        return float(np.prod(side / 2.0))

    def iou(self, other: "Region") -> float:
        inter = self.intersection(other)
        union = self.volume + other.volume - inter
        return inter / union if union > 0 else 0.0

    def distance(self, x: np.ndarray) -> float:
        """Euclidean distance (normalized units) from x to the box (0 inside)."""
        d = np.maximum(np.maximum(self.lo - x, 0), np.maximum(x - self.hi, 0))
        return float(np.linalg.norm(d))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self.lo, self.hi, size=(n, len(self.lo)))

    def named(self, space: ParamSpace) -> dict:
        """Bounds and centre in physical units for continuous dims (categorical dims: the
        choices the box covers)."""
        lo, hi = space.from_vector(self.lo), space.from_vector(self.hi)
        c = space.from_vector(self.center)
        bounds, center = {}, {}
        for d in space.dims:
            if isinstance(d, Categorical):
                k = len(d.choices)
                i0 = min(int((self.lo[space.names.index(d.name)] + 1) / 2 * k), k - 1)
                i1 = min(int((self.hi[space.names.index(d.name)] + 1) / 2 * k), k - 1)
                bounds[d.name] = list(d.choices[i0:i1 + 1])
                center[d.name] = c[d.name]
            else:
                bounds[d.name] = [round(lo[d.name], 4), round(hi[d.name], 4)]
                center[d.name] = round(c[d.name], 4)
        return {"bounds": bounds, "center": center}

    def to_dict(self, space: ParamSpace) -> dict:
        return {"id": self.id, **self.named(space), "failure_rate": self.failure_rate,
                "validated_samples": self.validated_samples, "fresh_samples": self.fresh_samples, "volume": self.volume,
                **self.stats,
                "examples": list(self.examples), "owner": self.owner, "found_at_query": self.found_at,
                "normalized": {"lo": self.lo.round(6).tolist(), "hi": self.hi.round(6).tolist()}}


class RegionRegistry:
    """The validated regions found so far, shared by every agent of a search. Adding a region
    that duplicates one already held (IoU above ``merge_iou``, one box inside the other, or
    either box holding the other's centre) keeps the larger box."""

    def __init__(self, merge_iou: float = 0.5):
        self.merge_iou = merge_iou
        self.regions: list[Region] = []
        self._next_id = 0

    def __len__(self) -> int:
        return len(self.regions)

    def add(self, region: Region, restricted=None, hull_holds=None, touch: float = 0.0,
            stands_alone=None) -> Region:
        """Returns the region kept (the new one, or the existing duplicate, enlarged if the new
        one is bigger). With ``restricted`` (a box -> (D,) bool of the dims it bounds), a region
        that overlaps one held and bounds the same dims (or a subset or superset of them) is the
        same mode: the two become their hull (free in a dim either leaves free) if
        ``hull_holds(hull)`` (no check when None). Where the hull fails:

        - if ``stands_alone(fewer, more)`` (no check when None) says the points of the one on
          fewer dims fail like a mode outside the other, both are modes, two that overlap
          (BlazePose: a high view and a far, short body, first confirmed as one box on the dims
          of both where they meet, which then swallowed every later proposal of either; on the
          realistic tuning landscapes, where it is rare, ``lse`` recalled 0.588 against 0.586);
        - else the one that bounds more dims stands for the mode (the new one takes the held
          one's id) if it fails at least as often: the fewer dims are too few to say the mode,
          as in a slice of a two-dim interaction that leaves its second dim free. A looser box
          with an extra dim that fails less often leaves the held mode as it was (BlazePose: a
          far, short body replaced by such a box, which the end of the search then withdrew).

        ``touch``: boxes this close (normalized units, in every dim) count as overlapping - two
        halves of one mode, each found where the other was already known, are one mode."""
        if restricted is not None:
            mine = restricted(region.lo, region.hi)
            for i, r in enumerate(self.regions):
                theirs = restricted(r.lo, r.hi)
                nested = (mine <= theirs).all() or (theirs <= mine).all()
                if nested and Region(r.lo - touch, r.hi + touch).intersection(region) > 0:
                    hull = Region(np.minimum(r.lo, region.lo), np.maximum(r.hi, region.hi), fixed_at=region.fixed_at)
                    if hull_holds is None or hull_holds(hull):
                        r.lo, r.hi, r.fixed_at = hull.lo, hull.hi, hull.fixed_at
                        r.failure_rate, r.validated_samples = hull.failure_rate or r.failure_rate, hull.validated_samples
                    elif stands_alone is not None and mine.sum() != theirs.sum() and (
                            stands_alone(region, r) if mine.sum() < theirs.sum() else stands_alone(r, region)):
                        continue
                    elif mine.sum() > theirs.sum() and (region.failure_rate or 0.0) >= (r.failure_rate or 0.0):
                        # the one held said this mode in fewer dims than it needs (and fails less often)
                        region.id = r.id
                        region.examples = list(dict.fromkeys(r.examples + region.examples))
                        self.regions[i] = region
                        return region
                    r.examples = list(dict.fromkeys(r.examples + region.examples))
                    return r
        for i, r in enumerate(self.regions if restricted is None else []):  # without dims: by geometry
            if self.duplicates(r, region):
                if region.volume > r.volume:
                    region.id = r.id
                    region.examples = list(dict.fromkeys(r.examples + region.examples))
                    self.regions[i] = region
                    return region
                r.examples = list(dict.fromkeys(r.examples + region.examples))
                return r
        region.id = self._next_id
        self._next_id += 1
        self.regions.append(region)
        return region

    def remove(self, region: Region) -> int | None:
        """Takes a region out (while a narrower one is tried in its place); returns where it was,
        or None when it is no longer held (another took its place)."""
        at = next((i for i, r in enumerate(self.regions) if r is region), None)
        if at is not None:
            del self.regions[at]
        return at

    def restore(self, at: int, region: Region) -> None:
        """Puts a region taken out by ``remove`` back where it was."""
        self.regions.insert(at, region)

    def duplicates(self, a: Region, b: Region) -> bool:
        return (a.iou(b) >= self.merge_iou or a.contains_region(b) or b.contains_region(a)
                or bool(a.contains(b.center)) or bool(b.contains(a.center)))

    def containing(self, x: np.ndarray, margin: float = 0.0) -> Region | None:
        for r in self.regions:
            if r.contains(x, margin):
                return r
        return None

    def nearest_distance(self, x: np.ndarray) -> float:
        """Distance to the nearest region (inf when there is none)."""
        return min((r.distance(x) for r in self.regions), default=float("inf"))
