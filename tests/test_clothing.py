"""Default garments: they follow the body, stay outside it, and answer their style params."""

import numpy as np
import pytest

from synthgen.clothing.attach import attach
from synthgen.clothing.classes import BOTTOMS, CLASS_IDS, TOPS
from synthgen.clothing.penetration import behind_fraction, winding_numbers
from synthgen.errors import ParamError

OUTFITS = [("t-shirt", "pant"), ("old-t-shirt", "short-pant"), ("shirt", "skirt")]


@pytest.fixture(scope="module")
def wardrobe(anny_body):
    from synthgen.clothing.garments import Wardrobe

    return Wardrobe(anny_body)


def dress(wardrobe, body, pose: dict, top: str, bottom: str, **style):
    out = body(pose)
    params = {"garment.top.class": top, "garment.bottom.class": bottom} | style
    return out, {g.name: g for g in wardrobe.dress(params, out)}


def test_garments_follow_the_body(anny_body, wardrobe):
    from synthgen.body.pose_library import get_pose

    for pose in ({}, get_pose("run") | {"pose.global.yaw": 70.0, "pose.global.pitch": 30.0}):
        out, garments = dress(wardrobe, anny_body, pose, "shirt", "pant")
        verts = out.vertices[0].double().numpy()
        for g in garments.values():
            d = np.linalg.norm(g.vertices - verts[g.anchors], axis=1)
            assert np.percentile(d, 99) < 0.06, g.name  # within a few cm of its body anchor
        _, garments = dress(wardrobe, anny_body, pose, "none", "skirt")
        d = np.linalg.norm(garments["skirt"].vertices - verts[garments["skirt"].anchors], axis=1)
        assert np.percentile(d, 99) < 0.25


def test_no_interpenetration_on_library_and_random_poses(anny_body, wardrobe):
    from synthgen.body.plausibility import plausibility
    from synthgen.body.pose import pose_param_names
    from synthgen.body.pose_library import get_pose, pose_library
    from synthgen.space import ParamSpace

    poses = [get_pose(n) for n in pose_library()]
    space = ParamSpace.of([n for n in pose_param_names() if not n.startswith("pose.global")])
    for p in space.sample(5, n=40):  # random poses the plausibility check accepts
        half = {k: v * 0.5 for k, v in p.items()}
        if plausibility(half, anny_body).plausible:
            poses.append(half)
        if len(poses) >= len(pose_library()) + 5:
            break
    assert len(poses) >= len(pose_library()) + 3
    faces = anny_body.faces.numpy()
    worst = {}
    for i, pose in enumerate(poses):
        top, bottom = OUTFITS[i % 3]
        size = float(i % 2)
        out, garments = dress(wardrobe, anny_body, pose, top, bottom, **{
            "garment.top.size": size, "garment.bottom.size": size, "garment.top.length": 1.0,
            "garment.bottom.length": 1.0})
        for g in garments.values():
            worst[g.name] = max(worst.get(g.name, 0.0), behind_fraction(g.vertices, out.vertices[0].double().numpy(), faces))
    assert set(worst) == set(TOPS + BOTTOMS)
    assert max(worst.values()) < 0.01, worst


def test_winding_number_measure():
    import trimesh

    box = trimesh.creation.box(extents=[1.0, 1.0, 1.0])
    pts = np.array([[0.0, 0.0, 0.0], [0.4, 0.4, 0.4], [0.6, 0.0, 0.0], [2.0, 2.0, 2.0]])
    w = winding_numbers(pts, box.vertices, box.faces)
    assert np.allclose(w, [1, 1, 0, 0], atol=1e-5)
    assert behind_fraction(pts, np.asarray(box.vertices), np.asarray(box.faces)) == 0.5


def _clearance(out, g, faces):
    _, _, signed = attach(g.vertices, out.vertices[0].double().numpy(), faces, k=12)
    return signed


def test_style_parameters_act_monotonically(anny_body, wardrobe):
    faces = anny_body.faces.numpy()
    for top, bottom in OUTFITS:
        means = []
        for size in (0.0, 0.5, 1.0):
            out, g = dress(wardrobe, anny_body, {}, top, bottom, **{"garment.top.size": size,
                                                                    "garment.bottom.size": size})
            means.append([_clearance(out, g[name], faces).mean() for name in (top, bottom)])
        means = np.array(means)
        assert (np.diff(means, axis=0) > 0).all(), (top, bottom, means)  # larger size -> looser
        hems, sleeves = [], []
        for length in (0.0, 0.5, 1.0):
            out, g = dress(wardrobe, anny_body, {}, top, bottom, **{"garment.top.length": length,
                                                                    "garment.bottom.length": length})
            hems.append(g[bottom].vertices[:, 1].min())
            sleeves.append(np.abs(g[top].vertices[:, 0]).max())
        assert hems[0] > hems[1] > hems[2], (bottom, hems)  # longer -> lower hem
        assert sleeves[0] < sleeves[1] < sleeves[2], (top, sleeves)  # longer -> longer sleeves


def test_bad_garment_input(anny_body, smpl_body, wardrobe):
    from synthgen.clothing.garments import Wardrobe

    with pytest.raises(ParamError, match="garment.top.class.*anny"):
        Wardrobe(smpl_body)
    with pytest.raises(ParamError, match="garment.bottom.class"):
        wardrobe.dress({"garment.bottom.class": "t-shirt"}, anny_body({}))
    from synthgen.space import ParamSpace

    with pytest.raises(ParamError, match="garment.top.class"):
        ParamSpace.of(["garment.top.class"]).validate({"garment.top.class": "hoodie"})


def test_rendered_garments_are_labelled(anny_body):
    from synthgen.render.renderer import Renderer
    from synthgen.scene import SceneConfig
    from synthgen.space import ParamSpace

    r = Renderer(SceneConfig(ParamSpace.of(["garment.top.class", "garment.bottom.class"]), 128, 128))
    s = r.render({"garment.top.class": "shirt", "garment.bottom.class": "pant", "camera.distance": 2.6}, seed=0)
    cls = s.garment_class
    assert set(np.unique(cls)) == {0, CLASS_IDS["shirt"], CLASS_IDS["pant"]}
    assert ((cls > 0) == (s.garment == 1)).all() and (s.mask_visible[cls > 0]).all()
    # under a garment pixel: the body surface point behind it (DensePose-style correspondence)
    ys, xs = np.nonzero(cls > 0)
    out = anny_body(s.params)
    verts = out.vertices[0].double().numpy() @ s.R.T + s.t
    body_pts = (verts[s.vertex_ids[ys, xs]] * s.bary[ys, xs][..., None]).sum(1)
    gap = body_pts[:, 2] - s.depth[ys, xs]
    assert np.percentile(gap, 5) > -0.01 and np.percentile(gap, 95) < 0.12
    assert set(np.unique(s.parts[cls > 0])) <= set(range(1, 25))
