"""Writes small TailorNet files in TailorNet's exact layout, for testing without the real,
gated weights and dataset: randomly initialised networks of TailorNet's FullyConnected shape,
garment templates cut from the once-subdivided template of a (synthetic) SMPL model, pivots,
canonical-pose garments and, for the skirt, skirt-to-body weights.

The networks are random, so the garments they predict are not clothes: the low-frequency
network's last layer is set so that its output is a small offset off the body (1 cm along
the template's normals; the skirt: its cone around the legs), and every other output is a
few millimetres, so that the rendered garment sits near the body and follows it. Everything
the predictor reads is written, plus the dataset's other small meta files (``avail.txt``,
``test.txt``, ``shape/``, ``style/``) so that the folder looks like TailorNet's."""

from __future__ import annotations

import io
import json
import math
import os
from pathlib import Path

import numpy as np
import torch

from synthgen.clothing.garments import vertex_normals
from synthgen.clothing.tailornet import VALID_THETA, loop_subdivision
from synthgen.clothing.tailornet_files import INPUT_SIZES, WEIGHT_DIRS, FullyConnected, fully_connected

#: SMPL joints whose skinning region (dominant bone of the subdivided template) each
#: synthetic garment covers
REGIONS = {
    "t-shirt": (3, 6, 9, 13, 14, 16, 17),
    "old-t-shirt": (3, 6, 9, 13, 14, 16, 17),
    "shirt": (3, 6, 9, 13, 14, 16, 17, 18, 19),
    "pant": (0, 1, 2, 4, 5),
    "short-pant": (0, 1, 2),
}
SKIRT_AROUND, SKIRT_DOWN, SKIRT_NEIGHBOURS = 32, 8, 100


def _model_arrays(smpl_model) -> dict:
    if isinstance(smpl_model, dict):
        return smpl_model
    from synthgen.body.smpl_files import find_model_file, load_model_data

    return load_model_data(find_model_file("smpl", "neutral", smpl_model))


def _template(garment_class: str, data: dict):
    """(vert_indices, faces, rest offset of each garment vertex from its base, skirt weights or None)."""
    v = np.asarray(data["v_template"], dtype=np.float64)
    f = np.asarray(data["f"], dtype=np.int64)
    M, hf = loop_subdivision(f, len(v))
    hv = M @ v
    if garment_class != "skirt":
        owner = np.asarray(M @ np.asarray(data["weights"], dtype=np.float64)).argmax(1)
        inside = np.isin(owner, REGIONS[garment_class])
        faces = hf[inside[hf].all(1)]
        vi, local = np.unique(faces, return_inverse=True)
        offset = 0.01 * vertex_normals(hv, hf)[vi]
        return vi.astype(np.int64), local.reshape(-1, 3).astype(np.int64), offset, None
    # the skirt: a cone from the hips to above the knees, weighted to its nearest body vertices
    J = np.asarray(data["J_regressor"], dtype=np.float64) @ v
    centre, top, bottom = J[0], J[0, 1], 0.5 * (J[1, 1] + J[4, 1]) - 0.05
    near_top = np.abs(hv[:, 1] - top) < 0.03
    r_top = 1.1 * np.linalg.norm((hv[near_top] - centre)[:, [0, 2]], axis=1).max()
    ring = np.linspace(0.0, 2 * np.pi, SKIRT_AROUND, endpoint=False)
    rows = []
    for t in np.linspace(0.0, 1.0, SKIRT_DOWN + 1):
        r, y = r_top * (1.0 + 0.35 * t), top + (bottom - top) * t
        rows.append(np.stack([centre[0] + r * np.sin(ring), np.full_like(ring, y), centre[2] + r * np.cos(ring)], 1))
    skirt = np.concatenate(rows)
    faces = []
    for i in range(SKIRT_DOWN):
        for j in range(SKIRT_AROUND):
            a, b = i * SKIRT_AROUND + j, i * SKIRT_AROUND + (j + 1) % SKIRT_AROUND
            c, d = a + SKIRT_AROUND, b + SKIRT_AROUND
            faces += [(a, c, b), (b, c, d)]  # outward, seen from outside
    from scipy.spatial import cKDTree

    dist, near = cKDTree(hv).query(skirt, k=min(SKIRT_NEIGHBOURS, len(hv)))
    w_near = 1.0 / np.maximum(dist, 1e-6)  # inverse-distance weights, as TailorNet's own
    w = np.zeros((len(skirt), len(hv)), dtype=np.float32)
    np.put_along_axis(w, near, (w_near / w_near.sum(1, keepdims=True)).astype(np.float32), 1)
    offset = skirt - w.astype(np.float64) @ hv
    return np.arange(len(skirt), dtype=np.int64), np.array(faces, dtype=np.int64), offset, w


def _write_class_info(root: Path, garment_class: str, vi: np.ndarray, faces: np.ndarray) -> None:
    import pickle

    from synthgen.body.smpl_files import RestrictedUnpickler

    path = root / "garment_class_info.pkl"
    info = {}
    if path.is_file():
        with open(path, "rb") as fh:
            info = RestrictedUnpickler(io.BytesIO(fh.read()), encoding="latin1").load()
    info[garment_class] = {"vert_indices": vi, "f": faces}
    with open(path, "wb") as fh:
        pickle.dump(info, fh, protocol=2)


def _save_net(folder: Path, kind: str, garment_class: str, gender: str, out_size: int, hidden: int,
              num_layers: int, bias: np.ndarray, scale: float, seed: int, shape_style: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = FullyConnected(fully_connected(INPUT_SIZES[kind], hidden, out_size, num_layers))
        last = net.net[-1]
        with torch.no_grad():
            last.weight.mul_(scale)
            last.bias.copy_(torch.as_tensor(bias.reshape(-1), dtype=torch.float32))
    torch.save(net.state_dict(), folder / "lin.pth.tar")
    params = {  # TailorNet's own params.json keys
        "local_config": "", "garment_class": garment_class, "gender": gender, "shape_style": shape_style,
        "vis_freq": 512, "batch_size": 32, "lr": 1e-4, "weight_decay": 1e-6, "max_epoch": 1, "start_epoch": 0,
        "checkpoint": "", "log_name": f"tn_{kind}", "smooth_level": 0 if kind == "ss2g" else 1,
        "model_name": "FullyConnected", "num_layers": num_layers, "hidden_size": hidden,
        "note": f"synthetic {kind} network (random weights) for tests",
    }
    (folder / "params.json").write_text(json.dumps(params))


def write_synthetic_tailornet(root: str | os.PathLike, garment_class: str, gender: str, smpl_model,
                              pivots: int = 2, hidden: int = 32, num_layers: int = 3, seed: int = 0) -> Path:
    """Write TailorNet's files for one (class, gender) under ``root`` (adding to the classes
    already there); ``smpl_model``: an SMPL model file, a folder holding one, or its arrays.
    Returns ``root``."""
    if garment_class not in VALID_THETA:
        raise ValueError(f"unknown TailorNet class {garment_class!r} (choose {', '.join(VALID_THETA)})")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    vi, faces, offset, skirt_w = _template(garment_class, _model_arrays(smpl_model))
    Vg = len(vi)
    _write_class_info(root, garment_class, vi, faces)
    if skirt_w is not None:
        np.savez_compressed(root / "skirt_weight.npz", w=skirt_w)

    tag = f"{garment_class}_{gender}"
    data = root / tag
    for sub in ("shape", "style", "style_shape"):
        (data / sub).mkdir(parents=True, exist_ok=True)
    n_shapes, n_styles = 2, max(2, math.ceil((pivots + 1) / 2))
    betas = rng.normal(size=(n_shapes, 10)).astype(np.float32)
    centre = np.array([1.5, 0.5, 1.5, 0.0] if garment_class == "old-t-shirt" else [0.0] * 4, dtype=np.float32)
    gammas = np.zeros((n_styles, 4), dtype=np.float32) + centre
    gammas[:, :2] += rng.uniform(-1.0, 1.0, size=(n_styles, 2)).astype(np.float32)
    np.save(data / "shape" / "betas.npy", betas)
    np.save(data / "style" / "gammas.npy", gammas)
    for i, b in enumerate(betas):
        np.save(data / "shape" / f"beta_{i:03d}.npy", b)
    for i, g in enumerate(gammas):
        np.save(data / "style" / f"gamma_{i:03d}.npy", g)
    pairs = [f"{s:03d}_{g:03d}" for s in range(n_shapes) for g in range(n_styles)]
    (data / "avail.txt").write_text("\n".join(pairs) + "\n")
    (data / "pivots.txt").write_text("\n".join(pairs[:pivots]) + "\n")
    (data / "test.txt").write_text("\n".join(pairs[pivots:pivots + 1]) + "\n")

    weights = root / f"{tag}_weights"
    net_seed = int(rng.integers(2**31))
    # SS2G's output is its last bias plus a little; the pivots' canonical garments sit at
    # increasing distances from it, so that the pivot weights differ and depend on the input
    ss2g_bias = rng.normal(scale=1e-3, size=(Vg, 3))
    _save_net(weights / WEIGHT_DIRS["ss2g"] / tag, "ss2g", garment_class, gender, 3 * Vg, hidden, num_layers,
              ss2g_bias, 1e-3, net_seed)
    direction = np.ones(3) / np.sqrt(3.0)
    for k, pair in enumerate(pairs):
        canon = ss2g_bias + 0.002 * k * direction + rng.normal(scale=1e-4, size=(Vg, 3))
        s, g = pair.split("_")
        np.save(data / "style_shape" / f"beta{s}_gamma{g}.npy", canon.astype(np.float32))
    _save_net(weights / WEIGHT_DIRS["lf"] / tag, "lf", garment_class, gender, 3 * Vg, hidden, num_layers,
              offset, 1e-3, net_seed + 1)
    for k, pair in enumerate(pairs[:pivots]):
        _save_net(weights / WEIGHT_DIRS["hf"] / tag / pair, "hf", garment_class, gender, 3 * Vg, hidden, num_layers,
                  rng.normal(scale=2e-3, size=(Vg, 3)), 1e-2, net_seed + 2 + k, shape_style=pair)
    return root
