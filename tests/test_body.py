import numpy as np
import pytest
import torch

from synthgen.body.skeleton import COCO_KEYPOINTS, DENSEPOSE_PARTS, joint_index
from synthgen.errors import ParamError


def test_outputs_are_consistent(body):
    from synthgen.body.pose_library import get_pose

    batch = [get_pose("walk"), get_pose("sit"), {}]
    out = body(batch)
    B, V = len(batch), out.vertices.shape[1]
    assert out.vertices.shape == out.rest_vertices.shape == (B, V, 3)
    assert out.joints.shape == (B, 24, 3) and out.keypoints.shape == (B, 17, 3)
    assert out.faces.min() >= 0 and out.faces.max() < V and out.faces.shape[1] == 3
    assert torch.isfinite(out.vertices).all()
    w = out.skin_weights
    assert w.shape == (V, len(out.bone_names)) and torch.allclose(w.sum(1), torch.ones(V, dtype=w.dtype), atol=1e-4)
    # the bone transforms re-skin the rest mesh (SMPL adds small pose-corrective offsets)
    T = out.bone_transforms.double()
    skinned = torch.einsum("vj,bjxy,bvy->bvx", w.double(), T[..., :3, :3], out.rest_vertices.double()) + torch.einsum(
        "vj,bjx->bvx", w.double(), T[..., :3, 3])
    assert (skinned - out.vertices.double()).abs().max() < 5e-3


def test_y_up_facing_plus_z_pelvis_at_origin(body):
    out = body({})
    j = out.joints[0]
    assert j[joint_index("head"), 1] > j[joint_index("pelvis"), 1] > j[joint_index("left_ankle"), 1]
    assert j[joint_index("pelvis")].abs().max() < 0.02
    nose = out.keypoints[0, COCO_KEYPOINTS.index("nose")]
    assert nose[2] > j[joint_index("head"), 2]  # the face looks along +Z
    assert out.keypoints[0, COCO_KEYPOINTS.index("left_wrist"), 0] > 0  # the person's left is +X


def test_coco_keypoints_sit_at_their_joints(body):
    out = body({"pose.left_elbow.flex": 70, "pose.right_knee.flex": 80})
    for name in ("left_shoulder", "left_elbow", "left_wrist", "right_knee", "right_ankle", "left_hip"):
        kp = out.keypoints[0, COCO_KEYPOINTS.index(name)]
        assert (kp - out.joints[0, joint_index(name)]).norm() < 0.09, name


def test_part_labels_and_uv(body):
    out = body({})
    labels = out.part_labels.numpy()
    assert set(np.unique(labels)) == set(DENSEPOSE_PARTS)
    assert out.part_uv.min() >= 0 and out.part_uv.max() <= 1
    v = out.rest_vertices[0].numpy()
    head_l, head_r = labels == 24, labels == 23
    assert v[head_l, 0].mean() > 0 > v[head_r, 0].mean()
    front, back = labels == 2, labels == 1
    assert v[front, 2].mean() > v[back, 2].mean()
    left_hand = labels == 4
    assert v[left_hand, 0].mean() > 0.3 * v[:, 0].max()


def test_batch_of_64(body):
    from synthgen.space import ParamSpace
    from synthgen.body.joint_limits import pose_param_names

    batch = ParamSpace.of(pose_param_names()).sample(0, n=64)
    out = body(batch)
    assert out.vertices.shape[0] == 64 and torch.isfinite(out.vertices).all()
    one = body(batch[5])
    assert torch.allclose(one.vertices[0], out.vertices[5], atol=1e-4)


def test_shape_parameters(anny_body, smpl_body):
    short, tall = anny_body([{"shape.height": 0.0}, {"shape.height": 1.0}]).vertices[:, :, 1]
    assert (tall.max() - tall.min()) > (short.max() - short.min()) + 0.1
    small, big = smpl_body([{"shape.beta0": -3.0}, {"shape.beta0": 3.0}]).vertices[:, :, 1]
    assert (big.max() - big.min()) > (small.max() - small.min())
    with pytest.raises(ParamError, match="shape.beta0"):
        anny_body({"shape.beta0": 1.0})
    with pytest.raises(ParamError, match="shape.weight"):
        smpl_body({"shape.weight": 0.3})


def test_identity_pose_deltas_keep_annys_rest_pose(anny_body):
    """Guards the one Anny convention we rely on: zero deltas = rest pose, world-aligned."""
    m = anny_body.model
    delta = torch.eye(4, dtype=m.dtype).repeat(1, len(m.bone_labels), 1, 1)
    delta[0, 0, :3, 3] = m()["rest_bone_heads"][0, 0]  # keep the root where it rests
    out = m(pose_parameters=delta)
    assert (out["vertices"] - out["rest_vertices"]).abs().max() < 1e-5


def test_unknown_backend():
    from synthgen.body import get_body_model

    with pytest.raises(ParamError, match="unknown backend"):
        get_body_model("mano")


def test_bad_names_and_values_are_errors(body):
    with pytest.raises(ParamError, match="did you mean pose.left_elbow.flex"):
        body({"pose.left_elbo.flex": 90})
    with pytest.raises(ParamError, match="pose.left_knee.flex.*finite"):
        body([{}, {"pose.left_knee.flex": float("nan")}])
    body({"camera.yaw": 30})  # other layers' names pass through


def test_labels_do_not_depend_on_the_first_call(anny_body):
    from synthgen.body.anny_body import AnnyBody

    fresh = AnnyBody()
    first = fresh({"shape.weight": 1.0, "shape.height": 0.0})
    assert torch.equal(first.part_labels, anny_body({}).part_labels)
    assert torch.equal(first.part_uv, anny_body({}).part_uv)
