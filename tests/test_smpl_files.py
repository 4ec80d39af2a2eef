import pickle
import sys
import types

import numpy as np
import pytest
import scipy.sparse

from synthgen.body.smpl_files import ENV_VAR, find_model_file, load_model_data
from synthgen.body.smpl_synthetic import build_model_arrays
from synthgen.errors import ModelFileError


def test_missing_file_says_what_where_and_how(tmp_path):
    with pytest.raises(ModelFileError) as e:
        find_model_file("smpl", "neutral", tmp_path)
    msg = str(e.value)
    assert str(tmp_path / "SMPL_NEUTRAL.npz") in msg and str(tmp_path / "smpl" / "SMPL_NEUTRAL.pkl") in msg
    assert "smpl.is.tue.mpg.de" in msg


def test_no_folder_given(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(ModelFileError, match=ENV_VAR):
        find_model_file("smplx", "female")


def test_env_var_folder(monkeypatch, smpl_dir):
    monkeypatch.setenv(ENV_VAR, str(smpl_dir))
    assert find_model_file("smpl", "neutral") == smpl_dir / "SMPL_NEUTRAL.npz"


def test_missing_file_through_the_body_api(tmp_path):
    from synthgen.body import get_body_model

    with pytest.raises(ModelFileError, match="SMPL_MALE"):
        get_body_model("smpl", tmp_path, gender="male")


def _fake_chumpy():
    """A module that pickles like chumpy.ch.Ch (a class whose state holds the array in 'x')."""
    mod = types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x):
            self.x = x
            self._dirty_vars = set()

    Ch.__module__ = "chumpy.ch"
    Ch.__qualname__ = "Ch"
    mod.Ch = Ch
    return mod


def test_legacy_pickle_with_chumpy_and_sparse(tmp_path, monkeypatch):
    arrays = build_model_arrays()
    mod = _fake_chumpy()
    monkeypatch.setitem(sys.modules, "chumpy", types.ModuleType("chumpy"))
    monkeypatch.setitem(sys.modules, "chumpy.ch", mod)
    legacy = dict(arrays)
    legacy["shapedirs"] = mod.Ch(arrays["shapedirs"])
    legacy["J_regressor"] = scipy.sparse.csc_matrix(arrays["J_regressor"])
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    path.write_bytes(pickle.dumps(legacy, protocol=2))
    monkeypatch.delitem(sys.modules, "chumpy.ch")
    monkeypatch.delitem(sys.modules, "chumpy")
    data = load_model_data(path)
    assert np.array_equal(data["shapedirs"], arrays["shapedirs"])
    assert np.allclose(data["J_regressor"], arrays["J_regressor"])

    from synthgen.body.smpl_body import SmplBody

    out = SmplBody(path)({"pose.left_knee.flex": 45})
    assert out.vertices.shape[1] == len(arrays["v_template"])


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("touch EVIL_RAN",))


def test_pickle_that_runs_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    path.write_bytes(pickle.dumps({"v_template": np.zeros((3, 3)), "x": _Evil()}))
    with pytest.raises(ModelFileError, match="refusing to load"):
        load_model_data(path)
    assert not (tmp_path / "EVIL_RAN").exists()


class _Marker:
    """Unpickling it would leave a file behind."""

    def __reduce__(self):
        import os

        return (os.system, ("touch NPZ_OBJECT_RAN",))


def test_npz_object_entries_are_never_unpickled(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "SMPL_NEUTRAL.npz"
    np.savez(path, v_template=np.ones((3, 3)), meta=np.array([_Marker()], dtype=object))
    data = load_model_data(path)
    assert set(data) == {"v_template"} and not (tmp_path / "NPZ_OBJECT_RAN").exists()


def test_incomplete_file_names_missing_keys(tmp_path):
    from synthgen.body.smpl_body import SmplBody

    arrays = build_model_arrays()
    del arrays["posedirs"]
    np.savez(tmp_path / "SMPL_NEUTRAL.npz", **arrays)
    with pytest.raises(ModelFileError, match="posedirs"):
        SmplBody(tmp_path)


def test_synthetic_file_has_smpls_layout(smpl_dir):
    z = np.load(smpl_dir / "SMPL_NEUTRAL.npz")
    V = z["v_template"].shape[0]
    assert z["shapedirs"].shape == (V, 3, 10) and z["posedirs"].shape == (V, 3, 207)
    assert z["J_regressor"].shape == (24, V) and z["weights"].shape == (V, 24)
    assert z["kintree_table"].shape == (2, 24) and z["f"].shape[1] == 3
    assert np.allclose(z["J_regressor"].sum(1), 1) and np.allclose(z["weights"].sum(1), 1)
