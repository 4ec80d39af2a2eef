"""Skeleton vocabularies shared by every body backend: SMPL-24 joints, COCO-17 keypoints and
DensePose's 24 body parts."""

from __future__ import annotations

SMPL_JOINTS: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)
SMPL_PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21,
)
#: The 21 body joints driven by named angles (SMPL-X's body_pose joints; SMPL indices 1..21).
POSED_JOINTS: tuple[str, ...] = SMPL_JOINTS[1:22]

COCO_KEYPOINTS: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
#: COCO's person skeleton (1-based keypoint indices, as in COCO's category record).
COCO_SKELETON: tuple[tuple[int, int], ...] = (
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8),
    (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7),
)
#: DensePose's 24 part ids (0 is background), as in DensePose-COCO.
DENSEPOSE_PARTS: dict[int, str] = {
    1: "torso_back", 2: "torso_front", 3: "right_hand", 4: "left_hand",
    5: "left_foot", 6: "right_foot",
    7: "upper_leg_right_back", 8: "upper_leg_left_back",
    9: "upper_leg_right_front", 10: "upper_leg_left_front",
    11: "lower_leg_right_back", 12: "lower_leg_left_back",
    13: "lower_leg_right_front", 14: "lower_leg_left_front",
    15: "upper_arm_left_front", 16: "upper_arm_right_front",
    17: "upper_arm_left_back", 18: "upper_arm_right_back",
    19: "lower_arm_left_front", 20: "lower_arm_right_front",
    21: "lower_arm_left_back", 22: "lower_arm_right_back",
    23: "head_right", 24: "head_left",
}
DENSEPOSE_PART_IDS: dict[str, int] = {v: k for k, v in DENSEPOSE_PARTS.items()}


def joint_index(name: str) -> int:
    return SMPL_JOINTS.index(name)


#: DensePose-COCO's 14 coarse segments (``dp_masks``) and the fine parts each one joins.
DENSEPOSE_COARSE: dict[int, tuple[str, tuple[int, ...]]] = {
    1: ("torso", (1, 2)), 2: ("right_hand", (3,)), 3: ("left_hand", (4,)), 4: ("left_foot", (5,)),
    5: ("right_foot", (6,)), 6: ("upper_leg_right", (7, 9)), 7: ("upper_leg_left", (8, 10)),
    8: ("lower_leg_right", (11, 13)), 9: ("lower_leg_left", (12, 14)), 10: ("upper_arm_left", (15, 17)),
    11: ("upper_arm_right", (16, 18)), 12: ("lower_arm_left", (19, 21)), 13: ("lower_arm_right", (20, 22)),
    14: ("head", (23, 24)),
}
