"""TailorNet garments on the SMPL body, from synthetic files in TailorNet's exact layout: the
predictor is TailorNet's formula, every missing piece is named, garments render and follow
the body."""

import json
import shutil

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from synthgen.errors import ModelFileError, ParamError

GENDER = "female"  # TailorNet ships gendered weights; the neutral test body falls back to them


@pytest.fixture(scope="module")
def tn_root(tmp_path_factory, smpl_dir):
    from synthgen.clothing.tailornet_synthetic import write_synthetic_tailornet

    root = tmp_path_factory.mktemp("tailornet")
    for cls in ("t-shirt", "old-t-shirt", "pant", "skirt"):
        write_synthetic_tailornet(root, cls, GENDER, smpl_dir, pivots=3 if cls == "t-shirt" else 2)
    return root


@pytest.fixture(scope="module")
def wardrobe(smpl_body, tn_root):
    from synthgen.clothing.tailornet import TailorNetWardrobe

    return TailorNetWardrobe(smpl_body, tn_root)


# --- TailorNet's pieces ------------------------------------------------------------------------

def test_loop_subdivision_of_a_tetrahedron():
    from synthgen.clothing.tailornet import loop_subdivision

    faces = np.array([[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]])
    M, new_faces = loop_subdivision(faces, 4)
    M = M.toarray()
    assert M.shape == (4 + 6, 4) and np.allclose(M.sum(1), 1.0)
    # old vertices: 3 neighbours -> 3/16 each, 7/16 on itself
    assert np.allclose(M[:4], np.where(np.eye(4) > 0, 7 / 16, 3 / 16))
    # edges ordered by (larger end, smaller end): (0,1) (0,2) (1,2) (0,3) (1,3) (2,3)
    order = [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)]
    for e, (a, b) in enumerate(order):
        row = M[4 + e]
        assert row[a] == row[b] == 3 / 8
        assert np.allclose(np.delete(row, [a, b]), 1 / 8)  # the two opposite vertices
    assert new_faces.shape == (16, 3)
    # face (0, 1, 2) -> (01, 1, 12), (12, 2, 20), (20, 0, 01), (01, 12, 20)
    assert new_faces[:4].tolist() == [[4, 1, 6], [6, 2, 5], [5, 0, 4], [4, 6, 5]]


def test_axis_angle_and_facing_forward():
    from synthgen.body.pose import axis_angle_matrix
    from synthgen.clothing.tailornet import face_forward, matrix_to_axis_angle

    rng = np.random.default_rng(0)
    aa = torch.as_tensor(rng.normal(size=(200, 3)), dtype=torch.float64)
    aa = aa / aa.norm(dim=1, keepdim=True) * torch.as_tensor(rng.uniform(0, np.pi * 0.999, (200, 1)))
    angle = aa.norm(dim=1)
    R = axis_angle_matrix(aa / angle[:, None], angle)
    back = matrix_to_axis_angle(R)
    assert torch.allclose(back, aa, atol=1e-9)
    assert torch.allclose(matrix_to_axis_angle(torch.eye(3, dtype=torch.float64)), torch.zeros(3, dtype=torch.float64))
    turned = face_forward(R[7])
    assert abs(turned[0, 2]) < 1e-12 and turned[2, 2] >= 0
    # only a turn about the vertical axis was taken out
    between = turned @ R[7].T
    assert torch.allclose(between[1], torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64), atol=1e-12)


def test_posing_reproduces_the_body(smpl_body, wardrobe):
    """The garment path (local rotations from the bone transforms, pose correctives, skinning)
    applied to the body's own vertices gives the body back."""
    from synthgen.body.pose_library import get_pose

    out = smpl_body(get_pose("run") | {"pose.global.yaw": 120.0, "pose.global.pitch": 20.0, "shape.beta1": 1.5})
    V = out.vertices.shape[1]
    skin = out.skin_weights.double().numpy()
    unposed, posed = wardrobe.pose(sp.identity(V, format="csr"), skin, np.zeros((V, 3)), out, 0)
    assert np.abs(posed - out.vertices[0].double().numpy()).max() < 1e-6
    # the axis-angle pose that TailorNet's networks read gives back the same rotations
    from synthgen.body.pose import axis_angle_matrix
    from synthgen.clothing.tailornet import local_rotations, matrix_to_axis_angle

    local = local_rotations(out.bone_transforms[0], wardrobe.parents)
    aa = matrix_to_axis_angle(local)
    angle = aa.norm(dim=1).clamp_min(1e-12)
    R = axis_angle_matrix(aa / angle[:, None], angle)
    assert torch.allclose(R, local, atol=1e-6)


def _forward(state: dict, num_layers: int, x: torch.Tensor) -> torch.Tensor:
    """TailorNet's FullyConnected written out: Linear, ReLU, (Dropout), ..., Linear."""
    index = [0] + [3 + 2 * i for i in range(num_layers - 2)] + [3 + 2 * (num_layers - 2)]
    for j, i in enumerate(index):
        x = x @ state[f"net.{i}.weight"].T + state[f"net.{i}.bias"]
        if j < len(index) - 1:
            x = torch.relu(x)
    return x


@pytest.mark.parametrize("cls", ["t-shirt", "old-t-shirt", "skirt"])
def test_prediction_is_tailornets_formula(tn_root, cls):
    from synthgen.clothing.tailornet import load_tailornet

    model = load_tailornet(tn_root, cls, GENDER)
    tag = f"{cls}_{GENDER}"
    weights = tn_root / f"{tag}_weights"

    def net(kind, sub=""):
        folder = weights / f"tn_orig_{kind}" / tag / sub
        params = json.loads((folder / "params.json").read_text())
        return torch.load(folder / "lin.pth.tar", weights_only=True), params["num_layers"]

    pivots = [line.split("_") for line in (tn_root / tag / "pivots.txt").read_text().split()]
    basis = torch.stack([torch.from_numpy(np.load(tn_root / tag / "style_shape" / f"beta{s}_gamma{g}.npy"))
                         for s, g in pivots])
    rng = np.random.default_rng(1)
    theta = torch.as_tensor(rng.normal(scale=0.4, size=(3, 72)), dtype=torch.float32)
    beta = torch.as_tensor(rng.normal(size=(3, 10)), dtype=torch.float32)
    gamma = torch.as_tensor(rng.uniform(-1, 1, size=(3, 4)), dtype=torch.float32)
    valid = {"t-shirt": [0, 1, 2, 3, 6, 9, 12, 13, 14, 16, 17, 18, 19],
             "old-t-shirt": [0, 1, 2, 3, 6, 9, 12, 13, 14, 16, 17, 18, 19], "skirt": [0, 1, 2, 4, 5]}[cls]
    mask = torch.zeros(3, 24, 3)
    mask[:, valid] = 1.0
    th = theta * mask.reshape(3, 72)
    b_lf = beta.clone()
    b_lf[:, 2:] = 0.0
    g_lf = gamma.clone()
    g_lf[:, 2:] = 0.0
    if cls == "old-t-shirt":
        g_lf[:, 2] += 1.5
    lf = _forward(*net("lf"), torch.cat([th, b_lf, g_lf], 1)).reshape(3, -1, 3)
    hf = torch.stack([_forward(*net("hf", f"{s}_{g}"), th).reshape(3, -1, 3) for s, g in pivots], 1)
    canon = _forward(*net("ss2g"), torch.cat([beta, gamma], 1)).reshape(3, 1, -1, 3)
    dist = ((canon - basis[None]) ** 2).sum(-1).mean(-1) * 1000.0
    w = torch.exp(-dist / 0.01)
    w = w / w.sum(1, keepdim=True)
    expected = lf + (hf * w[:, :, None, None]).sum(1)

    got = model.predict(theta, beta, gamma)
    assert got.hf.shape == (3, len(pivots), model.n_vertices, 3)
    assert torch.allclose(got.lf, lf, atol=1e-6) and torch.allclose(got.hf, hf, atol=1e-6)
    assert torch.allclose(got.weights, w, atol=1e-5)
    assert (w.max(1).values < 0.95).all()  # every pivot takes part
    assert torch.allclose(got.displacement, expected, atol=1e-6)
    # a different style moves the garment
    assert not torch.allclose(model.predict(theta, beta, gamma + 0.5).displacement, got.displacement, atol=1e-6)


# --- missing or wrong files --------------------------------------------------------------------

@pytest.mark.parametrize("cls, piece", [
    ("t-shirt", "t-shirt_female_weights/tn_orig_lf/t-shirt_female/params.json"),
    ("t-shirt", "t-shirt_female_weights/tn_orig_ss2g/t-shirt_female/lin.pth.tar"),
    ("t-shirt", "t-shirt_female_weights/tn_orig_hf/t-shirt_female/000_001"),
    ("t-shirt", "garment_class_info.pkl"),
    ("t-shirt", "t-shirt_female/pivots.txt"),
    ("t-shirt", "t-shirt_female/style_shape/beta000_gamma000.npy"),
    ("skirt", "skirt_weight.npz"),
])
def test_each_missing_piece_is_named(tn_root, tmp_path, cls, piece):
    from synthgen.clothing.tailornet import load_tailornet

    root = tmp_path / "tn"
    shutil.copytree(tn_root, root)
    gone = root / piece
    shutil.rmtree(gone) if gone.is_dir() else gone.unlink()
    with pytest.raises(ModelFileError) as err:
        load_tailornet(root, cls, GENDER)
    assert str(gone) in str(err.value) and "missing" in str(err.value)


def test_wrong_shapes_are_named(tn_root, tmp_path):
    from synthgen.clothing.tailornet import load_tailornet

    root = tmp_path / "tn"
    shutil.copytree(tn_root, root)
    path = root / "pant_female_weights/tn_orig_lf/pant_female/lin.pth.tar"
    state = torch.load(path, weights_only=True)
    state["net.5.weight"] = state["net.5.weight"][:-3]  # one garment vertex short
    torch.save(state, path)
    with pytest.raises(ModelFileError, match="net.5.weight") as err:
        load_tailornet(root, "pant", GENDER)
    assert str(path) in str(err.value)
    params = root / "pant_female_weights/tn_orig_ss2g/pant_female/params.json"
    params.write_text(json.dumps(json.loads(params.read_text()) | {"num_layers": 4}))
    with pytest.raises(ModelFileError, match="net.5.weight"):
        load_tailornet(root, "pant", GENDER)


def test_no_folder_and_missing_class(smpl_body, tn_root, wardrobe, monkeypatch):
    from synthgen.clothing.tailornet import TailorNetWardrobe
    from synthgen.clothing.tailornet_files import ENV_VAR

    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(ModelFileError, match=ENV_VAR):
        TailorNetWardrobe(smpl_body, None)
    monkeypatch.setenv(ENV_VAR, str(tn_root))
    assert TailorNetWardrobe(smpl_body, None).root == tn_root
    out = smpl_body({})
    with pytest.raises(ModelFileError, match="garment.top.class") as err:  # no shirt files written
        wardrobe.dress({"garment.top.class": "shirt"}, out)
    assert str(tn_root / "shirt_female_weights") in str(err.value)
    with pytest.raises(ParamError, match="garment.bottom.class"):
        wardrobe.dress({"garment.bottom.class": "t-shirt"}, out)


# --- on the body -------------------------------------------------------------------------------

def test_style_maps_onto_gamma():
    from synthgen.clothing.tailornet import style_gamma

    assert np.allclose(style_gamma("t-shirt", 0.0, 1.0), [-1, 1, 0, 0])
    assert np.allclose(style_gamma("pant", 0.5, 0.5), [0, 0, 0, 0])
    assert np.allclose(style_gamma("old-t-shirt", 1.0, 0.0), [0.0, -1.0, 1.5, 0.0])  # TailorNet's 'big', short sleeves


def test_garments_follow_the_pose(smpl_body, wardrobe):
    """Each garment vertex keeps its distance to its body anchor vertex (the synthetic body's
    long capsule edges put some anchors 20 cm away already at rest) and stays on the posed
    body surface it was cut from."""
    from synthgen.body.joint_limits import pose_param_names
    from synthgen.body.pose_library import get_pose
    from synthgen.space import ParamSpace

    space = ParamSpace.of([n for n in pose_param_names() if not n.startswith("pose.global")])
    poses = [get_pose("run") | {"pose.global.yaw": 70.0, "pose.global.pitch": 30.0}, get_pose("sit")]
    poses += [{k: 0.5 * v for k, v in p.items()} | {"pose.global.yaw": 40.0 * i + 20.0}
              for i, p in enumerate(space.sample(3, n=2))]
    outfits = [{"garment.top.class": top, "garment.bottom.class": bottom, "garment.top.size": 1.0}
               for top, bottom in (("t-shirt", "pant"), ("old-t-shirt", "skirt"))]
    rest = smpl_body({})
    at_rest = [{g.name: np.linalg.norm(g.vertices - rest.vertices[0].double().numpy()[g.anchors], axis=1)
                for g in wardrobe.dress(params, rest)} for params in outfits]
    for i, pose in enumerate(poses):
        out = smpl_body(pose)
        verts = out.vertices[0].double().numpy()
        for g in wardrobe.dress(outfits[i % 2], out):
            assert np.isfinite(g.vertices).all() and len(g.uv) == len(g.vertices)
            change = np.abs(np.linalg.norm(g.vertices - verts[g.anchors], axis=1) - at_rest[i % 2][g.name])
            limit = 0.12 if g.name == "skirt" else 0.03  # the skirt hangs between the legs
            assert np.percentile(change, 99) < limit, (g.name, np.percentile(change, 99))
            if g.name != "skirt":  # near the posed body surface it was cut from
                B = wardrobe.base(wardrobe.model(g.name, f"garment.{g.slot}.class"))["B"]
                assert np.percentile(np.linalg.norm(g.vertices - B @ verts, axis=1), 99) < 0.05, g.name


def test_tailornet_needs_the_smpl_body(anny_body, tn_root):
    from synthgen.render.renderer import Renderer
    from synthgen.scene import SceneConfig
    from synthgen.space import ParamSpace

    r = Renderer(SceneConfig(ParamSpace.of(["garment.backend", "garment.top.class"]), 64, 64, tailornet=str(tn_root)))
    with pytest.raises(ParamError, match="garment.backend"):
        r.render({"garment.backend": "tailornet", "garment.top.class": "t-shirt"})
    with pytest.raises(ParamError, match="garment.backend"):
        ParamSpace.of(["garment.backend"]).validate({"garment.backend": "cloth-sim"})


def test_rendered_tailornet_garments(smpl_dir, tn_root, tmp_path):
    from synthgen.clothing.classes import CLASS_IDS
    from synthgen.render.renderer import Renderer
    from synthgen.scene import SceneConfig

    scene = tmp_path / "scene.yaml"
    scene.write_text(f"image: {{width: 96, height: 96}}\nbody: {{backend: smpl, models: '{smpl_dir}', "
                     f"tailornet: '{tn_root}'}}\ndims: {{camera.distance: [2.4, 2.8]}}\n"
                     "fixed: {garment.backend: tailornet}\n")
    config = SceneConfig.from_yaml(scene)
    assert config.tailornet == str(tn_root) and config.backend == "smpl"
    r = Renderer(config)
    s = r.render({"garment.top.class": "t-shirt", "garment.bottom.class": "pant", "camera.distance": 2.6}, seed=0)
    assert (s.garment == 1).any()
    classes = set(np.unique(s.garment_class)) - {0}
    assert classes == {CLASS_IDS["t-shirt"], CLASS_IDS["pant"]}
    assert ((s.garment_class > 0) == (s.garment == 1)).all() and s.mask_visible[s.garment == 1].all()
    bare = r.render({"camera.distance": 2.6}, seed=0)
    assert not (bare.garment == 1).any()
