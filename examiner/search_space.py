"""A search space file: a synthgen scene (image, body, dims with bounds, fixed values) plus

    search: [pose.left_shoulder.*, camera.yaw]   # the dims agents move (glob patterns)
    failure: {metric: oks, threshold: 0.5}        # optional FailureRule fields

Searched dims keep the scene's bounds; every other dim of the scene is held at its default
(or at its ``fixed`` value), so a query is a point in the searched dims only."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

from examiner.metrics import FailureRule
from synthgen.errors import ParamError
from synthgen.scene import SceneConfig
from synthgen.space import ParamSpace


@dataclass(frozen=True)
class SearchSpace:
    config: SceneConfig  # the whole scene (what renders)
    space: ParamSpace  # the searched dims only; others fixed
    rule: FailureRule
    source: str

    @classmethod
    def from_yaml(cls, path: str | Path, size: int | None = None) -> "SearchSpace":
        config = SceneConfig.from_yaml(path, size, extra=("search", "failure"))
        patterns, where = config.extra.get("search", (None, str(path)))
        if patterns is None:
            names = config.space.names
        else:
            if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns) or not patterns:
                raise ParamError("search", "expected a list of dim names or glob patterns", where)
            names = []
            for p in patterns:
                hits = [n for n in config.space.names if fnmatch.fnmatchcase(n, p)]
                if not hits:
                    raise ParamError("search", f"pattern {p!r} matches none of the scene's dims", where)
                names += [n for n in hits if n not in names]
        failure, fwhere = config.extra.get("failure", ({}, str(path)))
        if not isinstance(failure, dict):
            raise ParamError("failure", "expected a mapping of FailureRule fields", fwhere)
        try:
            rule = FailureRule.from_dict(failure)
        except (TypeError, ParamError) as e:
            raise ParamError("failure", str(e), fwhere) from None
        return cls(config, config.space.subset(names), rule, str(path))

    @classmethod
    def of(cls, config: SceneConfig, names: list[str], rule: FailureRule | None = None) -> "SearchSpace":
        return cls(config, config.space.subset(names), rule or FailureRule(), config.source)

    @property
    def names(self) -> list[str]:
        return self.space.names

    def scene_dict(self) -> dict:
        """This space as a synthgen scene that draws what queries are: the searched dims uniform
        within their bounds (no priors, pose sets or shape prior, which queries do not use),
        every other dim at its fixed value or default. A failure mode's samples drawn from it
        (``synthgen generate --from-regions``) cover the mode's whole extent in the space."""
        from synthgen.catalog import Categorical

        c = self.config
        dims = {d.name: {"choices": list(d.choices), "default": d.default} if isinstance(d, Categorical)
                else {"low": d.low, "high": d.high, "default": d.default} for d in self.space.dims}
        body = {k: v for k, v in (("backend", c.backend), ("models", c.body_models), ("tailornet", c.tailornet)) if v}
        out = {"image": {"width": c.width, "height": c.height}, "body": body, "dims": dims,
               "fixed": dict(self.space.fixed)}
        if c.background_folder:
            out["background_folder"] = c.background_folder
        if self.space.allow_beyond_limits:
            out["allow_beyond_limits"] = True
        return out
