import math

import numpy as np
import pytest

from synthgen.catalog import Categorical, Continuous
from synthgen.errors import ConfigError, ParamError
from synthgen.space import ParamSpace

NAMES = ["pose.left_elbow.flex", "pose.left_shoulder.abduct", "camera.yaw", "shape.weight"]


def write(tmp_path, text, name="space.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_vector_round_trip_and_bounds():
    space = ParamSpace.of(NAMES)
    rng = np.random.default_rng(0)
    for _ in range(20):
        vec = rng.uniform(-1, 1, len(space))
        params = space.from_vector(vec)
        assert np.allclose(space.to_vector(params), vec, atol=1e-12)
        for d in space.dims:
            assert d.low <= params[d.name] <= d.high
    assert space.from_vector(np.full(len(space), 5.0))["pose.left_elbow.flex"] == space["pose.left_elbow.flex"].high
    assert space.to_vector({"camera.yaw": 0.0})[2] == pytest.approx(0.0)


def test_categorical_dims_round_trip():
    space = ParamSpace((Continuous("my.knob", 0.0, 1.0, 0.5), Categorical("my.kind", ("a", "b", "c"), "a")))
    for kind in "abc":
        v = space.to_vector({"my.kind": kind, "my.knob": 0.25})
        assert space.from_vector(v) == {"my.kind": kind, "my.knob": pytest.approx(0.25)}
    with pytest.raises(ParamError, match="my.kind"):
        space.validate({"my.kind": "d"})


def test_sampling_is_seeded():
    space = ParamSpace.of(NAMES)
    a, b, c = space.sample(7, n=5), space.sample(7, n=5), space.sample(8, n=5)
    assert a == b and a != c
    for p in a:
        space.validate(p)


def test_subset_fixes_the_rest():
    space = ParamSpace.of(NAMES, fixed={"shape.height": 0.2})
    sub = space.subset(["camera.yaw"], fixed={"shape.weight": 0.9})
    assert sub.names == ["camera.yaw"]
    p = sub.from_vector([1.0])
    assert p["camera.yaw"] == 180.0
    assert p["pose.left_elbow.flex"] == 0.0 and p["shape.weight"] == 0.9 and p["shape.height"] == 0.2
    with pytest.raises(ParamError, match="not a dim"):
        space.subset(["pose.head.flex"])


@pytest.mark.parametrize("value,match", [
    (float("nan"), "finite"), (float("inf"), "finite"), ("90", "expected a number"),
    (True, "expected a number"), (400.0, "outside"),
])
def test_validate_rejects_bad_values(value, match):
    space = ParamSpace.of(NAMES)
    with pytest.raises(ParamError, match=match) as e:
        space.validate({"pose.left_elbow.flex": value})
    assert e.value.key == "pose.left_elbow.flex"


def test_unknown_name_suggests():
    with pytest.raises(ParamError, match="did you mean pose.left_elbow.flex"):
        ParamSpace.of(NAMES).validate({"pose.left_elbow.flx": 10})


def test_from_vector_rejects_nan_and_length():
    space = ParamSpace.of(NAMES)
    with pytest.raises(ParamError, match="camera.yaw"):
        space.from_vector([0, 0, math.nan, 0])
    with pytest.raises(ParamError, match="expected 4"):
        space.from_vector([0, 0])


def test_yaml_loads(tmp_path):
    p = write(tmp_path, """
dims:
  pose.left_elbow.flex: [0, 120]
  camera.yaw: {low: -60, high: 60, default: 10}
  shape.weight:
fixed:
  pose.right_knee.flex: 30
""")
    space = ParamSpace.from_yaml(p)
    assert space.names == ["pose.left_elbow.flex", "camera.yaw", "shape.weight"]
    assert space["camera.yaw"].default == 10 and space["pose.left_elbow.flex"].high == 120
    assert space.defaults()["pose.right_knee.flex"] == 30
    assert ParamSpace.from_dict(space.to_dict()) == space


@pytest.mark.parametrize("text,key,line,match", [
    ("dims:\n  pose.left_elbow.flex: [0, 120]\n  pose.left_elbo.flex: [0, 1]\n", "pose.left_elbo.flex", 3, "unknown parameter"),
    ("dims:\n  pose.left_elbow.flex: [0, 200]\n", "pose.left_elbow.flex", 2, "joint limit"),
    ("dims:\n  camera.yaw: [10, -10]\n", "camera.yaw", 2, "must be below"),
    ("dims:\n  camera.yaw: [0, .nan]\n", "camera.yaw", 2, "finite"),
    ("dims:\n  camera.yaw: {low: 0, hgh: 5}\n", "camera.yaw", 2, "unknown field"),
    ("dims:\n  camera.yaw: [0, 5]\nfixed:\n  shape.weight: heavy\n", "shape.weight", 4, "expected a number"),
    ("dimz:\n  camera.yaw: [0, 5]\n", "dimz", 1, "unknown section"),
])
def test_yaml_errors_name_key_file_and_line(tmp_path, text, key, line, match):
    p = write(tmp_path, text)
    with pytest.raises(ParamError, match=match) as e:
        ParamSpace.from_yaml(p)
    assert e.value.key == key
    assert e.value.where == f"{p}:{line}"
    assert f"{p}:{line}" in str(e.value)


def test_yaml_duplicate_key_and_syntax(tmp_path):
    with pytest.raises(ConfigError, match="appears twice") as e:
        ParamSpace.from_yaml(write(tmp_path, "dims:\n  camera.yaw: [0, 1]\n  camera.yaw: [0, 2]\n"))
    assert e.value.line == 3
    with pytest.raises(ConfigError, match="invalid YAML"):
        ParamSpace.from_yaml(write(tmp_path, "dims: [\n", "bad.yaml"))
    with pytest.raises(ConfigError, match="cannot read"):
        ParamSpace.from_yaml(tmp_path / "missing.yaml")


def test_beyond_limits_only_when_allowed(tmp_path):
    p = write(tmp_path, "allow_beyond_limits: true\ndims:\n  pose.left_elbow.flex: [0, 200]\n")
    space = ParamSpace.from_yaml(p)
    assert space["pose.left_elbow.flex"].high == 200
    space.validate({"pose.left_elbow.flex": 190})


def test_anny_shape_prior_is_seeded_and_in_range():
    from synthgen.body.shape import sample_anny_shapes

    space = ParamSpace.of(["shape.height", "shape.weight", "camera.yaw"], shape_prior="anny",
                          shape_sampler=sample_anny_shapes)
    a, b = space.sample(3, n=8), space.sample(3, n=8)
    assert a == b
    heights = [p["shape.height"] for p in a]
    assert all(0.0 <= h <= 1.0 for h in heights) and len(set(heights)) > 1


def test_scene_distributions_normal_weights_and_pose_set(tmp_path):
    from synthgen.space import ParamSpace

    poses = tmp_path / "poses.yaml"
    poses.write_text("poses:\n  p0:\n    angles: {pose.left_elbow.flex: 111}\n"
                     "  p1:\n    angles: {pose.left_elbow.flex: 77}\n")
    f = tmp_path / "space.yaml"
    f.write_text("dims:\n"
                 "  camera.pitch: {low: -10, high: 40, dist: normal, mean: 5, std: 4}\n"
                 "  background.kind: {choices: [solid, gradient, clutter], weights: [8, 2, 0]}\n"
                 "  camera.yaw: [-30, 30]\n"
                 "pose_set: {file: poses.yaml, weight: 0.5}\n")
    space = ParamSpace.from_yaml(f)
    s = space.sample(0, 4000)
    pitch = np.array([p["camera.pitch"] for p in s])
    assert abs(pitch.mean() - 5) < 0.3 and abs(pitch.std() - 4) < 0.3 and pitch.min() >= -10
    kinds = [p["background.kind"] for p in s]
    assert kinds.count("clutter") == 0 and 0.75 < kinds.count("solid") / len(kinds) < 0.85
    elbows = [p.get("pose.left_elbow.flex") for p in s]
    share = sum(e in (111, 77) for e in elbows) / len(elbows)
    assert 0.45 < share < 0.55
    # the same seed, the same samples; vectors ignore the priors
    assert space.sample(5) == space.sample(5)
    assert space.to_dict()["dims"]["camera.pitch"]["dist"] == "normal"
    assert ParamSpace.from_dict(space.to_dict() | {"pose_set": None}).priors == space.priors
