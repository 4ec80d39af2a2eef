"""Is a pose plausible? Joint-limit violations and self-intersection of the posed mesh
(triangle-triangle tests from ``anny.utils.collision``, run on either backend)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import torch

from synthgen.body.joint_limits import pose_limits


@dataclass
class PlausibilityReport:
    #: name -> (value, low, high) for every pose angle outside its joint limit
    limit_violations: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    #: triangles that intersect another triangle of a different body part
    intersecting_faces: int = 0
    intersecting_fraction: float = 0.0
    #: the threshold on intersecting_fraction under which a pose counts as plausible
    max_intersecting_fraction: float = 0.002

    @property
    def plausible(self) -> bool:
        return not self.limit_violations and self.intersecting_fraction <= self.max_intersecting_fraction

    def to_dict(self) -> dict:
        return {
            "plausible": self.plausible,
            "limit_violations": {k: list(v) for k, v in self.limit_violations.items()},
            "intersecting_faces": self.intersecting_faces,
            "intersecting_fraction": self.intersecting_fraction,
        }


def limit_violations(params: dict) -> dict[str, tuple[float, float, float]]:
    limits = pose_limits()
    out = {}
    for k, v in params.items():
        if k in limits and not limits[k][0] <= float(v) <= limits[k][1]:
            out[k] = (float(v), *limits[k])
    return out


class _SkinnedMeshView:
    """What anny's SelfInterpenetrationModule reads from a body model, for any backend."""

    def __init__(self, faces: torch.Tensor, weights: torch.Tensor, bone_names: list[str], top_k: int = 4):
        self._faces = faces.long()
        w, idx = torch.topk(weights, k=min(top_k, weights.shape[1]), dim=1)
        self.vertex_bone_weights = w
        self.vertex_bone_indices = idx
        self.bone_labels = bone_names
        self.template_vertices = torch.zeros(weights.shape[0], 3)
        self.device = torch.device("cpu")

    def get_triangular_faces(self):
        return self._faces


@functools.lru_cache(maxsize=4)
def _collision_module(body):
    from anny.utils.collision import SelfInterpenetrationModule

    out = body([{}])
    # Groups of bones that may touch without it counting: one group per SMPL segment, so
    # neighbouring bones of one limb (e.g. twist bones) are not tested against each other.
    view = _SkinnedMeshView(out.faces, _segment_weights(body, out), [f"seg{i}" for i in range(24)])
    return SelfInterpenetrationModule(view)


def _segment_weights(body, out) -> torch.Tensor:
    """(V, 24) skinning weights summed per SMPL segment."""
    W = out.skin_weights
    S = torch.zeros(W.shape[0], 24, dtype=W.dtype)
    S.index_add_(1, body.bone_segment.long(), W)
    return S


def plausibility(params: dict, body=None) -> PlausibilityReport:
    """Joint limits and self-intersection of one parameter dict on ``body`` (default Anny)."""
    from synthgen.body import get_body_model

    body = body or get_body_model("anny")
    report = PlausibilityReport(limit_violations=limit_violations(params))
    out = body(params)
    colliding = _collision_module(body).detect_self_intersections(out.vertices[0].float())
    n = int((colliding >= 0).sum())
    report.intersecting_faces = n
    report.intersecting_fraction = n / len(out.faces)
    return report
