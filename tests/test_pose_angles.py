"""Named angles, measured on the posed joints of both backends."""

import numpy as np
import pytest

from synthgen.body.skeleton import joint_index

DOWN, UP, FWD, LEFT = np.array([0, -1.0, 0]), np.array([0, 1.0, 0]), np.array([0, 0, 1.0]), np.array([1.0, 0, 0])
ZERO_ARMS = {"pose.left_shoulder.abduct": 0.0, "pose.right_shoulder.abduct": 0.0}


def seg(out, a, b, i=0):
    v = (out.joints[i, joint_index(b)] - out.joints[i, joint_index(a)]).double().numpy()
    return v / np.linalg.norm(v)


def angle(u, v):
    return float(np.degrees(np.arccos(np.clip(np.dot(u, v), -1, 1))))


def rot(axis, deg):
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(np.radians(deg) * np.asarray(axis)).as_matrix()


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("deg", [0, 45, 90, 135])
def test_elbow_and_knee_flex(body, side, deg):
    out = body(ZERO_ARMS | {f"pose.{side}_elbow.flex": deg, f"pose.{side}_knee.flex": deg})
    upper, fore = seg(out, f"{side}_shoulder", f"{side}_elbow"), seg(out, f"{side}_elbow", f"{side}_wrist")
    assert angle(upper, fore) == pytest.approx(deg, abs=5)
    thigh, shin = seg(out, f"{side}_hip", f"{side}_knee"), seg(out, f"{side}_knee", f"{side}_ankle")
    assert angle(thigh, shin) == pytest.approx(deg, abs=5)
    if deg:
        assert fore[2] > 0.1 and shin[2] < -0.1  # forearm forward, shin backward


@pytest.mark.parametrize("side,sign", [("left", 1), ("right", -1)])
@pytest.mark.parametrize("deg", [30, 90, 160])
def test_shoulder_and_hip_abduction(body, side, sign, deg):
    out = body(ZERO_ARMS | {f"pose.{side}_shoulder.abduct": deg, f"pose.{side}_hip.abduct": min(deg, 45)})
    arm = seg(out, f"{side}_shoulder", f"{side}_elbow")
    expected = rot([0, 0, sign], deg) @ DOWN  # away from the body, in the frontal plane
    assert angle(arm, expected) < 5
    leg = seg(out, f"{side}_hip", f"{side}_knee")
    assert angle(leg, rot([0, 0, sign], min(deg, 45)) @ DOWN) < 5


@pytest.mark.parametrize("deg", [-20, 60, 110])
def test_hip_and_shoulder_flexion_go_forward(body, deg):
    out = body(ZERO_ARMS | {"pose.left_hip.flex": deg, "pose.right_shoulder.flex": deg})
    assert angle(seg(out, "left_hip", "left_knee"), rot([-1, 0, 0], deg) @ DOWN) < 5
    assert angle(seg(out, "right_shoulder", "right_elbow"), rot([-1, 0, 0], deg) @ DOWN) < 5


def test_shoulder_twist_turns_the_bent_forearm_outward(body):
    base = ZERO_ARMS | {"pose.left_elbow.flex": 90, "pose.right_elbow.flex": 90}
    out = body(base | {"pose.left_shoulder.twist": 60, "pose.right_shoulder.twist": 60})
    assert angle(seg(out, "left_elbow", "left_wrist"), rot(UP, 60) @ FWD) < 5
    assert angle(seg(out, "right_elbow", "right_wrist"), rot(UP, -60) @ FWD) < 5


def _rotation_of_segment(body, params, a, b):
    """Angle and direction change of segment a->b between the neutral and the posed body."""
    rest, posed = body({}), body(params)
    return seg(rest, a, b), seg(posed, a, b)


@pytest.mark.parametrize("joint,child,name,axis", [
    ("spine2", "spine3", "pose.spine1.flex", [1, 0, 0]),
    ("neck", "head", "pose.spine3.abduct", [0, 0, -1]),
    ("left_ankle", "left_foot", "pose.left_ankle.flex", [-1, 0, 0]),
    ("left_wrist", "left_hand", "pose.left_wrist.flex", [0, 0, -1]),
    ("right_wrist", "right_hand", "pose.right_wrist.flex", [0, 0, 1]),
])
@pytest.mark.parametrize("deg", [-10, 20])
def test_distal_segment_turns_by_the_angle(body, joint, child, name, axis, deg):
    before, after = _rotation_of_segment(body, {name: deg}, joint, child)
    assert angle(after, rot(axis, deg) @ before) < 5


def test_global_orientation(body):
    for name, axis in (("yaw", [0, 1, 0]), ("pitch", [1, 0, 0]), ("roll", [0, 0, -1])):
        before, after = _rotation_of_segment(body, {f"pose.global.{name}": 40}, "pelvis", "neck")
        assert angle(after, rot(axis, 40) @ before) < 5
        hips_before, hips_after = _rotation_of_segment(body, {f"pose.global.{name}": 40}, "right_hip", "left_hip")
        assert angle(hips_after, rot(axis, 40) @ hips_before) < 5


def test_same_names_same_limb_directions_on_both_backends(anny_body, smpl_body):
    from synthgen.space import ParamSpace
    from synthgen.body.joint_limits import pose_param_names

    space = ParamSpace.of(pose_param_names())
    batch = space.sample(11, n=24)
    a, s = anny_body(batch), smpl_body(batch)
    limbs = [("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"), ("right_hip", "right_knee"),
             ("right_knee", "right_ankle"), ("right_shoulder", "right_elbow"), ("left_knee", "left_ankle")]
    worst = max(angle(seg(a, p, c, i), seg(s, p, c, i)) for i in range(len(batch)) for p, c in limbs)
    assert worst < 5
