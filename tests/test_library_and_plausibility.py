import pytest
import torch

from synthgen.body.plausibility import plausibility
from synthgen.body.pose_library import get_pose, pose_library
from synthgen.pose_files import load_pose_file
from synthgen.errors import ParamError


def test_library_has_the_named_poses():
    lib = pose_library()
    assert len(lib) >= 15
    for name in ("t_pose", "a_pose", "stand", "walk", "run", "sit", "squat", "kneel", "lie", "arms_up",
                 "arms_crossed", "wave", "kick", "bend_forward", "reach"):
        assert name in lib and lib[name].description


def test_library_poses_pose_both_bodies(body):
    batch = [get_pose(n) for n in pose_library()]
    out = body(batch)
    assert torch.isfinite(out.vertices).all()


def test_pose_file_errors_name_file_line_and_key(tmp_path):
    p = tmp_path / "poses.yaml"
    p.write_text("poses:\n  bad:\n    angles:\n      pose.left_elbow.flex: 10\n      pose.left_elbow.flx: 3\n")
    with pytest.raises(ParamError) as e:
        load_pose_file(p)
    assert e.value.key == "pose.left_elbow.flx" and e.value.where == f"{p}:5"
    with pytest.raises(ParamError, match="unknown library pose"):
        get_pose("moonwalk")


def test_plausibility_on_poses(anny_body, smpl_body):
    good = plausibility(get_pose("t_pose"), anny_body)
    assert good.plausible and good.intersecting_faces == 0
    # the forearm driven through the chest
    crossed = {"pose.left_shoulder.flex": 60, "pose.left_shoulder.abduct": -40, "pose.left_shoulder.twist": -70,
               "pose.left_elbow.flex": 140}
    bad = plausibility(crossed, anny_body)
    assert bad.intersecting_faces > 0 and not bad.plausible
    over = plausibility({"pose.left_knee.flex": 170}, anny_body)
    assert over.limit_violations == {"pose.left_knee.flex": (170.0, -5.0, 150.0)}
    assert not over.plausible
    # the synthetic SMPL-format body is overlapping capsules: compare with its neutral pose
    assert plausibility(crossed, smpl_body).intersecting_faces > plausibility({}, smpl_body).intersecting_faces
