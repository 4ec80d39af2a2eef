"""Reading a user's TailorNet folder: where it is, which gender's weights to use, the garment
class info, the pivots, and the networks (TailorNet's ``FullyConnected``), each piece checked
and a missing or malformed one named by its path. The layout is described in
``synthgen.clothing.tailornet``."""

from __future__ import annotations

import io
import json
import os
import pickle
from pathlib import Path

import numpy as np
import torch

from synthgen.errors import ModelFileError

ENV_VAR = "SYNTHGEN_TAILORNET"
WHERE_TO_GET = ("TailorNet's weights (https://github.com/chaitanya100100/TailorNet) and dataset meta "
                "(https://github.com/zycliao/TailorNet_dataset), under their own terms")
GENDERS = ("neutral", "female", "male")

INPUT_SIZES = {"lf": 72 + 10 + 4, "hf": 72, "ss2g": 10 + 4}
WEIGHT_DIRS = {"lf": "tn_orig_lf", "hf": "tn_orig_hf", "ss2g": "tn_orig_ss2g"}
NET_NAMES = {"lf": "low-frequency network", "hf": "high-frequency network", "ss2g": "shape-style-to-garment network"}




# --- files -------------------------------------------------------------------------------------

def resolve_root(folder: str | os.PathLike | None = None) -> Path:
    """The TailorNet folder: ``folder`` (the scene's ``body: {tailornet: DIR}``), else $SYNTHGEN_TAILORNET."""
    folder = folder if folder is not None else os.environ.get(ENV_VAR)
    if not folder:
        raise ModelFileError(
            "TailorNet files needed for garment.backend 'tailornet': no folder given (set body: {tailornet: DIR} "
            f"in the scene file or ${ENV_VAR}). They are gated: get {WHERE_TO_GET}.")
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise ModelFileError(f"{root}: TailorNet folder not found (from the scene file or ${ENV_VAR})")
    return root


def resolve_gender(root: Path, garment_class: str, gender: str) -> str:
    """The gender whose weights are used: the body's; a neutral body takes TailorNet's
    neutral weights if present, else female, else male (TailorNet ships gendered ones)."""
    tried = [gender] if gender != "neutral" else list(GENDERS)
    for g in tried:
        if (root / f"{garment_class}_{g}_weights").is_dir():
            return g
    raise ModelFileError(
        f"TailorNet weights for '{garment_class}' not found: looked for "
        + ", ".join(str(root / f"{garment_class}_{g}_weights") for g in tried) + f". Get {WHERE_TO_GET}.")


def missing(path: Path, what: str) -> ModelFileError:
    return ModelFileError(f"{path}: missing ({what})")


def read_class_info(root: Path, garment_class: str) -> tuple[np.ndarray, np.ndarray]:
    from synthgen.body.smpl_files import RestrictedUnpickler

    path = root / "garment_class_info.pkl"
    if not path.is_file():
        raise missing(path, "TailorNet's garment templates, from its dataset_meta.zip: "
                             "{class: {'vert_indices': ..., 'f': ...}}")
    try:
        with open(path, "rb") as fh:
            info = RestrictedUnpickler(io.BytesIO(fh.read()), encoding="latin1").load()
    except (pickle.UnpicklingError, ValueError, EOFError, OSError) as e:
        raise ModelFileError(f"{path}: cannot be read safely: {e}") from e
    if not isinstance(info, dict) or garment_class not in info:
        have = ", ".join(sorted(map(str, info))) if isinstance(info, dict) else type(info).__name__
        raise ModelFileError(f"{path}: no entry for '{garment_class}' (holds {have})")
    entry = info[garment_class]
    if not isinstance(entry, dict) or not {"vert_indices", "f"} <= set(entry):
        raise ModelFileError(f"{path}: entry '{garment_class}' must hold 'vert_indices' and 'f'")
    vi = np.asarray(_plain(entry["vert_indices"])).reshape(-1)
    f = np.asarray(_plain(entry["f"]))
    if vi.size == 0 or not np.issubdtype(vi.dtype, np.integer) or vi.min() < 0:
        raise ModelFileError(f"{path}: '{garment_class}' vert_indices must be non-negative integers")
    if f.ndim != 2 or f.shape[1] != 3 or not np.issubdtype(f.dtype, np.integer) or f.min() < 0 or f.max() >= len(vi):
        raise ModelFileError(f"{path}: '{garment_class}' f must be (F, 3) vertex ids below {len(vi)}")
    return vi.astype(np.int64), f.astype(np.int64)


def _plain(value):
    from synthgen.body.smpl_files import _plain as plain

    return plain(value)


def read_pivots(data: Path) -> list[tuple[str, str]]:
    path = data / "pivots.txt"
    if not path.is_file():
        raise missing(path, "TailorNet's pivot list, one '<shape>_<style>' per line, from the dataset")
    pivots = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        parts = line.split("_")
        if len(parts) != 2 or not all(parts):
            raise ModelFileError(f"{path}:{n}: expected '<shape>_<style>' (e.g. 000_023), got {line!r}")
        pivots.append((parts[0], parts[1]))
    if not pivots:
        raise ModelFileError(f"{path}: lists no pivots")
    return pivots


def fully_connected(in_size: int, hidden: int, out_size: int, num_layers: int) -> torch.nn.Sequential:
    """TailorNet's FullyConnected layout (module indices match its state_dict keys)."""
    layers = [torch.nn.Linear(in_size, hidden), torch.nn.ReLU(), torch.nn.Dropout(0.2)]
    for _ in range(num_layers - 2):
        layers += [torch.nn.Linear(hidden, hidden), torch.nn.ReLU()]
    layers.append(torch.nn.Linear(hidden, out_size))
    net = torch.nn.Sequential(*layers)
    return net


class FullyConnected(torch.nn.Module):
    """Holds a FullyConnected under the name ``net`` so that state_dict keys read ``net.<i>.*``."""

    def __init__(self, net: torch.nn.Sequential):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)


def expected_shapes(in_size: int, hidden: int, out_size: int, num_layers: int) -> dict[str, tuple[int, ...]]:
    """State-dict key -> tensor shape of a TailorNet FullyConnected."""
    dims = [in_size] + [hidden] * (num_layers - 1) + [out_size]
    index = [0] + [3 + 2 * i for i in range(num_layers - 2)] + [3 + 2 * (num_layers - 2)]
    out = {}
    for i, (a, b) in zip(index, zip(dims[:-1], dims[1:])):
        out[f"net.{i}.weight"] = (b, a)
        out[f"net.{i}.bias"] = (b,)
    return out


def load_net(folder: Path, kind: str, out_size: int, garment_class: str) -> FullyConnected:
    """One TailorNet network from ``folder`` (params.json + lin.pth.tar), checked piece by piece."""
    what = f"TailorNet's {NET_NAMES[kind]} for {garment_class}"
    if not folder.is_dir():
        raise missing(folder, f"{what}: a folder holding params.json and lin.pth.tar")
    params_path, weights_path = folder / "params.json", folder / "lin.pth.tar"
    if not params_path.is_file():
        raise missing(params_path, f"{what}: its parameters (hidden_size, num_layers, garment_class, ...)")
    try:
        params = json.loads(params_path.read_text())
    except (ValueError, OSError) as e:
        raise ModelFileError(f"{params_path}: not readable JSON: {e}") from e
    if not isinstance(params, dict):
        raise ModelFileError(f"{params_path}: expected a JSON object")
    try:  # TailorNet's own defaults when a key is absent
        hidden, num_layers = int(params.get("hidden_size", 1024)), int(params.get("num_layers", 3))
    except (TypeError, ValueError) as e:
        raise ModelFileError(f"{params_path}: hidden_size and num_layers must be integers") from e
    if hidden < 1 or num_layers < 2:
        raise ModelFileError(f"{params_path}: expected hidden_size >= 1 and num_layers >= 2")
    if params.get("model_name", "FullyConnected") != "FullyConnected":
        raise ModelFileError(f"{params_path}: model_name {params['model_name']!r}: only TailorNet's "
                             "FullyConnected is supported")
    if params.get("garment_class", garment_class) != garment_class:
        raise ModelFileError(f"{params_path}: is for garment_class {params['garment_class']!r}, "
                             f"expected {garment_class!r}")
    if not weights_path.is_file():
        raise missing(weights_path, f"{what}: its weights (a torch state_dict)")
    try:
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any failure to unpickle is a bad file
        raise ModelFileError(f"{weights_path}: cannot be read as a torch state_dict: {e}") from e
    if not isinstance(state, dict):
        raise ModelFileError(f"{weights_path}: expected a state_dict, found {type(state).__name__}")
    state = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}
    in_size = INPUT_SIZES[kind]
    want = expected_shapes(in_size, hidden, out_size, num_layers)
    for key, shape in want.items():
        if key not in state:
            raise ModelFileError(f"{weights_path}: no tensor '{key}' (expected shape {shape} for "
                                 f"num_layers={num_layers}, hidden_size={hidden} from {params_path.name})")
        got = tuple(state[key].shape) if hasattr(state[key], "shape") else None
        if got != shape:
            raise ModelFileError(f"{weights_path}: '{key}' has shape {got}, expected {shape} (input {in_size}, "
                                 f"hidden {hidden}, output 3 x {out_size // 3} garment vertices)")
    extra = sorted(set(state) - set(want))
    if extra:
        raise ModelFileError(f"{weights_path}: unexpected tensors {', '.join(extra[:4])} for num_layers={num_layers}")
    net = FullyConnected(fully_connected(in_size, hidden, out_size, num_layers))
    net.load_state_dict({k: torch.as_tensor(v, dtype=torch.float32) for k, v in state.items()})
    net.eval()
    net.requires_grad_(False)
    return net
