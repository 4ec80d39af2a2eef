"""SMPL / SMPL-X bodies through the ``smplx`` package, from model files the user owns."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from synthgen.body.base import BodyModel, BodyOutput
from synthgen.body.parts import (
    coco_regressor, dense_and_sparse, face_keypoint_vertices, part_labels_and_uv, regress, vertex_segments,
)
from synthgen.body.pose import AnatomicalPose, neutral_corrections
from synthgen.body.skeleton import SMPL_JOINTS, SMPL_PARENTS
from synthgen.body.smpl_files import check_model_data, find_model_file, load_model_data



def _known_face_vertices():
    """The face-keypoint vertex ids smplx itself uses on the real SMPL / SMPL-X topologies."""
    from smplx.vertex_ids import vertex_ids

    return {("smpl", 6890): vertex_ids["smplh"], ("smplx", 10475): vertex_ids["smplx"]}


KNOWN_FACE_VERTICES = _known_face_vertices()
_PARENTS_1_22 = torch.tensor(SMPL_PARENTS[1:22])


class SmplBody(BodyModel):
    """``model_type`` 'smpl' or 'smplx'; ``path`` a model file or folder (default: the folder
    in $SYNTHGEN_BODY_MODELS)."""

    def __init__(self, path: str | os.PathLike | None = None, model_type: str = "smpl",
                 gender: str = "neutral", num_betas: int = 10):
        import smplx
        from smplx.utils import Struct

        self.name = model_type
        #: 'neutral', 'female' or 'male': the model file's gender
        self.gender = gender
        self.path = find_model_file(model_type, gender, path)
        data = load_model_data(self.path)
        check_model_data(data, self.path)
        V = len(data["v_template"])
        nb = min(num_betas, np.asarray(data["shapedirs"]).shape[-1])
        self.shape_params = tuple(f"shape.beta{i}" for i in range(nb))
        w = np.asarray(data["weights"], dtype=np.float64)
        kin = np.asarray(data["kintree_table"])
        # Hands and face joints of SMPL-X: part of the wrist / head segments for labels.
        seg_of_joint = np.array([self._segment_of(j, kin) for j in range(w.shape[1])])
        #: SMPL-24 segment of every backend joint (as AnnyBody.bone_segment)
        self.bone_segment = torch.as_tensor(seg_of_joint)
        segments = vertex_segments(w, seg_of_joint)
        J_reg = np.asarray(data["J_regressor"], dtype=np.float64)
        v_t = np.asarray(data["v_template"], dtype=np.float64)
        #: backend joint index of each SMPL-24 joint (SMPL-X: the middle finger base as 'hand')
        self.smpl24 = list(range(24)) if model_type == "smpl" else list(range(22)) + [28, 43]
        rest_joints = (J_reg @ v_t)[self.smpl24]
        known = KNOWN_FACE_VERTICES.get((model_type, V))
        face = (
            {name: known[key] for name, key in (("nose", "nose"), ("left_eye", "leye"), ("right_eye", "reye"),
                                                ("left_ear", "lear"), ("right_ear", "rear"))}
            if known else face_keypoint_vertices(v_t, rest_joints, segments)
        )
        # only smplx's model arrays are used (our forward composes its lbs building blocks)
        common = {"num_betas": nb}
        if model_type == "smpl":
            self.model = smplx.SMPL(model_path=str(self.path), data_struct=Struct(**data), **common)
        else:
            # smplx's SMPLX reads its file itself (np.load with allow_pickle=True): give it a
            # copy holding only the arrays read safely above, so nothing is unpickled
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                safe = Path(tmp) / "SMPLX_SAFE.npz"
                np.savez(safe, **data)
                self.model = smplx.SMPLX(model_path=str(safe), ext="npz", use_pca=False,
                                         flat_hand_mean=True, **common)
        self.model.requires_grad_(False)
        self._data = data
        self._segments = segments
        self._face = face
        self._static = None
        self.faces = torch.as_tensor(np.asarray(data["f"], dtype=np.int64))
        from smplx.joint_names import JOINT_NAMES

        self.bone_names = list(SMPL_JOINTS) if model_type == "smpl" else list(JOINT_NAMES[: w.shape[1]])

    @staticmethod
    def _segment_of(j: int, kin: np.ndarray) -> int:
        """SMPL-24 segment of backend joint ``j`` (SMPL-X: fingers -> wrist, face -> head)."""
        if j < 22:
            return j
        if kin.shape[1] <= 24:  # SMPL's own hand joints
            return j
        parents = {int(c): int(p) for p, c in zip(kin[0], kin[1])}
        while j >= 22:
            j = parents[j]
        return j

    @property
    def dtype(self) -> torch.dtype:
        return self.model.shapedirs.dtype

    def shape_tensor(self, batch):
        return self._shape_rows(batch, {k: 0.0 for k in self.shape_params})

    def forward(self, pose: AnatomicalPose, shape: torch.Tensor) -> BodyOutput:
        """SMPL's linear blend skinning from smplx's own building blocks (blend shapes, joint
        regression, pose correctives, rigid transforms), composed here so that the joint
        transforms come out too and rotation matrices need no axis-angle round trip."""
        from smplx.lbs import batch_rigid_transform, blend_shapes, vertices2joints

        m = self.model
        B = pose.flex_abduct.shape[0]
        v_shaped = m.v_template + blend_shapes(shape, m.shapedirs)  # (b, V, 3)
        J = vertices2joints(m.J_regressor, v_shaped)
        N = neutral_corrections(J[:, self.smpl24])
        rot = torch.eye(3, dtype=self.dtype).expand(B, J.shape[1], 3, 3).clone()
        rot[:, 1:22] = N[:, _PARENTS_1_22].transpose(-1, -2) @ pose.full @ N[:, 1:22]
        rot[:, 0] = pose.global_rot
        eye = torch.eye(3, dtype=self.dtype)
        pose_feature = (rot[:, 1:] - eye).reshape(B, -1)
        v_posed = v_shaped + (pose_feature @ m.posedirs).view(B, -1, 3)
        posed_joints, A = batch_rigid_transform(rot, J.expand(B, -1, -1), m.parents)
        # skinning as smplx.lbs.lbs does it
        T = torch.matmul(m.lbs_weights.expand(B, -1, -1), A.view(B, A.shape[1], 16)).view(B, -1, 4, 4)
        ones = torch.ones(B, v_posed.shape[1], 1, dtype=self.dtype)
        verts = torch.matmul(T, torch.cat([v_posed, ones], 2)[..., None])[:, :, :3, 0]
        origin = J[:, 0]  # the rest pelvis goes to the origin: T' = [I|-o] A [I|o]
        A = A.clone()
        A[..., :3, 3] += (A[..., :3, :3] @ origin[:, None, :, None])[..., 0] - origin[:, None]
        static = self.static()
        verts = verts - origin[:, None]
        return self._output(
            static,
            vertices=verts,
            rest_fn=lambda: (v_shaped - origin[:, None]).expand(B, -1, -1),
            joints=posed_joints[:, self.smpl24] - origin[:, None],
            keypoints=regress(static["regressor"], verts),
            bone_transforms=A,
        )

    def static(self) -> dict:
        if self._static is not None:
            return self._static
        d = self._data
        v_t = np.asarray(d["v_template"], dtype=np.float64)
        joints = (np.asarray(d["J_regressor"], dtype=np.float64) @ v_t)[self.smpl24]
        labels, uv = part_labels_and_uv(v_t, joints, self._segments)
        texture_uv = None
        if "vt" in d and "ft" in d:
            vt, ft = np.asarray(d["vt"]), np.asarray(d["ft"], dtype=np.int64)
            tuv = np.zeros((len(v_t), 2))
            tuv[np.asarray(d["f"], dtype=np.int64).reshape(-1)] = vt[ft.reshape(-1)]
            texture_uv = torch.as_tensor(tuv, dtype=self.dtype)
        w = torch.as_tensor(np.asarray(d["weights"]), dtype=self.dtype)
        self._static = {
            "skin_weights": w,
            "part_labels": torch.from_numpy(labels),
            "part_uv": torch.as_tensor(uv, dtype=self.dtype),
            "texture_uv": texture_uv,
            "regressor": dense_and_sparse(torch.as_tensor(
                coco_regressor(v_t, joints, self._segments, self._face), dtype=self.dtype)),
        }
        return self._static
