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

It reads only the SampleInfo (parameters and ground truth), so the evaluator does not need to
render pixels for it. Its output for a parameter dict is deterministic."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from examiner.models.base import ModelUnderTest, Prediction
from synthgen.body.skeleton import COCO_KEYPOINTS
from synthgen.catalog import Continuous, lookup
from synthgen.errors import ConfigError, ParamError

EFFECTS = ("drop", "swap", "jitter")
FLIP = np.array([COCO_KEYPOINTS.index(k.replace("left_", "right_") if k.startswith("left_") else
                                      k.replace("right_", "left_")) for k in COCO_KEYPOINTS])
JITTER = 0.25  # jitter noise, in box sizes


@dataclass(frozen=True)
class PlantedRegion:
    name: str
    bounds: dict  # name -> (lo, hi)
    effect: str

    def contains(self, params: dict) -> bool:
        for k, (lo, hi) in self.bounds.items():
            v = params.get(k, lookup(k).default)
            if not lo <= float(v) <= hi:
                return False
        return True


class PlantedModel(ModelUnderTest):
    needs_image = False

    def __init__(self, regions: list[PlantedRegion], noise: float = 0.01, name: str = "planted",
                 falloff: float = 0.0, edge_noise: float = 0.03):
        self.regions = regions
        self.noise = noise
        self.falloff = falloff
        self.edge_noise = edge_noise
        self.name = name

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
        known = ("regions", "noise", "falloff", "edge_noise", "description")
        unknown = set(data) - set(known)
        if unknown:
            raise ParamError(sorted(unknown)[0], f"unknown key ({', '.join(known)})", at(sorted(unknown)[0]))
        regions = []
        for i, r in enumerate(data["regions"]):
            if not isinstance(r, dict) or not isinstance(r.get("bounds"), dict) or not r["bounds"]:
                raise ParamError(f"regions[{i}]", "needs 'bounds: {param: [lo, hi], ...}'", at("regions", i))
            effect = r.get("effect", "drop")
            if effect not in EFFECTS:
                raise ParamError(f"regions[{i}].effect", f"{effect!r} is not one of {', '.join(EFFECTS)}",
                                 at("regions", i, "effect"))
            bounds = {}
            for name, b in r["bounds"].items():
                where = at("regions", i, "bounds", name)
                dim = lookup(name, where)
                if not isinstance(dim, Continuous):
                    raise ParamError(name, "planted bounds need a continuous parameter", where)
                if (not isinstance(b, list) or len(b) != 2 or not all(isinstance(x, (int, float)) for x in b)
                        or not b[0] < b[1]):
                    raise ParamError(name, f"bounds must be [low, high] with low < high, got {b!r}", where)
                bounds[name] = (float(b[0]), float(b[1]))
            regions.append(PlantedRegion(str(r.get("name", f"region_{i}")), bounds, effect))
        noise = data.get("noise", 0.01)
        if not isinstance(noise, (int, float)) or not 0 <= noise < 0.2:
            raise ParamError("noise", f"expected a fraction of the person's box in [0, 0.2), got {noise!r}", at("noise"))
        shape = {}
        for key, default, hi in (("falloff", 0.0, 0.5), ("edge_noise", 0.03, 0.2)):
            v = data.get(key, default)
            if not isinstance(v, (int, float)) or not 0 <= v <= hi:
                raise ParamError(key, f"expected a number in [0, {hi}], got {v!r}", at(key))
            shape[key] = float(v)
        return cls(regions, float(noise), f"planted:{path.name}", **shape)

    def proximity(self, params: dict) -> float:
        """1 at a region's edge, falling linearly to 0 at ``falloff`` (share of each bounded
        dim's catalog range) away from the nearest region; 0 without falloff."""
        if self.falloff <= 0:
            return 0.0
        best = 0.0
        for r in self.regions:
            d = 0.0
            for k, (lo, hi) in r.bounds.items():
                dim = lookup(k)
                v = float(params.get(k, dim.default))
                d = max(d, max(lo - v, v - hi, 0.0) / (dim.high - dim.low))
            best = max(best, 1.0 - d / self.falloff)
        return best

    def region_of(self, params: dict) -> PlantedRegion | None:
        for r in self.regions:
            if r.contains(params):
                return r
        return None

    def predict(self, images, infos=None) -> Prediction:
        if infos is None:
            raise ParamError("--model", "the planted model needs each sample's parameters and ground truth")
        B = len(infos)
        kp = np.zeros((B, 17, 2))
        scores = np.ones((B, 17))
        det = np.ones(B, dtype=bool)
        for b, info in enumerate(infos):
            digest = hashlib.sha256(json.dumps(info.params, sort_keys=True, default=str).encode()).digest()
            rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
            gt = np.asarray(info.keypoints2d, dtype=np.float64)
            size = max(float(info.bbox[2]), float(info.bbox[3]), 1.0)
            region = self.region_of(info.params)
            near = self.proximity(info.params) if region is None else 0.0
            noise = self.noise + (self.edge_noise - self.noise) * near
            kp[b] = gt + rng.normal(0.0, noise * size, gt.shape)
            if region is None:
                continue
            if region.effect == "drop":
                det[b], scores[b] = False, 0.0
            elif region.effect == "swap":
                kp[b] = kp[b][FLIP]  # left and right labels exchanged
            else:
                kp[b] = gt + rng.normal(0.0, JITTER * size, gt.shape)
        return Prediction(kp, scores, det)
