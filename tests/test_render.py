"""Ground-truth correctness of rendered samples (asserted, not eyeballed)."""

import numpy as np
import pytest

from synthgen.scene import SceneConfig
from synthgen.space import ParamSpace

NAMES = ["pose.preset", "camera.yaw", "camera.pitch", "camera.distance", "occluder.kind", "occluder.x",
         "occluder.y", "occluder.size", "occluder.depth", "background.kind", "skin.tone"]


@pytest.fixture(scope="module")
def renderer():
    from synthgen.render.renderer import Renderer

    return Renderer(SceneConfig(ParamSpace.of(NAMES), 160, 128))


BASE = {"pose.preset": "walk", "camera.yaw": 25.0, "camera.distance": 2.6, "background.kind": "solid"}


@pytest.fixture(scope="module")
def sample(renderer):
    return renderer.render(BASE, seed=3)


def world_vertices(renderer, sample):
    return renderer.body(sample.params).vertices[0].double().numpy()


def test_keypoints_project_with_K(sample):
    p = sample.keypoints3d.astype(np.float64) @ sample.K.T
    assert np.abs(p[:, :2] / p[:, 2:] - sample.keypoints2d).max() < 0.5
    assert (sample.visibility > 0).sum() >= 15


def test_camera_maps_world_joints(renderer, sample):
    joints_world = renderer.body(sample.params).joints[0].double().numpy()
    assert np.abs(joints_world @ sample.R.T + sample.t - sample.joints3d).max() < 1e-4


def test_surface_points_land_on_their_pixels(renderer, sample):
    verts = world_vertices(renderer, sample) @ sample.R.T + sample.t
    ys, xs = np.nonzero(sample.mask_visible)
    pick = np.random.default_rng(0).choice(len(xs), size=min(400, len(xs)), replace=False)
    ys, xs = ys[pick], xs[pick]
    ids, bary = sample.vertex_ids[ys, xs], sample.bary[ys, xs].astype(np.float64)
    points = (verts[ids] * bary[..., None]).sum(1)
    uv = points @ sample.K.T
    uv = uv[:, :2] / uv[:, 2:]
    assert np.abs(uv - np.stack([xs, ys], 1)).max() < 1.0
    assert np.abs(points[:, 2] - sample.depth[ys, xs]).max() < 0.01


def test_parts_and_iuv_agree_with_vertex_labels(renderer, sample):
    out = renderer.body(sample.params)
    labels = out.part_labels.numpy()
    fg = sample.mask_visible
    ids, bary = sample.vertex_ids[fg], sample.bary[fg]
    main = labels[ids[np.arange(len(ids)), bary.argmax(1)]]
    assert np.array_equal(sample.parts[fg], main)
    assert (sample.parts[~fg] == 0).all()
    uv = sample.uv[fg]
    assert uv.min() >= 0 and uv.max() <= 1
    # where the three vertices share the part, U, V is the plain interpolation
    same = (labels[ids] == main[:, None]).all(1)
    expected = (out.part_uv.numpy()[ids[same]] * bary[same][..., None]).sum(1)
    assert np.abs(uv[same] - expected).max() < 1e-4
    assert set(np.unique(sample.parts[fg])) <= set(range(1, 25))


def test_masks_depth_normals(sample):
    assert (sample.mask_visible <= sample.mask_amodal).all()
    assert ((sample.depth > 0) == (sample.objects > 0)).all()
    n = sample.normals[sample.mask_visible]
    assert np.allclose(np.linalg.norm(n, axis=1), 1, atol=1e-4)
    assert (n[:, 2] < 0.2).mean() > 0.95  # facing the camera (camera looks along +z)
    x, y, w, h = sample.bbox
    ys, xs = np.nonzero(sample.mask_visible)
    assert x == xs.min() - 0.5 and y == ys.min() - 0.5 and w == np.ptp(xs) + 1 and h == np.ptp(ys) + 1


def test_rgb_is_aligned_with_the_exact_mask(sample):
    bg = sample.image[0, 0].astype(int)
    differs = (np.abs(sample.image.astype(int) - bg).max(-1) > 12)
    inter = (differs & sample.mask_visible).sum()
    union = (differs | sample.mask_visible).sum()
    assert inter / union > 0.9


def test_rgb_pixels_average_samples_on_the_label_grid():
    """A quad whose edge passes through a column of pixel centres (where the labels' raster
    samples) covers half of each of those pixels in the image and all or none of the others:
    the supersampled pixels sit on the labels' pixel grid."""
    from types import SimpleNamespace

    from synthgen.camera import Camera
    from synthgen.render.gl import render_rgb

    W, H, edge, z = 32, 24, 10, 2.0
    K = np.array([[40.0, 0.0, 15.5], [0.0, 40.0, 11.5], [0.0, 0.0, 1.0]])
    x0 = (edge - K[0, 2]) * z / K[0, 0]
    quad = {"positions": np.array([[x0, -5, z], [5, -5, z], [5, 5, z], [x0, 5, z]]),
            "normals": np.tile([0.0, 0.0, -1.0], (4, 1)),
            "faces": np.array([[0, 1, 2], [0, 2, 3], [0, 2, 1], [0, 3, 2]]),  # both windings
            "uv": np.zeros((4, 2)), "texture": ("white",), "image": np.full((4, 4, 3), 255, np.uint8),
            "colour": [1.0, 1.0, 1.0]}
    cam = Camera(K, np.eye(3), np.zeros(3), W, H)
    seen = [render_rgb([quad], SimpleNamespace(camera=cam, ambient=1.0, lights=[], background=np.full((H, W, 3), v)),
                       {}).astype(float) for v in (0.0, 255.0)]
    alpha = 1.0 - (seen[1] - seen[0]).mean(-1) / 255.0  # the background shows through 1 - alpha
    assert np.allclose(alpha[:, :edge], 0.0, atol=0.01) and np.allclose(alpha[:, edge + 1:], 1.0, atol=0.01)
    assert np.allclose(alpha[:, edge], 0.5, atol=0.01)


def test_raster_keeps_the_nearest_face_breaks_ties_by_index_and_culls_where_asked():
    """Hand-made triangles: a pixel centre takes the nearest face over it, a face drawn twice at
    one depth goes to the higher index, a face turned away is skipped only where culled, and the
    weights give back the surface point seen at the pixel centre."""
    import torch

    from synthgen.render.raster import rasterize

    K = torch.tensor([[10.0, 0.0, 4.0], [0.0, 10.0, 4.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    v = torch.tensor([[-1.0, -1.0, 2.0], [-1.0, 1.0, 2.0], [1.0, -1.0, 2.0],   # far, facing the camera
                      [-1.0, -1.0, 1.0], [-1.0, 1.0, 1.0], [1.0, 1.0, 1.0]], dtype=torch.float64)  # near, lower left
    far, near = [0, 1, 2], [3, 4, 5]
    faces = torch.tensor([far, near, far, near[::-1]])  # 2 repeats 0; 3 is 1 turned away
    r = rasterize(v, faces, K, 9, 9)
    assert r.face[6, 1] == 1 and r.face[1, 6] == 2  # the near face, then the higher of the two at 2 m
    assert r.depth[6, 1] == 1.0 and r.depth[1, 6] == 2.0 and r.face[7, 8] == -1 and torch.isinf(r.depth[7, 8])
    culled = rasterize(v, faces[3:], K, 9, 9, cull_back=True)
    both_sides = rasterize(v, faces[3:], K, 9, 9, cull_back=torch.tensor([False]))
    assert (culled.face == -1).all() and both_sides.face[6, 1] == 0
    for (row, col), f in ((6, 1), 1), ((1, 6), 2), ((2, 3), 2):  # the weighted corners project to the centre
        p = (r.bary[row, col].double() @ v[faces[f]]) @ K.T
        assert torch.allclose(p[:2] / p[2], torch.tensor([col, row], dtype=torch.float64), atol=1e-5)


def test_occluded_and_out_of_frame_keypoints(renderer):
    s = renderer.render(BASE | {"occluder.kind": "box", "occluder.size": 0.6, "occluder.y": -0.35,
                                "occluder.depth": 0.5}, seed=1)
    head = [0, 1, 2, 3, 4]
    assert (s.visibility[head] == 1).all()  # behind the box
    assert (s.objects == 2).any() and (s.mask_visible < s.mask_amodal).any()
    assert s.visibility[15] == 2  # the near (left) ankle, below the box
    side = renderer.render(BASE | {"camera.yaw": 0.0, "camera.distance": 1.2, "camera.pitch": -30.0}, seed=1)
    assert (side.visibility == 0).any()  # the camera is too close to see the whole body
    out = side.keypoints2d[side.visibility == 0]
    assert ((out < -0.5) | (out > np.array([159.5, 127.5]))).any(1).all()


def test_self_occlusion_is_flagged(renderer):
    back = renderer.render(BASE | {"camera.yaw": 180.0, "pose.preset": "stand"}, seed=0)
    assert back.visibility[0] == 1  # the nose, seen from behind


def test_same_params_and_seed_give_identical_bytes(renderer, sample):
    again = renderer.render(BASE, seed=3)
    assert again.image.tobytes() == sample.image.tobytes()
    assert np.array_equal(again.parts, sample.parts) and np.array_equal(again.depth, sample.depth)


def test_render_many_gives_what_render_gives_in_order(renderer):
    """Overlapped renders are the same samples, byte for byte, in the order asked; a job that
    cannot render yields its error in its place (errors=True) or is raised (the default)."""
    from synthgen.errors import ParamError

    jobs = [(BASE | {"camera.yaw": float(y), "occluder.kind": k}, i)
            for i, (y, k) in enumerate([(0, "none"), (40, "box"), (-90, "none"), (150, "box"), (70, "none")])]
    bad = (BASE | {"pose.preset": "no-such-pose"}, 9)
    got = list(renderer.render_many(jobs[:2] + [bad] + jobs[2:], errors=True))
    assert isinstance(got[2], ParamError) and "pose.preset" in str(got[2])
    for (params, seed), s in zip(jobs, got[:2] + got[3:]):
        one = renderer.render(params, seed)
        for field in ("image", "depth", "parts", "uv", "mask_amodal", "keypoints2d", "visibility"):
            assert getattr(s, field).tobytes() == getattr(one, field).tobytes(), (seed, field)
    with pytest.raises(ParamError, match="pose.preset"):
        list(renderer.render_many([jobs[0], bad, jobs[1]]))
    assert list(renderer.render_many([])) == []


def test_backgrounds(renderer, tmp_path):
    from PIL import Image

    from synthgen.errors import ParamError
    from synthgen.render.renderer import Renderer

    for kind in ("solid", "gradient", "clutter"):
        s = renderer.render(BASE | {"background.kind": kind}, seed=2)
        assert s.image[~s.mask_amodal].std() > 0 or kind == "solid"
    with pytest.raises(ParamError, match="background.kind"):
        renderer.render(BASE | {"background.kind": "image"}, seed=0)
    Image.fromarray(np.full((50, 80, 3), 200, np.uint8)).save(tmp_path / "wall.png")
    cfg = SceneConfig(ParamSpace.of(NAMES), 160, 128, background_folder=str(tmp_path))
    s = Renderer(cfg).render(BASE | {"background.kind": "image"}, seed=0)
    assert (s.image[~s.mask_amodal] == 200).all(-1).mean() > 0.97  # all but antialiased edges


def test_scene_file_errors(tmp_path):
    from synthgen.errors import ParamError

    p = tmp_path / "scene.yaml"
    p.write_text("image: {width: 8, height: 64}\ndims:\n  camera.yaw: [-10, 10]\n")
    with pytest.raises(ParamError, match="image.width") as e:
        SceneConfig.from_yaml(p)
    assert e.value.where == f"{p}:1"
    p.write_text("image: {width: 64, height: 64}\nbackground_folder: nowhere\n")
    with pytest.raises(ParamError, match="background_folder"):
        SceneConfig.from_yaml(p)
    p.write_text("image: {width: 64, height: 64}\ndims:\n  occluder.kind: {choices: [box, sphere]}\n")
    with pytest.raises(ParamError, match="occluder.kind"):
        SceneConfig.from_yaml(p)


def test_sample_save(sample, tmp_path):
    import json

    files = sample.save(tmp_path, "s")
    meta = json.loads(files[1].read_text())
    assert meta["params"]["pose.preset"] == "walk" and len(meta["keypoints2d"]) == 17
    labels = np.load(files[2])
    assert np.array_equal(labels["parts"], sample.parts)
    assert not list(tmp_path.glob("*.tmp"))
