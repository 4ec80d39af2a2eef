"""ParamSpace: the named, bounded parameter space that scenes sample and search agents act in.

A space has *dims* (the names that vary, each continuous with bounds or categorical) and
*fixed* values for other names. It converts between named dicts and normalized vectors in
[-1, 1] (what RL agents act in), samples with a seed, narrows to a subset, and loads from YAML
with errors that name the key, file and line."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from synthgen.catalog import CATALOG, Categorical, Continuous, Dim, check_value, is_number, lookup
from synthgen.errors import ConfigError, ParamError

_TOP_KEYS = ("dims", "fixed", "allow_beyond_limits", "shape_prior", "pose_set", "description")
_DISTRIBUTIONS = ("uniform", "normal")


@dataclass(frozen=True)
class PoseSetPrior:
    """An imported pose set (a pose file in the library's format, e.g. from ``synthgen pose
    import``): with probability ``weight`` a sample takes one of its poses, uniformly; its
    angles override the sampled ``pose.*`` values of the same names and clear ``pose.preset``."""

    file: str
    weight: float
    poses: tuple

    def to_dict(self) -> dict:
        return {"file": self.file, "weight": self.weight}


@dataclass(frozen=True)
class ParamSpace:
    dims: tuple[Dim, ...]
    fixed: Mapping[str, Any] = field(default_factory=dict)
    allow_beyond_limits: bool = False
    #: 'anny': shape.* dims are sampled from Anny's population model instead of uniformly
    shape_prior: str | None = None
    #: sampling distributions other than uniform: name -> ("normal", mean, std) (clipped to the
    #: dim's bounds) or ("weights", (w per choice)); vectors and search ignore them
    priors: Mapping[str, tuple] = field(default_factory=dict)
    pose_set: PoseSetPrior | None = None
    #: draws the shape prior: (seed, n) -> n dicts of shape.* values. Given by whoever loads
    #: the space (``SceneConfig`` gives Anny's population model), so that the vocabulary does
    #: not import the bodies
    shape_sampler: Callable[[int, int], list[dict]] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        names = [d.name for d in self.dims]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ParamError(sorted(dup)[0], "appears twice in the space")
        for d in self.dims:
            if isinstance(d, Categorical) and (not d.choices or d.default not in d.choices):
                raise ParamError(d.name, "a categorical dim needs choices that include its default")
            if isinstance(d, Continuous) and not (d.low < d.high and d.low <= d.default <= d.high):
                raise ParamError(d.name, f"needs low < high and a default inside ({d.low}, {d.high}, {d.default})")
        overlap = set(names) & set(self.fixed)
        if overlap:
            raise ParamError(sorted(overlap)[0], "is both searched and fixed")
        if self.shape_prior not in (None, "anny"):
            raise ParamError("shape_prior", f"unknown prior {self.shape_prior!r} (only 'anny')")
        object.__setattr__(self, "fixed", self.validate(dict(self.fixed), strict=False))

    # --- construction -----------------------------------------------------------------
    @classmethod
    def of(cls, names: Iterable[str], **kwargs) -> "ParamSpace":
        """A space over catalog names with their full catalog bounds."""
        return cls(tuple(lookup(n) for n in names), **kwargs)

    @classmethod
    def from_dict(cls, data: Mapping, source: str = "<dict>", lines: Mapping[tuple, int] | None = None,
                  shape_samplers: Mapping[str, Callable] | None = None) -> "ParamSpace":
        """``shape_samplers``: {prior name: sampler} for a ``shape_prior:`` the data names."""
        lines = lines or {}

        def at(*keypath) -> str:
            line = lines.get(keypath)
            return f"{source}:{line}" if line else source

        if not isinstance(data, Mapping):
            raise ConfigError(source, "expected a mapping with 'dims' (and optionally 'fixed')")
        for k in data:
            if k not in _TOP_KEYS:
                raise ParamError(str(k), f"unknown section (expected one of {', '.join(_TOP_KEYS)})", at(k))
        allow = data.get("allow_beyond_limits", False)
        if not isinstance(allow, bool):
            raise ParamError("allow_beyond_limits", "expected true or false", at("allow_beyond_limits"))
        raw_dims = data.get("dims") or {}
        if not isinstance(raw_dims, Mapping):
            raise ParamError("dims", "expected a mapping of parameter name -> bounds", at("dims"))
        dims, priors = [], {}
        for name, spec in raw_dims.items():
            dim, prior = _dim_from_spec(name, spec, at("dims", name), allow)
            dims.append(dim)
            if prior:
                priors[name] = prior
        fixed = data.get("fixed") or {}
        if not isinstance(fixed, Mapping):
            raise ParamError("fixed", "expected a mapping of parameter name -> value", at("fixed"))
        for name, value in fixed.items():
            check_value(lookup(name, at("fixed", name)), value, at("fixed", name), allow)
        pose_set = None
        if data.get("pose_set") is not None:
            pose_set = _pose_set_from_spec(data["pose_set"], source, at("pose_set"))
        prior = data.get("shape_prior")
        return cls(tuple(dims), dict(fixed), allow, prior, priors, pose_set, (shape_samplers or {}).get(prior))

    @classmethod
    def from_yaml(cls, path: str | Path, shape_samplers: Mapping[str, Callable] | None = None) -> "ParamSpace":
        from synthgen.yamlio import load_yaml_with_lines

        data, lines = load_yaml_with_lines(path)
        return cls.from_dict(data if data is not None else {}, str(path), lines, shape_samplers)

    def to_dict(self) -> dict:
        dims = {}
        for d in self.dims:
            if isinstance(d, Categorical):
                dims[d.name] = {"choices": list(d.choices), "default": d.default}
            else:
                dims[d.name] = {"low": d.low, "high": d.high, "default": d.default}
            prior = self.priors.get(d.name)
            if prior and prior[0] == "normal":
                dims[d.name] |= {"dist": "normal", "mean": prior[1], "std": prior[2]}
            elif prior:
                dims[d.name]["weights"] = list(prior[1])
        out = {"dims": dims, "fixed": dict(self.fixed)}
        if self.pose_set:
            out["pose_set"] = self.pose_set.to_dict()
        if self.allow_beyond_limits:
            out["allow_beyond_limits"] = True
        if self.shape_prior:
            out["shape_prior"] = self.shape_prior
        return out

    # --- names and values ---------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [d.name for d in self.dims]

    def __len__(self) -> int:
        return len(self.dims)

    def __getitem__(self, name: str) -> Dim:
        for d in self.dims:
            if d.name == name:
                return d
        raise ParamError(name, "is not a dim of this space")

    def defaults(self) -> dict[str, Any]:
        return {d.name: d.default for d in self.dims} | dict(self.fixed)

    def validate(self, params: Mapping[str, Any], strict: bool = True, where: str | None = None) -> dict[str, Any]:
        """Check names, types, finiteness and bounds. Pose angles must respect joint limits
        unless the space allows going past them; with ``strict`` the searched dims must also
        lie within this space's own bounds. Returns a cleaned copy."""
        if not isinstance(params, Mapping):
            raise ParamError("params", f"expected a mapping of names to values, got {type(params).__name__}", where)
        own = {d.name: d for d in self.dims}
        out = {}
        for name, value in params.items():
            dim = own[name] if name in own and name not in CATALOG else lookup(name, where)
            if strict and name in own:
                d = own[name]
                if isinstance(d, Continuous):
                    out[name] = check_value(dim, value, where, self.allow_beyond_limits, d.low, d.high)
                else:
                    out[name] = check_value(d, value, where)
            else:
                out[name] = check_value(dim, value, where, self.allow_beyond_limits)
        return out

    def complete(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults of the space, overridden by ``params`` (validated)."""
        return self.defaults() | self.validate(params)

    # --- vectors ----------------------------------------------------------------------------
    def to_vector(self, params: Mapping[str, Any]) -> np.ndarray:
        """Normalized vector (len(self),) in [-1, 1]; missing dims take their defaults."""
        params = self.defaults() | self.validate(params)
        vec = np.empty(len(self.dims))
        for i, d in enumerate(self.dims):
            v = params[d.name]
            if isinstance(d, Categorical):
                k = len(d.choices)
                vec[i] = -1.0 + (2 * d.choices.index(v) + 1) / k
            else:
                vec[i] = 2.0 * (v - d.low) / (d.high - d.low) - 1.0 if d.high > d.low else 0.0
        return vec

    def from_vector(self, vec) -> dict[str, Any]:
        """Full parameter dict (dims and fixed values) from a normalized vector; values past
        [-1, 1] are clipped; NaN is an error."""
        vec = np.asarray(vec, dtype=np.float64).reshape(-1)
        if vec.shape[0] != len(self.dims):
            raise ParamError("vector", f"expected {len(self.dims)} values ({', '.join(self.names)}), got {vec.shape[0]}")
        bad = np.nonzero(~np.isfinite(vec))[0]
        if len(bad):
            raise ParamError(self.dims[bad[0]].name, f"normalized value is {vec[bad[0]]}")
        vec = np.clip(vec, -1.0, 1.0)
        out = dict(self.fixed)
        for x, d in zip(vec, self.dims):
            if isinstance(d, Categorical):
                k = len(d.choices)
                out[d.name] = d.choices[min(int((x + 1.0) / 2.0 * k), k - 1)]
            else:
                out[d.name] = float(d.low + (x + 1.0) / 2.0 * (d.high - d.low))
        return out

    # --- sampling -----------------------------------------------------------------------------
    def sample(self, seed: int | np.random.Generator | None = None, n: int | None = None):
        """One dict (n is None) or a list of n dicts: uniform within the dims' bounds unless a
        prior says otherwise (normal clipped to the bounds, weighted choices), shape dims from
        Anny's population model when ``shape_prior == 'anny'``, poses from the pose set."""
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        count = 1 if n is None else n
        vecs = rng.uniform(-1.0, 1.0, size=(count, len(self.dims)))
        out = [self.from_vector(v) for v in vecs]
        if self.priors:
            prior_rng = np.random.default_rng(rng.integers(2**63))
            for params in out:
                for d in self.dims:
                    prior = self.priors.get(d.name)
                    if prior is None:
                        continue
                    if prior[0] == "normal":
                        params[d.name] = float(np.clip(prior_rng.normal(prior[1], prior[2]), d.low, d.high))
                    else:
                        w = np.asarray(prior[1], dtype=np.float64)
                        params[d.name] = d.choices[int(prior_rng.choice(len(w), p=w / w.sum()))]
        if self.pose_set:
            pose_rng = np.random.default_rng(rng.integers(2**63))
            for params in out:
                if pose_rng.random() < self.pose_set.weight:
                    params.update(self.pose_set.poses[int(pose_rng.integers(len(self.pose_set.poses)))])
                    params["pose.preset"] = "none"
        shape_dims = [d for d in self.dims if d.name.startswith("shape.") and isinstance(d, Continuous)]
        if self.shape_prior and shape_dims:
            if self.shape_sampler is None:
                raise ConfigError("shape_prior", f"'{self.shape_prior}' has no sampler here: load the space "
                                                 "as a scene (SceneConfig), which gives it")
            shapes = self.shape_sampler(int(rng.integers(2**31)), count)
            for params, shape in zip(out, shapes):
                for d in shape_dims:
                    if d.name in shape:
                        params[d.name] = float(np.clip(shape[d.name], d.low, d.high))
        return out[0] if n is None else out

    # --- subsetting ---------------------------------------------------------------------------
    def subset(self, names: Iterable[str], fixed: Mapping[str, Any] | None = None) -> "ParamSpace":
        """Search only ``names``; every other dim is fixed at its default (or at ``fixed``)."""
        names = list(names)
        for n in names:
            self[n]  # raises for names not in the space
        keep = tuple(d for d in self.dims if d.name in names)
        extra = dict(fixed or {})
        for n in extra:
            if n in names:
                raise ParamError(n, "is both searched and fixed")
        held = {d.name: d.default for d in self.dims if d.name not in names}
        return replace(self, dims=keep, fixed=dict(self.fixed) | held | extra)


def _dim_from_spec(name, spec, where: str, allow_beyond_limits: bool) -> tuple[Dim, tuple | None]:
    base = lookup(name, where)
    if isinstance(spec, (list, tuple)) and isinstance(base, Continuous):
        if len(spec) != 2:
            raise ParamError(name, f"bounds must be [low, high], got {spec!r}", where)
        spec = {"low": spec[0], "high": spec[1]}
    if spec is None:
        spec = {}
    if not isinstance(spec, Mapping):
        raise ParamError(name, f"expected [low, high] or a mapping, got {spec!r}", where)
    if isinstance(base, Categorical):
        unknown = set(spec) - {"choices", "default", "weights"}
        if unknown:
            raise ParamError(name, f"unknown field '{sorted(unknown)[0]}' (choices, default, weights)", where)
        choices = tuple(spec.get("choices", base.choices))
        for c in choices:
            check_value(base, c, where)
        default = spec.get("default", base.default if base.default in choices else choices[0])
        if default not in choices:
            raise ParamError(name, f"default {default!r} is not among the choices", where)
        prior = None
        if "weights" in spec:
            w = spec["weights"]
            if (not isinstance(w, (list, tuple)) or len(w) != len(choices) or not all(is_number(x) for x in w)
                    or any(x < 0 for x in w) or sum(w) <= 0 or not all(math.isfinite(x) for x in w)):
                raise ParamError(name, f"weights must be {len(choices)} non-negative numbers (one per choice) "
                                 f"with a positive sum, got {w!r}", where)
            prior = ("weights", tuple(float(x) for x in w))
        return Categorical(name, choices, default, base.doc), prior
    unknown = set(spec) - {"low", "high", "default", "dist", "mean", "std"}
    if unknown:
        raise ParamError(name, f"unknown field '{sorted(unknown)[0]}' (low, high, default, dist, mean, std)", where)
    low = check_value(base, spec.get("low", base.low), where, allow_beyond_limits)
    high = check_value(base, spec.get("high", base.high), where, allow_beyond_limits)
    if not low < high:
        raise ParamError(name, f"low ({low:g}) must be below high ({high:g})", where)
    dist = spec.get("dist", "normal" if "mean" in spec or "std" in spec else "uniform")
    if dist not in _DISTRIBUTIONS:
        raise ParamError(name, f"unknown dist {dist!r} (one of {', '.join(_DISTRIBUTIONS)})", where)
    prior = None
    if dist == "normal":
        mean, std = spec.get("mean", (low + high) / 2), spec.get("std")
        if not is_number(std) or not math.isfinite(std) or std <= 0:
            raise ParamError(name, f"a normal dist needs a positive std, got {std!r}", where)
        mean = check_value(base, mean, where, allow_beyond_limits, low, high)
        prior = ("normal", mean, float(std))
    elif "mean" in spec or "std" in spec:
        raise ParamError(name, "mean / std belong to dist: normal", where)
    default = spec.get("default", prior[1] if prior else min(max(base.default, low), high))
    default = check_value(base, default, where, allow_beyond_limits, low, high)
    return replace(base, low=low, high=high, default=default), prior


def _pose_set_from_spec(spec, source: str, where: str) -> PoseSetPrior:
    from synthgen.pose_files import load_pose_file

    if isinstance(spec, str):
        spec = {"file": spec}
    if not isinstance(spec, Mapping) or "file" not in spec or set(spec) - {"file", "weight"}:
        raise ParamError("pose_set", "expected {file: POSES.yaml, weight: 0..1}", where)
    weight = spec.get("weight", 1.0)
    if not is_number(weight) or not 0.0 < weight <= 1.0:
        raise ParamError("pose_set.weight", f"expected a probability in (0, 1], got {weight!r}", where)
    path = Path(source).parent / str(spec["file"])
    if not path.is_file():
        raise ParamError("pose_set.file", f"no such file: {path} (write one with `synthgen pose import`)", where)
    poses = load_pose_file(path)
    if not poses:
        raise ConfigError(str(path), "the pose set holds no poses")
    return PoseSetPrior(str(spec["file"]), float(weight), tuple(p.angles for p in poses.values()))
