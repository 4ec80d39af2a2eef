"""Derived factors (what the image shows) on constructed samples with known answers, on rendered
scenes, and a planted mode on a derived factor that the map names."""

from types import SimpleNamespace

import numpy as np
import pytest

from synthgen.body.skeleton import COCO_KEYPOINTS, SMPL_JOINTS
from synthgen.derived import FACTORS, derived_factors, geometric_factors

K = np.array([[100.0, 0, 50], [0, 100.0, 50], [0, 0, 1]])
KP = {n: i for i, n in enumerate(COCO_KEYPOINTS)}


def standing(z: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """COCO keypoints and SMPL joints of a stick person 1.7 m tall facing the camera, at depth z."""
    kp = np.zeros((17, 3))
    heights = {"nose": -0.75, "left_eye": -0.77, "right_eye": -0.77, "left_ear": -0.75, "right_ear": -0.75,
               "left_shoulder": -0.5, "right_shoulder": -0.5, "left_elbow": -0.2, "right_elbow": -0.2,
               "left_wrist": 0.05, "right_wrist": 0.05, "left_hip": 0.0, "right_hip": 0.0,
               "left_knee": 0.45, "right_knee": 0.45, "left_ankle": 0.9, "right_ankle": 0.9}
    for name, y in heights.items():
        # the person's left is the image's right when they face the camera
        side = 0.2 if name.startswith("left") else -0.2 if name.startswith("right") else 0.0
        kp[KP[name]] = [side, y, z]
    joints = np.zeros((24, 3))
    for i, name in enumerate(SMPL_JOINTS):
        side = 0.15 if name.startswith("left") else -0.15 if name.startswith("right") else 0.0
        joints[i] = [side, {"pelvis": 0.0, "neck": -0.55, "head": -0.7}.get(name, 0.1 * (i % 5) - 0.2), z]
    # a body that faces the camera: its front (cross(left, up)) points towards -z
    joints[SMPL_JOINTS.index("left_hip")] = [0.1, 0.0, z]
    joints[SMPL_JOINTS.index("right_hip")] = [-0.1, 0.0, z]
    return kp, joints


def project(points: np.ndarray) -> np.ndarray:
    return (points @ K.T)[:, :2] / points[:, 2:3]


def sample(H=100, W=100, **kw):
    kp3, j3 = standing()
    base = dict(image=np.zeros((H, W, 3), np.uint8), mask_amodal=np.zeros((H, W), bool),
                mask_visible=np.zeros((H, W), bool), objects=np.zeros((H, W), np.uint8),
                keypoints3d=kp3, joints3d=j3, keypoints2d=project(kp3), visibility=np.full(17, 2), K=K)
    return SimpleNamespace(**(base | kw))


def test_a_person_of_known_pixel_height_and_an_occluder_of_known_share():
    s = sample()
    s.mask_amodal[20:60, 40:50] = True  # 40 px tall, 10 wide
    s.mask_visible[:] = s.mask_amodal
    s.objects[s.mask_amodal] = 1
    s.objects[20:30, 40:50] = 2  # an occluder over the top quarter of the silhouette
    s.mask_visible[20:30, 40:50] = False
    d = derived_factors(s)
    assert set(d) == set(FACTORS)
    assert d["person_height_px"] == 40 and d["person_box_area_px"] == 400
    assert d["mask_occluded"] == pytest.approx(0.25)


def test_keypoint_shares_contrast_and_facing():
    s = sample()
    s.visibility = np.array([2] * 10 + [1] * 4 + [0] * 3)
    for i in (10, 11):  # two of the occluded keypoints sit behind an occluder
        x, y = np.round(s.keypoints2d[i]).astype(int)
        s.objects[y, x] = 2
    s.mask_visible[30:70, 30:70] = True
    s.mask_amodal[:] = s.mask_visible
    s.image[s.mask_visible] = 200
    s.image[~s.mask_visible] = 47
    d = derived_factors(s)
    assert d["keypoints_visible"] == pytest.approx(10 / 17)
    assert d["keypoints_occluded_by_object"] == pytest.approx(2 / 17)
    assert d["keypoints_self_occluded"] == pytest.approx(2 / 17)
    assert d["background_contrast"] == pytest.approx((200 - 47) / 255, abs=1e-3)
    assert d["facing_angle_deg"] < 1.0  # facing the camera
    turned = sample(joints3d=standing()[1] * np.array([-1, 1, 1]) + np.array([0, 0, 10]))  # mirrored: its back
    assert geometric_factors(turned.keypoints2d, turned.keypoints3d, turned.joints3d, K, 100, 100)[
        "facing_angle_deg"] > 179.0


def test_a_limb_pointing_at_the_camera_is_foreshortened():
    kp3, j3 = standing()
    across = geometric_factors(project(kp3), kp3, j3, K, 100, 100)
    assert across["foreshortening_left_forearm"] == pytest.approx(1.0, abs=0.01)
    pointing = kp3.copy()
    elbow = pointing[KP["left_elbow"]]
    pointing[KP["left_wrist"]] = elbow - 0.25 * elbow / np.linalg.norm(elbow)  # the forearm at the camera
    d = geometric_factors(project(pointing), pointing, j3, K, 100, 100)
    assert d["foreshortening_left_forearm"] < 1e-6 and d["foreshortening_min"] == d["foreshortening_left_forearm"]
    assert d["foreshortening_right_forearm"] == pytest.approx(1.0, abs=0.01)
    half = kp3.copy()  # 60 degrees out of the image plane: half its length
    half[KP["left_wrist"]] = half[KP["left_elbow"]] + 0.25 * np.array([0, np.cos(np.radians(60)), np.sin(np.radians(60))])
    assert geometric_factors(project(half), half, j3, K, 100, 100)["foreshortening_left_forearm"] == \
        pytest.approx(0.5, abs=0.03)
    # pixel factors need pixels; a joint outside the image is truncation
    assert d["mask_occluded"] is None and d["truncation"] == 0.0
    far_left = j3 + np.array([-3.0, 0, 0])
    assert geometric_factors(project(kp3), kp3, far_left, K, 100, 100)["truncation"] == 1.0


@pytest.fixture(scope="module")
def renderer():
    from synthgen.render.renderer import Renderer
    from synthgen.scene import SceneConfig

    config = SceneConfig.from_yaml("scenes/full.yaml", 128)
    return Renderer(config), config.space.defaults() | {"pose.preset": "stand", "occluder.kind": "none",
                                                        "camera.pitch": 0.0, "camera.roll": 0.0, "camera.fov": 40.0,
                                                        "camera.offset_x": 0.0, "camera.offset_y": 0.0}


def test_rendered_people_halve_in_height_at_twice_the_distance_and_face_the_camera(renderer):
    r, base = renderer
    near = derived_factors(r.render(base | {"camera.distance": 3.0, "camera.yaw": 0.0}, 0))
    far = derived_factors(r.render(base | {"camera.distance": 6.0, "camera.yaw": 0.0}, 0))
    assert near["person_height_px"] / far["person_height_px"] == pytest.approx(2.0, rel=0.06)
    assert near["facing_angle_deg"] < 15 and near["keypoints_visible"] == 1.0 and near["truncation"] == 0.0
    behind = derived_factors(r.render(base | {"camera.distance": 3.0, "camera.yaw": 180.0}, 0))
    assert behind["facing_angle_deg"] > 165
    boxed = derived_factors(r.render(base | {"camera.distance": 3.0, "occluder.kind": "box", "occluder.size": 0.6,
                                             "occluder.x": 0.0, "occluder.y": 0.0}, 0))
    assert boxed["mask_occluded"] > 0.1 and near["mask_occluded"] == 0.0


def test_a_mode_planted_on_person_height_is_named_by_the_map(tmp_path):
    from examiner.map import run_map

    (tmp_path / "space.yaml").write_text(
        "image: {width: 128, height: 128}\nsearch: [camera.distance, camera.fov, shape.height, camera.yaw, "
        "light.ambient]\ndims:\n  camera.distance: [2, 9]\n  camera.fov: [20, 80]\n  shape.height: [0, 1]\n"
        "  camera.yaw: [-180, 180]\n  light.ambient: [0, 0.6]\nfixed:\n  pose.preset: stand\n")
    (tmp_path / "planted.yaml").write_text(
        "regions:\n  - name: small\n    bounds: {person_height_px: [0, 40]}\n    effect: drop\n")
    r = run_map(f"planted:{tmp_path / 'planted.yaml'}", tmp_path / "space.yaml", 300, tmp_path / "map", seed=1)
    modes = r["derived"]["modes"]
    assert modes and list(modes[0]["bounds"]) == ["person_height_px"]
    lo, hi = modes[0]["bounds"]["person_height_px"]
    assert hi == pytest.approx(40, abs=6) and modes[0]["failure_rate"] > 0.9
    assert r["derived"]["sensitivity"][0]["name"] in ("person_height_px", "person_box_area_px")
    # the scene modes it describes say so, and the derived one is the simpler description
    linked = [m for m in r["regions"] if m.get("derived")]
    assert linked and all(m["derived"]["mode"] == "d1" for m in linked)
    assert any(m["derived"]["verdict"] == "derived" for m in linked)


def test_generation_by_a_mode_in_derived_factors(tmp_path):
    import json

    from synthgen.dataset.generate import generate
    from synthgen.errors import ParamError

    scene = tmp_path / "scene.yaml"
    scene.write_text("image: {width: 64, height: 64}\ndims:\n  camera.distance: [2, 9]\n  camera.fov: [20, 80]\n"
                     "fixed:\n  pose.preset: stand\n  garment.top.class: none\n  garment.bottom.class: none\n")
    modes = tmp_path / "failures.json"
    modes.write_text(json.dumps({"regions": [], "derived": {"modes": [{"id": "d1", "bounds": {
        "person_height_px": [0, 20]}}]}}))
    summary = generate(scene, 6, tmp_path / "small", seed=2, formats="coco", regions=modes, derived=True)
    assert summary.probe["d1"][0] > 0 and summary.draws >= 6
    metas = [json.loads(p.read_text()) for p in sorted((tmp_path / "small").glob("shards/*/meta/*.json"))]
    assert len(metas) == 6 and all(m["region"] == "d1" and m["bbox"][3] <= 20 for m in metas)
    # the same samples again (rejection draws come from each sample's own generator)
    again = generate(scene, 6, tmp_path / "again", seed=2, formats="coco", regions=modes, derived=True)
    assert again.draws == summary.draws
    assert [p.read_bytes() for p in sorted((tmp_path / "again").glob("shards/*/meta/*.json"))] == \
        [p.read_bytes() for p in sorted((tmp_path / "small").glob("shards/*/meta/*.json"))]
    # a mode the scene cannot reach fails before anything is written
    modes.write_text(json.dumps({"derived": {"modes": [{"id": "d1", "bounds": {"person_height_px": [0, 1]}}]}}))
    with pytest.raises(ParamError, match="--from-regions"):
        generate(scene, 6, tmp_path / "never", seed=2, formats="coco", regions=modes, derived=True)
    assert not (tmp_path / "never").exists()
