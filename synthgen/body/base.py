"""The body-model interface every backend implements, and the record it returns."""

from __future__ import annotations

import abc
import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from synthgen.body.pose import angles_from_params, anatomical_rotations, AnatomicalPose


@dataclass
class BodyOutput:
    """A batch of posed bodies, Y-up metres, the pelvis joint of the rest pose at the origin.

    Per batch item: ``vertices`` (B, V, 3) posed, ``rest_vertices`` (B, V, 3) shaped but
    unposed, ``joints`` (B, 24, 3) SMPL-named joints, ``keypoints`` (B, 17, 3) COCO-17,
    ``bone_transforms`` (B, NB, 4, 4) rest-to-posed transform of each skinning bone.
    Shared by the batch: ``faces`` (F, 3) triangles, ``skin_weights`` (V, NB) dense linear
    blend skinning weights over ``bone_names``, ``part_labels`` (V,) DensePose part ids 1..24,
    ``part_uv`` (V, 2) DensePose-style (U, V) in [0, 1] within the part, ``texture_uv``
    (V, 2) texture coordinates where the model has them (else None)."""

    vertices: torch.Tensor
    #: computes rest_vertices on first use (most consumers never need them)
    rest_fn: Callable[[], torch.Tensor]
    joints: torch.Tensor
    keypoints: torch.Tensor
    bone_transforms: torch.Tensor
    faces: torch.Tensor
    skin_weights: torch.Tensor
    bone_names: list[str]
    part_labels: torch.Tensor
    part_uv: torch.Tensor
    texture_uv: torch.Tensor | None

    def __len__(self) -> int:
        return self.vertices.shape[0]

    @functools.cached_property
    def rest_vertices(self) -> torch.Tensor:
        return self.rest_fn()

    def skin(self, points: torch.Tensor, bones: torch.Tensor, weights: torch.Tensor,
             index: int | None = None) -> torch.Tensor:
        """Other points carried by each body's own linear blend skinning (garments, as in
        TailorNet and SMPL+D): ``points`` (G, 3) or (B, G, 3) in the frame of
        ``rest_vertices``; ``bones`` (G, K) the skinning bones that move each point and
        ``weights`` (G, K) their weights (rows summing to 1). Returns (B, G, 3) posed points,
        or (G, 3) for batch item ``index`` alone, in ``bone_transforms``' dtype. (With the
        body's own weights this gives back ``vertices``, less SMPL's pose correctives.)"""
        T = self.bone_transforms if index is None else self.bone_transforms[index:index + 1]
        p = torch.as_tensor(points, dtype=T.dtype)
        if p.dim() == 3 and index is not None:
            p = p[index:index + 1]
        w = torch.as_tensor(weights, dtype=T.dtype)
        # gather each point's K bone transforms and blend them: (B, G, 3, 4)
        blend = (w[None, :, :, None, None] * T[:, torch.as_tensor(bones, dtype=torch.long), :3, :]).sum(2)
        posed = (blend[..., :3] @ p.expand(len(T), -1, -1)[..., None])[..., 0] + blend[..., 3]
        return posed if index is None else posed[0]


def with_preset(params: dict) -> dict:
    """``pose.preset`` (a library pose) expanded under the explicit ``pose.*`` angles."""
    name = params.get("pose.preset", "none")
    if name == "none":
        return params
    from synthgen.body.pose_library import get_pose

    return get_pose(name) | {k: v for k, v in params.items() if k != "pose.preset"}


class BodyModel(abc.ABC):
    """A parametric body driven by named parameters (``pose.*`` angles, ``shape.*``)."""

    #: backend name, e.g. 'anny' or 'smpl'
    name: str
    #: the ``shape.*`` parameter names this backend reads
    shape_params: tuple[str, ...]

    def __call__(self, params: dict | list[dict]) -> BodyOutput:
        """Pose and shape a batch of bodies from named parameter dicts (one dict = B of 1)."""
        batch = [params] if isinstance(params, dict) else list(params)
        if not batch:
            raise ValueError("empty batch of parameter dicts")
        batch = [with_preset(p) for p in batch]
        for p in batch:
            self.check_names(p)
        angles, global_angles = angles_from_params(batch, dtype=self.dtype)
        shape = self.shape_tensor(batch)
        for name, values in (("pose", angles), ("pose.global", global_angles), ("shape", shape)):
            if not torch.isfinite(values).all():
                from synthgen.errors import ParamError

                bad = next(k for p in batch for k, v in p.items()
                           if k.startswith(name) and not np.isfinite(np.asarray(v, dtype=float)).all())
                raise ParamError(bad, "must be finite")
        return self.forward(anatomical_rotations(angles, global_angles), shape)

    def check_names(self, params: dict) -> None:
        """Reject unknown ``pose.*`` names and shape names of another backend (``shape.beta0``
        on Anny, ``shape.weight`` on SMPL): a name the body would ignore is an error. Other
        names (camera, light, ...) belong to other layers and pass through."""
        from synthgen.body.joint_limits import _pose_limits
        from synthgen.catalog import lookup
        from synthgen.errors import ParamError

        poses = _pose_limits()
        for k in params:
            if k.startswith("shape.") and k not in self.shape_params:
                raise ParamError(k, f"not a shape parameter of the '{self.name}' body "
                                    f"(it reads {', '.join(self.shape_params)})")
            if k.startswith("pose.") and k not in poses:
                lookup(k)  # raises with suggestions

    @property
    @abc.abstractmethod
    def dtype(self) -> torch.dtype: ...

    @abc.abstractmethod
    def shape_tensor(self, batch: list[dict]) -> torch.Tensor:
        """(B, S) or (1, S) shape coefficients from the ``shape.*`` entries."""

    @abc.abstractmethod
    def forward(self, pose: AnatomicalPose, shape: torch.Tensor) -> BodyOutput:
        """Posed bodies from neutral-frame rotations and shape coefficients."""

    def texture_layout(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """How to texture the mesh: (R,) body vertex of each render vertex, (R, 2) its texture
        coordinates, (F, 3) faces over render vertices. Default: the part (U, V) per vertex."""
        out = self.static()
        return torch.arange(len(out["part_uv"])), out["part_uv"], self.faces

    def _output(self, static: dict, **per_batch) -> BodyOutput:
        """A BodyOutput from the per-batch tensors and the mesh's static labels."""
        return BodyOutput(
            faces=self.faces, skin_weights=static["skin_weights"], bone_names=self.bone_names,
            part_labels=static["part_labels"], part_uv=static["part_uv"], texture_uv=static["texture_uv"],
            **per_batch,
        )

    def _shape_rows(self, batch: list[dict], defaults: dict[str, float]) -> torch.Tensor:
        rows = np.array(
            [[p.get(k, d) for k, d in defaults.items()] for p in batch], dtype=np.float64
        )
        if (rows == rows[:1]).all():  # one shape for the whole batch: compute it once
            rows = rows[:1]
        return torch.as_tensor(rows, dtype=self.dtype)
