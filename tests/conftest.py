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


@pytest.fixture(params=["anny", "smpl"], scope="session")
def body(request):
    return request.getfixturevalue(f"{request.param}_body")
