"""Default garments: they follow the body, stay outside it, and answer their style params."""

import numpy as np
import pytest
import torch

from synthgen.clothing.attach import attach
from synthgen.clothing.classes import BOTTOMS, CLASS_IDS, TOPS
from synthgen.clothing.penetration import behind_fraction, crossing_numbers, inside_fraction, winding_numbers
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
    from synthgen.body.joint_limits import pose_param_names
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


def test_winding_number_measure(anny_body):
    import trimesh

    from synthgen.body.pose_library import get_pose

    box = trimesh.creation.box(extents=[1.0, 1.0, 1.0])
    pts = np.array([[0.0, 0.0, 0.0], [0.4, 0.4, 0.4], [0.6, 0.0, 0.0], [2.0, 2.0, 2.0]])
    w = winding_numbers(pts, box.vertices, box.faces)
    assert np.allclose(w, [1, 1, 0, 0], atol=1e-5)
    assert (crossing_numbers(pts, box.vertices, box.faces) == [1, 1, 0, 0]).all()  # a ray along an edge too
    assert behind_fraction(pts, np.asarray(box.vertices), np.asarray(box.faces)) == 0.5
    assert inside_fraction(pts, np.asarray(box.vertices), np.asarray(box.faces)) == 0.5
    # on a body sitting, whose thighs pass into the belly (winding number 2 there), the fast
    # count of ray crossings is the winding number
    out = anny_body(get_pose("sit"))
    verts, faces = out.vertices[0].double().numpy(), anny_body.faces.numpy()
    rng = np.random.default_rng(0)
    pts = verts[rng.integers(0, len(verts), 120)] + rng.normal(size=(120, 3)) * 0.02
    w = winding_numbers(pts, verts, faces)
    assert np.allclose(w, np.round(w), atol=1e-3)
    assert (crossing_numbers(pts, verts, faces) == np.round(w)).all()
    assert {0, 1} <= set(np.round(w).astype(int))


def test_garments_stay_outside_the_body_by_winding_number(anny_body, wardrobe):
    """Garment vertices inside the body by its winding number (not only behind the face
    nearest to them), in poses where the body does not pass through itself."""
    from synthgen.body.pose_library import get_pose

    faces = anny_body.faces.numpy()
    worst = {}
    for name in ("a_pose", "stand", "walk", "run", "wave", "reach", "hands_on_hips"):
        for i, (top, bottom) in enumerate(OUTFITS):
            out, garments = dress(wardrobe, anny_body, get_pose(name), top, bottom, **{
                "garment.top.size": float(i % 2), "garment.bottom.size": float(i % 2),
                "garment.top.length": 1.0, "garment.bottom.length": 1.0})
            verts = out.vertices[0].double().numpy()
            for g in garments.values():
                worst[g.name] = max(worst.get(g.name, 0.0), inside_fraction(g.vertices, verts, faces))
    assert max(worst.values()) < 0.015, worst


def test_skinned_garments_match_surface_placement(anny_body, wardrobe):
    """Garments fitted once in the rest pose and carried by the body's skinning land where
    placing them on the posed surface (each vertex on the posed body face it hangs from, the
    same distance out along the posed normal) would, on random poses and shapes: within a
    few millimetres for snug garments; loose ones part more where the skin bends, by their
    distance from it times the turn of the normal."""
    from synthgen.body.joint_limits import pose_param_names
    from synthgen.body.plausibility import plausibility
    from synthgen.clothing.clearance import vertex_normals
    from synthgen.space import ParamSpace

    faces = anny_body.faces.numpy()
    names = [n for n in pose_param_names() if not n.startswith("pose.global")]
    space = ParamSpace.of(names + list(anny_body.shape_params) + ["pose.global.yaw"])
    tested = 0
    for p in space.sample(3, n=40):
        p = {k: v * 0.5 if k in names else v for k, v in p.items()}
        if not plausibility(p, anny_body).plausible:
            continue
        out = anny_body(p)
        verts = out.vertices[0].double().numpy()
        normals = vertex_normals(verts, faces)
        rest = out.rest_vertices[0].double().numpy()
        for name in ("t-shirt", "old-t-shirt", "shirt", "pant", "short-pant"):
            for size, median_mm, p90_mm in ((0.0, 1.5, 5.0), (1.0, 4.0, 20.0)):
                g = wardrobe.rest_garment(name, size, 1.0, rest)
                x = wardrobe.pose([g], out)[0]
                corner = faces[g.face]
                n = (g.bary[:, :, None] * normals[corner]).sum(1)
                surface = (g.bary[:, :, None] * verts[corner]).sum(1) + g.offset[:, None] * (
                    n / np.linalg.norm(n, axis=1, keepdims=True))
                d = 1000 * np.linalg.norm(x - surface, axis=1)
                assert np.median(d) < median_mm and np.percentile(d, 90) < p90_mm, (name, size, np.percentile(d, [50, 90]))
        tested += 1
        if tested == 4:
            break
    assert tested == 4


def test_body_skinning_carries_points(anny_body):
    """BodyOutput.skin with the body's own weights gives back its posed vertices."""
    from synthgen.body.pose_library import get_pose
    from synthgen.clothing.garments import sparse_rows

    out = anny_body([get_pose("run"), get_pose("wave") | {"shape.weight": 0.9}])
    bones, weights = sparse_rows(out.skin_weights.double().numpy())
    posed = out.skin(out.rest_vertices.double(), bones, weights)
    assert posed.shape == out.vertices.shape
    assert torch.allclose(posed.float(), out.vertices, atol=1e-5)
    assert torch.allclose(out.skin(out.rest_vertices[1].double(), bones, weights, index=1), posed[1])


def test_rest_garments_are_cached_by_shape_and_style(anny_body):
    """A garment is fitted once per body shape and style; what is cached is a pure function
    of the key, so that a sample's garments do not depend on what was dressed before it."""
    from synthgen.body.pose_library import get_pose
    from synthgen.clothing.garments import Wardrobe

    params = [{"garment.top.class": "shirt", "garment.bottom.class": "skirt", "garment.top.size": 0.4},
              {"garment.top.class": "t-shirt", "garment.bottom.class": "pant", "garment.bottom.length": 0.2}]
    outs = [anny_body(get_pose("walk")), anny_body(get_pose("wave") | {"shape.weight": 0.8}), anny_body(get_pose("sit"))]
    fresh = {(i, j): [g.vertices for g in Wardrobe(anny_body).dress(p, o)]
             for i, p in enumerate(params) for j, o in enumerate(outs)}
    shared = Wardrobe(anny_body)
    for key in [(0, 0), (1, 1), (0, 2), (1, 0), (0, 0), (1, 2), (0, 1), (1, 1)]:  # hits and misses, any order
        dressed = shared.dress(params[key[0]], outs[key[1]])
        assert all(np.array_equal(a, b.vertices) for a, b in zip(fresh[key], dressed)), key
    assert len(shared._rest) == 8  # (shirt, skirt, t-shirt, pant) x 2 shapes (walk and sit share one)


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


def test_body_surface_finds_the_exact_closest_face_the_same_way_in_any_order(anny_body, wardrobe):
    """The surface's closest face is the closest of all faces (brute force, float64), and a
    surface that saw other poses first answers a pose exactly as a fresh one does."""
    from synthgen.body.pose_library import get_pose
    from synthgen.clothing.attach import closest_point_on_triangles
    from synthgen.clothing.surface import BodySurface

    faces = anny_body.faces.numpy()
    verts = anny_body(get_pose("sit")).vertices[0].double().numpy()
    rng = np.random.default_rng(0)
    points = verts[rng.choice(len(verts), 300)] + rng.normal(scale=0.02, size=(300, 3))
    fresh = BodySurface(wardrobe.template, faces)
    face, bary, signed, normal = fresh.pose(verts).closest(points, np.inf)
    assert (face >= 0).all() and np.allclose(np.linalg.norm(normal, axis=1), 1.0)
    tri = verts[faces]
    best = np.empty(len(points))
    for i, p in enumerate(points):  # every face
        b = closest_point_on_triangles(np.broadcast_to(p, (len(tri), 3)), tri[:, 0], tri[:, 1], tri[:, 2])
        best[i] = np.linalg.norm(p - np.einsum("nk,nkd->nd", b, tri), axis=1).min()
    found = np.linalg.norm(points - np.einsum("nk,nkd->nd", bary, tri[face]), axis=1)
    assert np.abs(found - best).max() < 1e-6
    assert (np.abs(signed) <= found + 1e-9).all()  # the offset's part along the face normal
    used = BodySurface(wardrobe.template, faces)
    for name in ("run", "kick"):
        used.pose(anny_body(get_pose(name)).vertices[0].double().numpy()).closest(points, np.inf)
    again = used.pose(verts).closest(points, np.inf)
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(again, (face, bary, signed, normal)))
    assert (fresh.closest(points, 0.005)[0] == -1).any()  # nothing within max_dist: -1


def test_push_out_clears_points_to_the_gap():
    """Points inside a closed surface (within reach) and points closer than the gap end up the
    gap in front of the closest face; points deeper than reach and points clear of it stay."""
    import trimesh

    from synthgen.clothing.clearance import push_out
    from synthgen.clothing.surface import BodySurface

    box = trimesh.creation.box(extents=(0.4, 0.4, 0.4))
    surface = BodySurface(np.asarray(box.vertices), np.asarray(box.faces))
    x = np.array([[0.0, 0.0, 0.19], [0.05, -0.02, 0.201], [0.0, 0.0, 0.0], [0.0, 0.0, 0.25]])
    y = push_out(x, surface, gap=0.002, reach=0.1)
    assert np.allclose(y[:2, 2], 0.202) and np.allclose(y[:2, :2], x[:2, :2])
    assert np.array_equal(y[2:], x[2:])  # 0.2 deep (beyond reach), 0.05 clear
