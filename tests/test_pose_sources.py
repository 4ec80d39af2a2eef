import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from synthgen.body.joint_limits import pose_param_names
from synthgen.body.pose import anatomical_rotations, angles_from_params, neutral_corrections
from synthgen.body.pose_sources import ZUP_TO_YUP, load_amass, load_bvh
from synthgen.body.skeleton import SMPL_JOINTS, SMPL_PARENTS
from synthgen.body.smpl_synthetic import t_pose_joints
from synthgen.errors import ConfigError
from synthgen.space import ParamSpace


def _poses(n=4, seed=3):
    """Random poses well inside the limits (so that no clamping happens)."""
    space = ParamSpace.of(pose_param_names())
    vecs = np.random.default_rng(seed).uniform(-0.6, 0.6, (n, len(space)))
    return [space.from_vector(v) for v in vecs]


def _local_rotations(poses):
    """(T, 24, 3, 3) rest-relative rotations on the SMPL-like T-pose skeleton (the definition)."""
    angles, glob = angles_from_params(poses, dtype=torch.float64)
    A = anatomical_rotations(angles, glob)
    N = neutral_corrections(torch.as_tensor(t_pose_joints())[None].expand(len(poses), -1, -1))
    L = torch.eye(3, dtype=torch.float64).repeat(len(poses), 24, 1, 1)
    L[:, 1:22] = N[:, list(SMPL_PARENTS[1:22])].transpose(-1, -2) @ A.full @ N[:, 1:22]
    L[:, 0] = A.global_rot
    return L.numpy()


def _close(a, b):
    return max(abs(a[k] - b[k]) for k in a)


def test_amass_round_trip(tmp_path):
    poses = _poses()
    L = _local_rotations(poses)
    L[:, 0] = ZUP_TO_YUP.T @ L[:, 0]  # AMASS roots live in a Z-up world
    rotvec = Rotation.from_matrix(L[:, :22].reshape(-1, 3, 3)).as_rotvec().reshape(len(poses), 66)
    path = tmp_path / "seq_poses.npz"
    np.savez(path, poses=np.c_[rotvec, np.zeros((len(poses), 90))], trans=np.zeros((len(poses), 3)),
             mocap_framerate=np.array(120.0))
    got = load_amass(path)
    assert len(got) == len(poses) and got.fps == 120.0
    for want, have in zip(poses, got.poses):
        assert _close(want, have) < 0.01
    assert load_amass(path, stride=2).poses == got.poses[::2]


BVH_NAMES = {
    "pelvis": "Hips", "left_hip": "LeftUpLeg", "left_knee": "LeftLeg", "left_ankle": "LeftFoot",
    "left_foot": "LeftToeBase", "spine1": "Spine", "spine2": "Spine1", "spine3": "Spine2", "neck": "Neck",
    "head": "Head", "left_collar": "LeftShoulder", "left_shoulder": "LeftArm", "left_elbow": "LeftForeArm",
    "left_wrist": "LeftHand",
}


def _bvh_name(j):
    if j.startswith("right_"):
        return BVH_NAMES["left_" + j[6:]].replace("Left", "Right")
    return BVH_NAMES[j]


def _write_bvh(path, poses):
    J = t_pose_joints() * 100.0  # centimetres, as in most BVH files
    children = {i: [c for c, p in enumerate(SMPL_PARENTS) if p == i and c < 22] for i in range(22)}
    lines = ["HIERARCHY"]

    def emit(i, depth):
        pad = "  " * depth
        off = J[i] - (J[SMPL_PARENTS[i]] if i else 0)
        lines.append(f"{pad}{'ROOT' if i == 0 else 'JOINT'} {_bvh_name(SMPL_JOINTS[i])}")
        lines.append(pad + "{")
        lines.append(f"{pad}  OFFSET {off[0]:.6f} {off[1]:.6f} {off[2]:.6f}")
        ch = "6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" if i == 0 else "3 Zrotation Xrotation Yrotation"
        lines.append(f"{pad}  CHANNELS {ch}")
        for c in children[i]:
            emit(c, depth + 1)
        if not children[i]:
            lines.extend([f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET 0 5 0", pad + "  }"])
        lines.append(pad + "}")

    emit(0, 0)
    L = _local_rotations(poses)
    order = []

    def walk(i):
        order.append(i)
        for c in children[i]:
            walk(c)

    walk(0)
    lines += ["MOTION", f"Frames: {len(poses)}", "Frame Time: 0.033333"]
    for t in range(len(poses)):
        vals = [0.0, 90.0, 0.0]
        for i in order:
            vals += list(Rotation.from_matrix(L[t, i]).as_euler("ZXY", degrees=True))
        lines.append(" ".join(f"{v:.6f}" for v in vals))
    path.write_text("\n".join(lines) + "\n")


def test_bvh_round_trip(tmp_path):
    poses = _poses(3, seed=5)
    path = tmp_path / "clip.bvh"
    _write_bvh(path, poses)
    got = load_bvh(path)
    assert len(got) == 3 and got.fps == pytest.approx(30.0, rel=1e-3)
    for want, have in zip(poses, got.poses):
        assert _close(want, have) < 0.01


def test_bad_motion_files(tmp_path):
    bad = tmp_path / "bad.bvh"
    bad.write_text("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0\n")
    with pytest.raises(ConfigError, match="bad.bvh"):
        load_bvh(bad)
    np.savez(tmp_path / "x.npz", trans=np.zeros((2, 3)))
    with pytest.raises(ConfigError, match="no 'poses'"):
        load_amass(tmp_path / "x.npz")
    np.savez(tmp_path / "y.npz", poses=np.full((2, 72), np.nan))
    with pytest.raises(ConfigError, match="NaN"):
        load_amass(tmp_path / "y.npz")


def test_out_of_limit_frames_are_clamped_and_reported(tmp_path):
    rot = np.zeros((1, 72))
    rot[0, 3 * 18:3 * 18 + 3] = [0.0, 3.0, 0.0]  # a left elbow turned ~170 deg
    np.savez(tmp_path / "z.npz", poses=rot)
    got = load_amass(tmp_path / "z.npz")
    assert got.clamped[0]
    space = ParamSpace.of(pose_param_names())
    space.validate(got.poses[0])  # inside the limits after clamping
