"""Finding and safely opening SMPL / SMPL-X model files that the user owns.

The files are licensed by the Max Planck Institute and are never shipped or downloaded here.
``.npz`` files are opened with ``allow_pickle=False`` (pickled object entries, which hold no
model arrays, are skipped unread); legacy ``.pkl`` files go through a
restricted unpickler that builds numpy arrays, scipy.sparse matrices and chumpy arrays only
(chumpy need not be installed): any other object in the pickle is refused before it is built.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np

from synthgen.errors import ModelFileError

ENV_VAR = "SYNTHGEN_BODY_MODELS"
WHERE_TO_GET = {
    "smpl": "https://smpl.is.tue.mpg.de (register, accept the licence, download 'SMPL for Python')",
    "smplx": "https://smpl-x.is.tue.mpg.de (register, accept the licence, download the SMPL-X model)",
}


def candidate_files(model_type: str, gender: str, folder: Path) -> list[Path]:
    stem = f"{model_type.upper()}_{gender.upper()}"
    names = [f"{stem}.npz", f"{stem}.pkl"]
    if model_type == "smpl":
        short = {"neutral": "neutral", "female": "f", "male": "m"}[gender]
        names += [f"basicModel_{short}_lbs_10_207_0_v1.0.0.pkl", f"basicmodel_{short}_lbs_10_207_0_v1.1.0.pkl"]
    return [folder / n for n in names] + [folder / model_type / n for n in names]


def find_model_file(model_type: str = "smpl", gender: str = "neutral", path: str | os.PathLike | None = None) -> Path:
    """The model file to load: ``path`` (a file or a folder), else the folder named by the
    environment variable SYNTHGEN_BODY_MODELS. Raises ModelFileError naming what was tried."""
    if model_type not in WHERE_TO_GET:
        raise ModelFileError(f"unknown body model type '{model_type}' (choose smpl or smplx)")
    if gender not in ("neutral", "female", "male"):
        raise ModelFileError(f"unknown gender '{gender}' for {model_type} (neutral, female or male)")
    source = "the --body-models option" if path is not None else f"${ENV_VAR}"
    path = path if path is not None else os.environ.get(ENV_VAR)
    if not path:
        raise ModelFileError(
            f"{model_type.upper()} {gender} model file needed: no folder given (pass --body-models DIR "
            f"or set {ENV_VAR}). Get it from {WHERE_TO_GET[model_type]}."
        )
    p = Path(path).expanduser()
    if p.is_file():
        return p
    tried = candidate_files(model_type, gender, p)
    for c in tried:
        if c.is_file():
            return c
    raise ModelFileError(
        f"{model_type.upper()} {gender} model file not found; looked for "
        + ", ".join(str(c) for c in tried)
        + f" (folder from {source}). Get it from {WHERE_TO_GET[model_type]}."
    )


class _ChumpyArray:
    """Stands in for chumpy.ch.Ch while unpickling: keeps the array, runs nothing."""

    def __init__(self, *args, **kwargs):
        self.state = {}

    def __setstate__(self, state):
        self.state = state if isinstance(state, dict) else {"x": state}

    def array(self) -> np.ndarray:
        for key in ("x", "_x", "r"):
            if key in self.state:
                return np.asarray(self.state[key])
        raise ModelFileError("a chumpy array in the pickle holds no 'x' data")


_SPARSE = {"csc_matrix", "csr_matrix", "coo_matrix"}
#: containers that chumpy objects keep in their state; building them runs no user code
_PLAIN_BUILTINS = {"object", "set", "frozenset", "list", "dict", "tuple", "bytearray"}


class RestrictedUnpickler(pickle.Unpickler):
    """Builds numpy arrays, scipy.sparse matrices, chumpy arrays and plain containers;
    refuses every other global (functions, classes with behaviour), so nothing in the file
    runs."""

    def find_class(self, module: str, name: str):
        if (module, name) in {
            ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
            ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
            ("numpy", "ndarray"), ("numpy", "dtype"),
        }:
            return super().find_class(module, name)
        if module.startswith("scipy.sparse") and name in _SPARSE:
            import scipy.sparse

            return getattr(scipy.sparse, name)
        if module.startswith("chumpy"):
            return _ChumpyArray
        # copyreg/object rebuild the (allowed) classes above; _codecs.encode rebuilds the bytes
        # of arrays in protocol-2 pickles written by Python 3
        if (module, name) in {("copyreg", "_reconstructor"), ("_codecs", "encode")}:
            return super().find_class(module, name)
        if module in ("builtins", "__builtin__") and name in _PLAIN_BUILTINS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load '{module}.{name}'")


def _plain(value):
    if isinstance(value, _ChumpyArray):
        return value.array()
    if hasattr(value, "toarray") and type(value).__module__.startswith("scipy.sparse"):
        return np.asarray(value.toarray())
    return value


def load_model_data(path: str | os.PathLike) -> dict[str, object]:
    """The arrays of an SMPL-family model file as plain numpy (sparse and chumpy converted)."""
    path = Path(path)
    try:
        if path.suffix == ".npz":
            data = {}
            with np.load(path, allow_pickle=False) as z:
                for k in z.files:
                    try:
                        data[k] = z[k]
                    except ValueError:  # a pickled object entry (e.g. SMPL-X's part names): never unpickled
                        continue
        elif path.suffix == ".pkl":
            with open(path, "rb") as f:
                data = RestrictedUnpickler(io.BytesIO(f.read()), encoding="latin1").load()
            if not isinstance(data, dict):
                raise ModelFileError(f"{path}: expected a dict of arrays, found {type(data).__name__}")
        else:
            raise ModelFileError(f"{path}: unsupported model file type (expected .npz or .pkl)")
    except (pickle.UnpicklingError, ValueError, OSError, EOFError) as e:
        raise ModelFileError(f"{path}: cannot be read safely: {e}") from e
    return {k: _plain(v) for k, v in data.items()}


REQUIRED_KEYS = ("v_template", "f", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table")


def check_model_data(data: dict, path: Path) -> None:
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise ModelFileError(f"{path}: not an SMPL-family model file, missing keys: {', '.join(missing)}")
