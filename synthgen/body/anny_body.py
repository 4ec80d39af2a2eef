"""The default body: Anny (PyPI ``anny``, Apache-2.0), converted once to Y-up metres."""

from __future__ import annotations

import functools

import numpy as np
import roma
import torch
from anny.skinning.skinning import dense_linear_blend_skinning

from synthgen.body.base import BodyModel, BodyOutput
from synthgen.body.parts import dense_and_sparse, part_labels_and_uv, regress, vertex_segments
from synthgen.body.pose import AnatomicalPose, neutral_corrections
from synthgen.body.skeleton import COCO_KEYPOINTS, POSED_JOINTS, SMPL_JOINTS, joint_index

#: up to this many bodies per call, skin with dense torch LBS rather than the warp kernel
SMALL_BATCH = 4

#: Anny is Z-up facing -Y; ours is Y-up facing +Z:  p_ours = ZUP_TO_YUP @ p_anny.
ZUP_TO_YUP = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

#: Anny bones driven by each SMPL joint, with how the joint's rotation is shared among them:
#: 'full' (the whole rotation), 'split' (an equal share of it along a chain), 'swing'
#: (flex, abduct and half the twist) and 'twist' (the other half of the twist, on the
#: segment's twist bone).
ANNY_BONES: dict[str, tuple[tuple[str, str], ...]] = {
    "spine1": (("spine05", "split"), ("spine04", "split")),
    "spine2": (("spine03", "full"),),
    "spine3": (("spine02", "split"), ("spine01", "split")),
    "neck": (("neck01", "split"), ("neck02", "split"), ("neck03", "split")),
    "head": (("head", "full"),),
}
for _s, _b in (("left", "L"), ("right", "R")):
    ANNY_BONES.update({
        f"{_s}_hip": ((f"upperleg01.{_b}", "swing"), (f"upperleg02.{_b}", "twist")),
        f"{_s}_knee": ((f"lowerleg01.{_b}", "swing"), (f"lowerleg02.{_b}", "twist")),
        f"{_s}_ankle": ((f"foot.{_b}", "full"),),
        f"{_s}_foot": tuple((f"toe{i}-1.{_b}", "full") for i in range(1, 6)),
        f"{_s}_collar": ((f"clavicle.{_b}", "full"),),
        f"{_s}_shoulder": ((f"upperarm01.{_b}", "swing"), (f"upperarm02.{_b}", "twist")),
        f"{_s}_elbow": ((f"lowerarm01.{_b}", "swing"), (f"lowerarm02.{_b}", "twist")),
        f"{_s}_wrist": ((f"wrist.{_b}", "full"),),
    })

#: Anny bone whose head is each SMPL joint.
ANNY_JOINT_BONES: dict[str, str] = {
    "pelvis": "root", "spine1": "spine05", "spine2": "spine03", "spine3": "spine02",
    "neck": "neck01", "head": "head",
}
for _s, _b in (("left", "L"), ("right", "R")):
    ANNY_JOINT_BONES.update({
        f"{_s}_hip": f"upperleg01.{_b}", f"{_s}_knee": f"lowerleg01.{_b}",
        f"{_s}_ankle": f"foot.{_b}", f"{_s}_foot": f"toe3-1.{_b}",
        f"{_s}_collar": f"clavicle.{_b}", f"{_s}_shoulder": f"upperarm01.{_b}",
        f"{_s}_elbow": f"lowerarm01.{_b}", f"{_s}_wrist": f"wrist.{_b}",
        f"{_s}_hand": f"finger3-1.{_b}",
    })


def _apply3(x: torch.Tensor, R: torch.Tensor) -> torch.Tensor:
    """(..., 3) points rotated by R, as one (N, 3) x (3, 3) product."""
    return (x.reshape(-1, 3) @ R.T).reshape(x.shape)


@functools.lru_cache(maxsize=None)
def load_anny(dtype: torch.dtype = torch.float32):
    """The Anny model, built once per process (the first build on a machine fills
    ANNY_CACHE_DIR, later ones load it)."""
    import anny

    model = anny.Anny().to(dtype=dtype)
    # Pose deltas are then relative to the rest pose, in world-aligned axes (as in SMPL):
    # see anny.utils.kinematics.forward_kinematic, 'local-ref' with no reference orientations.
    model.reference_bone_orientations = None
    model.requires_grad_(False)
    return model


class AnnyBody(BodyModel):
    name = "anny"
    shape_params = tuple(f"shape.{p}" for p in ("gender", "age", "muscle", "weight", "height", "proportions"))

    def __init__(self, dtype: torch.dtype = torch.float32):
        self.model = load_anny(dtype)
        m = self.model
        self.bone_names = list(m.bone_labels)
        index = {b: i for i, b in enumerate(self.bone_names)}
        self._joint_bones = torch.tensor([index[ANNY_JOINT_BONES[j]] for j in SMPL_JOINTS])
        # Segment (SMPL joint) of every bone: mapped bones their joint, others their parent's.
        seg = [-1] * len(self.bone_names)
        seg[0] = joint_index("pelvis")
        for j, bones in ANNY_BONES.items():
            for b, _ in bones:
                seg[index[b]] = joint_index(j)
        for i in range(1, len(seg)):  # bones are listed parents first
            if seg[i] < 0:
                seg[i] = seg[m.bone_parents[i]]
        self.bone_segment = torch.tensor(seg)
        self._parent_segment = torch.tensor([seg[0]] + [seg[m.bone_parents[i]] for i in range(1, len(seg))])
        self._roles = {}
        for role in ("full", "split", "swing", "twist"):
            pairs = [
                (index[b], POSED_JOINTS.index(j), len(bones))
                for j, bones in ANNY_BONES.items() for b, r in bones if r == role
            ]
            self._roles[role] = tuple(torch.tensor(x) for x in zip(*pairs)) if pairs else None
        self._c = ZUP_TO_YUP.to(dtype)
        self.faces = m.get_triangular_faces()
        self._static = None

    @property
    def dtype(self) -> torch.dtype:
        return self.model.dtype

    def shape_tensor(self, batch):
        return self._shape_rows(batch, {k: 0.5 for k in self.shape_params})

    def _rest(self, shape: torch.Tensor):
        m = self.model
        _, phen, local, facial = m.get_tensor_inputs(None, shape, None, None)
        coeffs = m._get_phenotype_blendshape_coefficients(phen, local, facial)
        return m.get_rest_model(coeffs)

    def local_rotations(self, pose: AnatomicalPose, rest_joints: torch.Tensor) -> torch.Tensor:
        """(B, NB, 3, 3) rest-relative, world-aligned (Y-up) rotation of every Anny bone."""
        B = pose.flex_abduct.shape[0]
        eye = torch.eye(3, dtype=self.dtype)
        Q = eye.expand(B, len(self.bone_names), 3, 3).clone()
        full = pose.full
        sources = {
            "full": full,
            "swing": pose.flex_abduct @ pose.twist_half,
            "twist": pose.twist_half,
        }
        for role, src in sources.items():
            if self._roles[role] is not None:
                bones, joints, _ = self._roles[role]
                Q[:, bones] = src[:, joints]
        if self._roles["split"] is not None:
            bones, joints, n = self._roles["split"]
            rotvec = roma.rotmat_to_rotvec(full[:, joints]) / n.to(self.dtype)[:, None]
            Q[:, bones] = roma.rotvec_to_rotmat(rotvec)
        Q[:, 0] = pose.global_rot
        N = neutral_corrections(rest_joints)
        N_seg = N[:, self.bone_segment]
        N_par = N[:, self._parent_segment]
        N_par[:, 0] = eye
        N_seg[:, 0] = eye
        return N_par.transpose(-1, -2) @ Q @ N_seg

    def forward(self, pose: AnatomicalPose, shape: torch.Tensor) -> BodyOutput:
        m, c = self.model, self._c
        B = pose.flex_abduct.shape[0]
        rest = self._rest(shape)
        rest_heads = _apply3(rest["rest_bone_heads"], c)  # (b, NB, 3), Y-up
        rest_joints = rest_heads[:, self._joint_bones]
        L = self.local_rotations(pose, rest_joints.expand(B, -1, -1))
        delta = torch.zeros(B, len(self.bone_names), 4, 4, dtype=self.dtype)
        delta[..., :3, :3] = c.T @ L @ c  # back to Anny's Z-up axes
        delta[..., 3, 3] = 1.0
        # A zero root delta puts the root (pelvis) head at the origin: the rest mesh is
        # reported shifted the same way, and the transforms map that shifted rest mesh.
        # Skinning with C4 @ T gives Y-up vertices directly (no extra pass over them).
        C4 = torch.eye(4, dtype=self.dtype)
        C4[:3, :3] = c
        transforms, _ = m.get_bone_transforms(delta, rest["rest_bone_poses"])
        transforms = C4 @ transforms
        static = self.static()
        rest_v = rest["rest_vertices"].expand(B, -1, -1)
        if B <= SMALL_BATCH:  # Anny's dense torch skinning: no kernel launch cost
            verts = dense_linear_blend_skinning(rest_v, static["skin_weights"], transforms)
        else:  # its warp kernel, faster on many bodies
            verts = m.get_skinned_vertices(rest_v, transforms)
        heads = rest["rest_bone_heads"][:, self._joint_bones].expand(B, -1, -1)
        T_joint = transforms[:, self._joint_bones]
        joints = (T_joint[..., :3, :3] @ heads[..., None])[..., 0] + T_joint[..., :3, 3]
        root = rest["rest_bone_heads"][:, :1]  # (b, 1, 3), Z-up
        shift = torch.eye(4, dtype=self.dtype).repeat(root.shape[0], 1, 1)
        shift[:, :3, 3] = root[:, 0]
        return self._output(
            static,
            vertices=verts,
            rest_fn=lambda: _apply3(rest["rest_vertices"] - root, c).expand(B, -1, -1),
            joints=joints,
            keypoints=regress(static["regressor"], verts),
            bone_transforms=transforms @ (shift @ C4.T)[:, None],
        )

    def static(self) -> dict:
        """Labels that depend on the mesh, not the pose: computed once, on the default shape
        (whatever the first call asks for), and shared by every later call."""
        if self._static is not None:
            return self._static
        m = self.model
        rest = self._rest(self.shape_tensor([{}]))
        rest_vertices_zup = rest["rest_vertices"][0]
        rest_joints = _apply3(rest["rest_bone_heads"][0], self._c)[self._joint_bones]
        V, NB = len(m.template_vertices), len(self.bone_names)
        weights = torch.zeros(V, NB, dtype=self.dtype)
        weights.scatter_add_(1, m.vertex_bone_indices.long(), m.vertex_bone_weights.to(self.dtype))
        rest_v = (rest_vertices_zup @ self._c.T).numpy().astype(np.float64)
        joints = rest_joints.numpy().astype(np.float64)
        segments = vertex_segments(weights.numpy(), self.bone_segment.numpy())
        labels, uv = part_labels_and_uv(rest_v, joints, segments)
        # Anny's own COCO regressor for the 17 COCO keypoints (it has 23: the feet's too).
        import anny

        anny_reg = anny.KeypointsRegressor.coco(m, labels=list(COCO_KEYPOINTS))
        self._static = {
            "skin_weights": weights,
            "part_labels": torch.from_numpy(labels),
            "part_uv": torch.from_numpy(uv).to(self.dtype),
            "texture_uv": self._vertex_texture_uv(),
            "regressor": dense_and_sparse(anny_reg.regression_weights.to(self.dtype)),
            "segments": segments,
        }
        return self._static

    def texture_layout(self):
        """Anny's own UV layout: vertices split along its texture seams."""
        m = self.model
        corners = torch.stack([m.faces.reshape(-1).long(), m.face_texture_coordinate_indices.reshape(-1).long()], 1)
        pairs, inverse = torch.unique(corners, dim=0, return_inverse=True)
        uv = m.texture_coordinates[pairs[:, 1]].to(self.dtype)
        return pairs[:, 0], uv, inverse.reshape(-1, 3)

    def _vertex_texture_uv(self) -> torch.Tensor | None:
        m = self.model
        if m.texture_coordinates is None:
            return None
        uv = torch.zeros(len(m.template_vertices), 2, dtype=self.dtype)
        corner_uv = m.texture_coordinates[m.face_texture_coordinate_indices.reshape(-1).long()]
        uv[m.faces.reshape(-1).long()] = corner_uv.to(self.dtype)
        return uv
