import os

import pytest

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")


@pytest.fixture(scope="session")
def anny_body():
    """One Anny body model for the whole run (the model cache is built at most once)."""
    from synthgen.body import get_body_model

    return get_body_model("anny")


@pytest.fixture(scope="session")
def smpl_dir(tmp_path_factory):
    """A folder holding a synthetic model file in SMPL's exact .npz layout."""
    from synthgen.body.smpl_synthetic import write_synthetic_smpl

    folder = tmp_path_factory.mktemp("body_models")
    write_synthetic_smpl(folder)
    return folder


@pytest.fixture(scope="session")
def smpl_body(smpl_dir):
    from synthgen.body import get_body_model

    return get_body_model("smpl", smpl_dir)


@pytest.fixture(scope="session")
def smplx_body(tmp_path_factory):
    """SMPL-X through smplx, from a synthetic file in SMPL-X's .npz layout (55 joints)."""
    from synthgen.body import get_body_model
    from synthgen.body.smpl_synthetic import write_synthetic_smpl

    folder = tmp_path_factory.mktemp("smplx_models")
    write_synthetic_smpl(folder, model_type="smplx")
    return get_body_model("smplx", folder)


@pytest.fixture(params=["anny", "smpl", "smplx"], scope="session")
def body(request):
    return request.getfixturevalue(f"{request.param}_body")
