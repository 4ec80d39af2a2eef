"""``planted:FILE.yaml``: a benchmark model with known failure regions. It returns the ground
truth keypoints plus small noise, except for samples whose parameters fall inside one of the
hidden regions, where it fails in the region's way:

    noise: 0.01              # Gaussian noise outside the regions, in person-box sizes
    falloff: 0.15            # optional: within this share of each bounded dim's catalog range
                             # around a region, noise rises towards `edge_noise` (real models
                             # degrade gradually before they fail); 0 = a hard edge
    edge_noise: 0.03
    regions:
      - name: left_arm_raise_side_view
        bounds: {pose.left_shoulder.abduct: [100, 160], camera.yaw: [40, 90]}
        effect: drop         # drop (no person found) | swap (left / right swapped) | jitter (large noise)

Landscapes (``examiner landscape`` writes them; ``examiner.landscape`` says what the families
hold) use more of the format: modes that fail only some of the time, oblique boundaries, failures
that fade out around each mode, and sporadic failures everywhere:

    score: direct            # error and failure from the parameters alone (no body, no keypoints)
    background: 0.02         # probability of a sporadic failure anywhere
    falloff: 0.08            # around each mode, within this share of each bounded dim's range ...
    falloff_rate: 0.4        # ... failures fade from this probability (at the edge) to background
    ranges: {camera.pitch: [-40, 70]}   # the ranges the shares above refer to (default: catalog)
    regions:
      - name: seen_from_above
        bounds: {camera.pitch: [59, 70]}
        rate: 0.8            # failure probability inside (default 1)
      - name: far_and_dim
        oblique: {camera.distance: [2, 8], light.key_intensity: [10, 0.2]}
        above: 1.3           # fails where the positions of the values along [from, to] sum above this

A mode may also be planted on what the image shows (``synthgen.derived``'s factors, e.g.
``bounds: {person_height_px: [0, 60]}``): the model then reads the factors the evaluator
derives for each sample (the geometric ones: it renders no pixels); with ``falloff`` such a
factor needs its scale in ``ranges``, and ``score: direct`` cannot use them.

It reads only the SampleInfo (parameters and ground truth), so the evaluator does not need to
render pixels for it (with ``score: direct`` not even the body). Whether a point fails is drawn
from a hash of its parameters: the output for a parameter dict is deterministic."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from examiner.models.base import ModelUnderTest, Prediction
from synthgen.body.skeleton import COCO_KEYPOINTS
from synthgen.catalog import Continuous, lookup
from synthgen.derived import FACTORS as DERIVED
from synthgen.errors import ConfigError, ParamError

EFFECTS = ("drop", "swap", "jitter")
FLIP = np.array([COCO_KEYPOINTS.index(k.replace("left_", "right_") if k.startswith("left_") else
                                      k.replace("right_", "left_")) for k in COCO_KEYPOINTS])
JITTER = 0.25  # jitter noise, in box sizes


SCORES = ("keypoints", "direct")


@dataclass(frozen=True)
class PlantedRegion:
    name: str
    bounds: dict  # name -> (lo, hi)
    effect: str
    rate: float = 1.0  # failure probability inside
    oblique: dict | None = None  # name -> (from, to): fails where the positions along them sum above `above`
    above: float = 0.0

    @property
    def dims(self) -> list[str]:
        """The dims the mode depends on (every other dim is free)."""
        return list(dict.fromkeys([*self.bounds, *(self.oblique or {})]))

    def contains(self, params: dict) -> bool:
        return self.outside(params) <= 0.0

    def outside(self, params: dict, ranges: dict | None = None) -> float:
        """How far ``params`` lie outside the mode, as a share of each dim's range (0 inside)."""
        d = 0.0
        for k, (lo, hi) in self.bounds.items():
            v = float(params[k] if k in params else lookup(k).default)
            d = max(d, max(lo - v, v - hi, 0.0) / _span(k, ranges))
        if self.oblique:
            s = sum((float(params[k] if k in params else lookup(k).default) - a) / (b - a)
                    for k, (a, b) in self.oblique.items())
            d = max(d, max(self.above - s, 0.0) / len(self.oblique))
        return d

    def contains_array(self, values: dict) -> np.ndarray:
        """Vectorized ``contains``: ``values`` maps each of ``dims`` to an (N,) array."""
        inside = np.ones(len(next(iter(values.values()))), dtype=bool)
        for k, (lo, hi) in self.bounds.items():
            inside &= (values[k] >= lo) & (values[k] <= hi)
        if self.oblique:
            s = sum((values[k] - a) / (b - a) for k, (a, b) in self.oblique.items())
            inside &= s >= self.above
        return inside


def _span(name: str, ranges: dict | None) -> float:
    if ranges and name in ranges:
        lo, hi = ranges[name]
    elif name in DERIVED:
        return 1.0  # only containment asks (a falloff over a derived factor needs 'ranges')
    else:
        dim = lookup(name)
        lo, hi = dim.low, dim.high
    return max(hi - lo, 1e-12)


class PlantedModel(ModelUnderTest):
    needs_image = False

    def __init__(self, regions: list[PlantedRegion], noise: float = 0.01, name: str = "planted",
                 falloff: float = 0.0, edge_noise: float = 0.03, background: float = 0.0, falloff_rate: float = 0.0,
                 ranges: dict | None = None, score: str = "keypoints", description: str = ""):
        self.regions = regions
        self.noise = noise
        self.falloff = falloff
        self.edge_noise = edge_noise
        self.background = background
        self.falloff_rate = falloff_rate
        self.ranges = dict(ranges or {})
        self.score = score
        self.description = description
        self.name = name

    @property
    def scores_params(self) -> bool:
        """True when the error comes from the parameters alone (the evaluator skips the body)."""
        return self.score == "direct"

    @classmethod
    def from_yaml(cls, path: str | Path) -> "PlantedModel":
        from synthgen.yamlio import load_yaml_with_lines

        path = Path(path)
        if not path.is_file():
            raise ParamError("--model", f"planted model file not found: {path}")
        data, lines = load_yaml_with_lines(path)
        at = lambda *k: f"{path}:{lines.get(k, '?')}"  # noqa: E731
        if not isinstance(data, dict) or not isinstance(data.get("regions"), list) or not data["regions"]:
            raise ConfigError(str(path), "expected 'regions:' with at least one {name, bounds, effect}")
        known = ("regions", "noise", "falloff", "edge_noise", "description", "score", "background", "falloff_rate",
                 "ranges")
        unknown = set(data) - set(known)
        if unknown:
            raise ParamError(sorted(unknown)[0], f"unknown key ({', '.join(known)})", at(sorted(unknown)[0]))
        regions = []
        for i, r in enumerate(data["regions"]):
            if (not isinstance(r, dict) or not isinstance(r.get("bounds", {}), dict)
                    or not isinstance(r.get("oblique", {}), dict) or not (r.get("bounds") or r.get("oblique"))):
                raise ParamError(f"regions[{i}]", "needs 'bounds: {param: [lo, hi], ...}' or "
                                 "'oblique: {param: [from, to], ...}' with 'above'", at("regions", i))
            unknown = set(r) - {"name", "bounds", "oblique", "above", "effect", "rate"}
            if unknown:
                raise ParamError(f"regions[{i}].{sorted(unknown)[0]}", "unknown key (name, bounds, oblique, above, "
                                 "effect, rate)", at("regions", i, sorted(unknown)[0]))
            effect = r.get("effect", "drop")
            if effect not in EFFECTS:
                raise ParamError(f"regions[{i}].effect", f"{effect!r} is not one of {', '.join(EFFECTS)}",
                                 at("regions", i, "effect"))
            pairs = {}
            for key in ("bounds", "oblique"):
                pairs[key] = {}
                for name, b in (r.get(key) or {}).items():
                    where = at("regions", i, key, name)
                    dim = None if name in DERIVED else lookup(name, where)
                    if dim is not None and not isinstance(dim, Continuous):
                        raise ParamError(name, "planted modes need a continuous parameter", where)
                    if (not isinstance(b, list) or len(b) != 2 or not all(isinstance(x, (int, float)) for x in b)
                            or (key == "bounds" and not b[0] < b[1]) or b[0] == b[1]):
                        want = "[low, high] with low < high" if key == "bounds" else "[from, to] with from != to"
                        raise ParamError(name, f"{key} must be {want}, got {b!r}", where)
                    pairs[key][name] = (float(b[0]), float(b[1]))
            rate = r.get("rate", 1.0)
            if not isinstance(rate, (int, float)) or not 0 < rate <= 1:
                raise ParamError(f"regions[{i}].rate", f"expected a probability in (0, 1], got {rate!r}",
                                 at("regions", i, "rate"))
            above = r.get("above", 0.0)
            if pairs["oblique"] and not isinstance(above, (int, float)):
                raise ParamError(f"regions[{i}].above", f"expected a number, got {above!r}", at("regions", i, "above"))
            regions.append(PlantedRegion(str(r.get("name", f"region_{i}")), pairs["bounds"], effect, float(rate),
                                         pairs["oblique"] or None, float(above)))
        noise = data.get("noise", 0.01)
        if not isinstance(noise, (int, float)) or not 0 <= noise < 0.2:
            raise ParamError("noise", f"expected a fraction of the person's box in [0, 0.2), got {noise!r}", at("noise"))
        shape = {}
        for key, default, hi in (("falloff", 0.0, 0.5), ("edge_noise", 0.03, 0.2), ("background", 0.0, 0.5),
                                 ("falloff_rate", 0.0, 1.0)):
            v = data.get(key, default)
            if not isinstance(v, (int, float)) or not 0 <= v <= hi:
                raise ParamError(key, f"expected a number in [0, {hi}], got {v!r}", at(key))
            shape[key] = float(v)
        score = data.get("score", "keypoints")
        if score not in SCORES:
            raise ParamError("score", f"{score!r} is not one of {', '.join(SCORES)}", at("score"))
        ranges = {}
        for name, b in (data.get("ranges") or {}).items():
            if name not in DERIVED:
                lookup(name, at("ranges", name))
            if not isinstance(b, list) or len(b) != 2 or not all(isinstance(x, (int, float)) for x in b) or not b[0] < b[1]:
                raise ParamError(name, f"ranges must be [low, high] with low < high, got {b!r}", at("ranges", name))
            ranges[name] = (float(b[0]), float(b[1]))
        on_derived = sorted({n for r in regions for n in r.dims if n in DERIVED})
        if on_derived and score == "direct":
            raise ParamError("score", f"'direct' scores parameters alone, but a mode is planted on {on_derived[0]} "
                                      "(a derived factor): use score: keypoints", at("score"))
        unscaled = [n for n in on_derived if n not in ranges]
        if unscaled and shape["falloff"] > 0:
            raise ParamError(unscaled[0], "a derived factor needs its scale in 'ranges:' when falloff is set",
                             at("ranges"))
        return cls(regions, float(noise), f"planted:{path.name}", ranges=ranges, score=score,
                   description=str(data.get("description", "")), **shape)

    def proximity(self, params: dict) -> float:
        """1 at a region's edge, falling linearly to 0 at ``falloff`` (share of each bounded
        dim's range) away from the nearest region; 0 without falloff."""
        if self.falloff <= 0:
            return 0.0
        return max(0.0, max(1.0 - r.outside(params, self.ranges) / self.falloff for r in self.regions))

    def region_of(self, params: dict, u: float | None = None) -> PlantedRegion | None:
        """The region whose failure ``params`` show: the first containing one whose rate the
        point's draw ``u`` falls under (every containing one when u is None)."""
        for r in self.regions:
            if r.contains(params) and (u is None or u < r.rate):
                return r
        return None

    def outcome(self, params: dict, derived: dict | None = None) -> tuple[PlantedRegion | str | None, float,
                                                                           np.random.Generator]:
        """(the region it fails in, "background" for a sporadic failure, or None; its proximity
        to a region; a generator seeded by the parameters for the rest of its noise). Modes on
        derived factors read ``derived``; the draws depend on the parameters alone (a derived
        value's last bits may depend on how the body was batched)."""
        digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        params = params | (derived or {})
        u = rng.random()
        region = self.region_of(params, u)
        if region is not None:
            return region, 0.0, rng
        inside = any(r.contains(params) for r in self.regions)
        near = 0.0 if inside else self.proximity(params)
        if u < max(self.background, self.falloff_rate * near):
            return "background", near, rng
        return None, near, rng

    def score_params(self, params_list: list[dict]) -> list[tuple[float, bool]]:
        """(error, failed) per parameter dict, without keypoints (``score: direct``): failing
        points have an error in [0.6, 1], passing ones 0.05 rising to 0.4 near a mode."""
        out = []
        for params in params_list:
            region, near, rng = self.outcome(params)
            if region is not None:
                out.append((0.6 + 0.4 * rng.random(), True))
            else:
                out.append((min(0.45, 0.05 + 0.3 * near + 0.05 * rng.random()), False))
        return out

    def predict(self, images, infos=None) -> Prediction:
        if infos is None:
            raise ParamError("--model", "the planted model needs each sample's parameters and ground truth")
        B = len(infos)
        kp = np.zeros((B, 17, 2))
        scores = np.ones((B, 17))
        det = np.ones(B, dtype=bool)
        for b, info in enumerate(infos):
            region, near, rng = self.outcome(info.params, info.derived)
            gt = np.asarray(info.keypoints2d, dtype=np.float64)
            size = max(float(info.bbox[2]), float(info.bbox[3]), 1.0)
            noise = self.noise + (self.edge_noise - self.noise) * near
            kp[b] = gt + rng.normal(0.0, noise * size, gt.shape)
            if region is None:
                continue
            if region == "background" or region.effect == "drop":
                det[b], scores[b] = False, 0.0
            elif region.effect == "swap":
                kp[b] = kp[b][FLIP]  # left and right labels exchanged
            else:
                kp[b] = gt + rng.normal(0.0, JITTER * size, gt.shape)
        return Prediction(kp, scores, det)
