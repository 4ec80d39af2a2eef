"""TailorNet garments (Patel, Liao & Pons-Moll, CVPR 2020) on the SMPL body, from TailorNet
files the user owns.

TailorNet predicts a garment as per-vertex displacements ``D`` (Vg, 3) in SMPL's unposed,
shaped space, from pose (theta, 72 axis-angle values), shape (beta, 10) and style (gamma, 4):

    D = LF(mask(theta), mask(beta), mask(gamma)) + sum_k w_k HF_k(mask(theta))

* ``LF`` is the low-frequency network, ``HF_k`` the high-frequency network of pivot k (one
  simulated shape-style pair), all of them TailorNet's ``FullyConnected``: Linear -> ReLU ->
  Dropout -> (Linear -> ReLU) x (num_layers - 2) -> Linear, run in eval mode (no dropout).
* The masks keep the pose of the joints that move the garment (``VALID_THETA``; the root's
  turn about the vertical axis is taken out first so that the person faces +Z, as TailorNet's
  ``normalize_y_rotation`` does), betas 0 and 1 and gammas 0 and 1 (the old t-shirt adds its
  style centre 1.5 to gamma 2).
* The pivot weights come from SS2G, a network from the raw (beta, gamma) to the garment in
  the canonical pose: ``d_k = 1000 * mean_v |SS2G(beta, gamma)_v - C_k,v|^2`` with C_k the
  canonical garment of pivot k (``style_shape/beta<shape>_gamma<style>.npy``) and
  ``w = softmax(-d / 0.01)`` (TailorNet's normalised exp(-d / sigma); the softmax form stays
  defined where that exp underflows to 0 for every pivot).

The garment's rest vertices are vertices of the once loop-subdivided SMPL template (TailorNet's
"high resolution" SMPL, 27554 vertices for SMPL's 6890): ``garment_class_info.pkl`` holds, per
class, their ids (``vert_indices``) and the garment's faces (``f``). The subdivision is a fixed
linear map M of the template, so every per-vertex quantity of that template (shaped vertices,
pose correctives, skinning weights) is M applied to the body's own. A garment vertex is
``M[i] @ (shaped + pose correctives) + D_i``, posed with the skinning weights ``M[i] @ W`` and
the body's own bone transforms (TailorNet regresses the joints from the subdivided template,
a few millimetres away; using the body's keeps the garment on the rendered body). The skirt is
not part of the template: ``skirt_weight.npz`` (``w``: skirt vertices x subdivided template
vertices, inverse-distance weights of nearby body vertices) gives both its base,
``w @ (shaped + pose correctives)``, and its skinning weights, ``w @ W``, as TailorNet's
``smpl4garment`` does. As TailorNet's inference script does, the posed garment is then pushed
out of the body where it went inside.

Files read, all under one folder (TailorNet's DATA_DIR and MODEL_WEIGHTS_PATH in one; only
what prediction needs)::

    ROOT/garment_class_info.pkl                                    (dataset_meta.zip)
    ROOT/skirt_weight.npz                                          (skirt only)
    ROOT/<class>_<gender>/pivots.txt                               (the dataset's meta)
    ROOT/<class>_<gender>/style_shape/beta<shape>_gamma<style>.npy (one per pivot)
    ROOT/<class>_<gender>_weights/tn_orig_lf/<class>_<gender>/{params.json, lin.pth.tar}
    ROOT/<class>_<gender>_weights/tn_orig_ss2g/<class>_<gender>/{params.json, lin.pth.tar}
    ROOT/<class>_<gender>_weights/tn_orig_hf/<class>_<gender>/<shape>_<style>/{params.json, lin.pth.tar}

Style: ``garment.<slot>.size`` and ``garment.<slot>.length`` map linearly onto gamma0 and
gamma1 (see ``STYLE_RANGES``), gammas 2 and 3 stay at the class's style centre.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import roma
import scipy.sparse as sp
import torch

from synthgen.clothing.classes import BOTTOMS, TOPS
from synthgen.clothing.tailornet_files import (
    WEIGHT_DIRS, missing, read_class_info, read_pivots, load_net, resolve_gender, resolve_root,
)
from synthgen.errors import ModelFileError, ParamError

#: SMPL joints whose rotation each class's networks see (TailorNet's VALID_THETA)
VALID_THETA = {
    "t-shirt": (0, 1, 2, 3, 6, 9, 12, 13, 14, 16, 17, 18, 19),
    "old-t-shirt": (0, 1, 2, 3, 6, 9, 12, 13, 14, 16, 17, 18, 19),
    "shirt": (0, 1, 2, 3, 6, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21),
    "pant": (0, 1, 2, 4, 5, 7, 8),
    "short-pant": (0, 1, 2, 4, 5),
    "skirt": (0, 1, 2, 4, 5),
}
#: betas and gammas the low-frequency network sees (TailorNet's mask_betas / mask_gammas)
VALID_BETA = (0, 1)
VALID_GAMMA = (0, 1)
#: gammas 2 and 3 of each class: its style centre (the old t-shirt's styles are centred on
#: (1.5, 0.5, 1.5, 0); every newer class's on 0)
STYLE_REST = {"old-t-shirt": (1.5, 0.0)}
#: (gamma0 at size 0, at size 1), (gamma1 at length 0, at length 1). The old t-shirt: TailorNet's
#: own examples ('small' gamma0 = 2.5, 'big' 0; 'shortsleeve' gamma1 = -1, 'longsleeve' 1.5).
#: Newer classes: the range of the simulated style grid, [-1, 1] on each (the dataset scales
#: it by its per-class coefficient range); which end of gamma0 is the looser garment is not
#: published per class, so size 1 is taken as gamma0 = +1.
STYLE_RANGES = {"old-t-shirt": ((2.5, 0.0), (-1.0, 1.5))}
DEFAULT_STYLE_RANGE = ((-1.0, 1.0), (-1.0, 1.0))
SIGMA = 0.01  # TailorNet's RBF width for the pivot weights
DIST_SCALE = 1000.0  # TailorNet's scale of the canonical-pose distance
# --- the once loop-subdivided SMPL template ---------------------------------------------------

def loop_subdivision(faces: np.ndarray, n_verts: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """One step of Loop subdivision as TailorNet builds its high-resolution SMPL: the sparse
    map M ((V + E) x V) from the old vertex positions to the new ones, and the new faces.

    New vertices: the V old ones (moved: 1 - n b on itself, b on each of its n neighbours,
    b = 3/16 for n = 3, 3 / (8 n) above, none below 3), then one per edge, ordered by (larger,
    smaller) end id (3/8 on each end, 2/8 shared by the vertices opposite the edge). Each face
    (a, b, c) becomes (ab, b, bc), (bc, c, ca), (ca, a, ab), (ab, bc, ca)."""
    f = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    V = int(n_verts)
    start, end, opposite = f, np.roll(f, -1, axis=1), np.roll(f, -2, axis=1)  # half-edge i: f_i -> f_i+1
    lo, hi = np.minimum(start, end).ravel(), np.maximum(start, end).ravel()
    edges, edge_of = np.unique(hi * V + lo, return_inverse=True)  # sorted by the larger end, then the smaller
    e_hi, e_lo = edges // V, edges % V
    E = len(edges)
    n = np.bincount(np.concatenate([e_lo, e_hi]), minlength=V)
    b = np.where(n < 3, 0.0, np.where(n == 3, 3.0 / 16.0, 3.0 / (8.0 * np.maximum(n, 1))))
    per_edge = np.bincount(edge_of, minlength=E)
    rows = np.concatenate([e_lo, e_hi, np.arange(V), V + np.arange(E), V + np.arange(E), V + edge_of])
    cols = np.concatenate([e_hi, e_lo, np.arange(V), e_lo, e_hi, opposite.ravel()])
    vals = np.concatenate([b[e_lo], b[e_hi], 1.0 - n * b, np.full(2 * E, 3.0 / 8.0),
                           0.25 / per_edge[edge_of]])
    M = sp.csr_matrix((vals, (rows, cols)), shape=(V + E, V))
    M.eliminate_zeros()
    mid = V + edge_of.reshape(-1, 3)  # (F, 3): midpoints of edges (a, b), (b, c), (c, a)
    ab, bc, ca = mid[:, 0], mid[:, 1], mid[:, 2]
    a, bb, c = f[:, 0], f[:, 1], f[:, 2]
    new_faces = np.stack([np.stack([ab, bb, bc], 1), np.stack([bc, c, ca], 1),
                          np.stack([ca, a, ab], 1), np.stack([ab, bc, ca], 1)], 1).reshape(-1, 3)
    return M, new_faces


# --- SMPL pose as TailorNet reads it -----------------------------------------------------------

def matrix_to_axis_angle(R: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) rotation matrices -> (..., 3) axis-angle vectors (angle in [0, pi]), in float64."""
    return roma.rotmat_to_rotvec(R.double())


def local_rotations(bone_transforms: torch.Tensor, parents) -> torch.Tensor:
    """(NB, 3, 3) rotation of each bone relative to its parent (the root's: global), from the
    rest-to-posed transforms of a BodyOutput item."""
    G = bone_transforms[:, :3, :3].double()
    R = G.clone()
    for k in range(1, len(G)):
        R[k] = G[int(parents[k])].T @ G[k]
    return R


def face_forward(root: torch.Tensor) -> torch.Tensor:
    """(3, 3) root rotation turned about the vertical (Y) axis so that the body's forward
    axis has no sideways component and points to +Z (TailorNet's normalize_y_rotation)."""
    fwd = root[:, 2]
    t = torch.atan2(fwd[0], fwd[2])
    c, s = torch.cos(t), torch.sin(t)
    zero, one = torch.zeros_like(c), torch.ones_like(c)
    turn = torch.stack([torch.stack([c, zero, -s]), torch.stack([zero, one, zero]), torch.stack([s, zero, c])])
    return turn @ root


def network_theta(local: torch.Tensor) -> torch.Tensor:
    """(72,) SMPL axis-angle pose for TailorNet's networks from (24, 3, 3) local rotations."""
    local = local[:24].clone()
    local[0] = face_forward(local[0])
    return matrix_to_axis_angle(local).reshape(72)


def style_gamma(garment_class: str, size: float, length: float) -> np.ndarray:
    """(4,) TailorNet style from our ``size`` (looseness) and ``length`` in [0, 1]."""
    (g0_lo, g0_hi), (g1_lo, g1_hi) = STYLE_RANGES.get(garment_class, DEFAULT_STYLE_RANGE)
    rest = STYLE_REST.get(garment_class, (0.0, 0.0))
    return np.array([g0_lo + (g0_hi - g0_lo) * size, g1_lo + (g1_hi - g1_lo) * length, *rest], dtype=np.float32)


@dataclass
class Prediction:
    """One batch of TailorNet outputs, all in SMPL's unposed space (metres)."""

    lf: torch.Tensor  # (B, Vg, 3) low-frequency displacements
    hf: torch.Tensor  # (B, P, Vg, 3) each pivot's high-frequency displacements
    weights: torch.Tensor  # (B, P) pivot weights (rows sum to 1)

    @property
    def displacement(self) -> torch.Tensor:
        return self.lf + (self.hf * self.weights[..., None, None]).sum(1)


class TailorNetModel:
    """TailorNet's predictor for one garment class and gender, on the CPU."""

    def __init__(self, root: str | os.PathLike, garment_class: str, gender: str):
        if garment_class not in VALID_THETA:
            raise ParamError("garment.top.class" if garment_class in TOPS else "garment.bottom.class",
                             f"'{garment_class}' is not a TailorNet class ({', '.join(VALID_THETA)})")
        root = Path(root)
        self.root, self.garment_class, self.gender = root, garment_class, gender
        tag = f"{garment_class}_{gender}"
        self.vert_indices, self.faces = read_class_info(root, garment_class)
        Vg = len(self.vert_indices)
        data = root / tag
        if not data.is_dir():
            raise missing(data, f"TailorNet's dataset meta for {tag} (pivots.txt, style_shape/)")
        self.pivots = read_pivots(data)
        basis = []
        for shape, style in self.pivots:
            path = data / "style_shape" / f"beta{shape}_gamma{style}.npy"
            if not path.is_file():
                raise missing(path, f"the canonical-pose garment of pivot {shape}_{style}, from the dataset")
            try:
                arr = np.load(path, allow_pickle=False)
            except (ValueError, OSError) as e:
                raise ModelFileError(f"{path}: cannot be read: {e}") from e
            if arr.size != Vg * 3:
                raise ModelFileError(f"{path}: shape {arr.shape}, expected ({Vg}, 3) for the {Vg}-vertex {garment_class}")
            basis.append(arr.reshape(Vg, 3))
        self.basis = torch.as_tensor(np.stack(basis), dtype=torch.float32)  # (P, Vg, 3)
        weights = root / f"{tag}_weights"
        self.lf = load_net(weights / WEIGHT_DIRS["lf"] / tag, "lf", 3 * Vg, garment_class)
        self.ss2g = load_net(weights / WEIGHT_DIRS["ss2g"] / tag, "ss2g", 3 * Vg, garment_class)
        self.hf = [load_net(weights / WEIGHT_DIRS["hf"] / tag / f"{s}_{g}", "hf", 3 * Vg, garment_class)
                   for s, g in self.pivots]
        self.skirt_weight = self._skirt_weight(Vg) if garment_class == "skirt" else None
        mask = torch.zeros(24, 3)
        mask[list(VALID_THETA[garment_class])] = 1.0
        self.theta_mask = mask.reshape(72)
        self.beta_mask = torch.zeros(10)
        self.beta_mask[list(VALID_BETA)] = 1.0
        self.gamma_mask = torch.zeros(4)
        self.gamma_mask[list(VALID_GAMMA)] = 1.0
        self.gamma_offset = torch.zeros(4)
        if garment_class == "old-t-shirt":
            self.gamma_offset[2] = 1.5

    def _skirt_weight(self, Vg: int) -> sp.csr_matrix:
        path = self.root / "skirt_weight.npz"
        if not path.is_file():
            raise missing(path, "TailorNet's skirt-to-body weights ('w': skirt vertices x subdivided SMPL vertices)")
        try:
            with np.load(path, allow_pickle=False) as z:
                if "w" not in z.files:
                    raise ModelFileError(f"{path}: no array 'w'")
                w = z["w"]
        except (ValueError, OSError) as e:
            raise ModelFileError(f"{path}: cannot be read: {e}") from e
        if w.ndim != 2 or w.shape[0] != Vg:
            raise ModelFileError(f"{path}: 'w' has shape {w.shape}, expected ({Vg}, subdivided SMPL vertices)")
        return sp.csr_matrix(w.astype(np.float64))

    @property
    def n_vertices(self) -> int:
        return len(self.vert_indices)

    def predict(self, theta, beta, gamma) -> Prediction:
        """TailorNet's forward for (B, 72) thetas (already facing +Z), (B, 10) betas, (B, 4) gammas."""
        theta = torch.as_tensor(theta, dtype=torch.float32).reshape(-1, 72)
        beta = torch.as_tensor(beta, dtype=torch.float32).reshape(-1, 10)
        gamma = torch.as_tensor(gamma, dtype=torch.float32).reshape(-1, 4)
        B = theta.shape[0]
        with torch.no_grad():
            th = theta * self.theta_mask
            lf_in = torch.cat([th, beta * self.beta_mask, gamma * self.gamma_mask + self.gamma_offset], 1)
            lf = self.lf(lf_in).view(B, -1, 3)
            hf = torch.stack([net(th).view(B, -1, 3) for net in self.hf], 1)
            canon = self.ss2g(torch.cat([beta, gamma], 1)).view(B, -1, 3)
            dist = ((canon[:, None] - self.basis[None]) ** 2).sum(-1).mean(-1) * DIST_SCALE
            weights = torch.softmax(-dist / SIGMA, dim=1)
        return Prediction(lf, hf, weights)


@functools.lru_cache(maxsize=8)
def _load_cached(root: str, garment_class: str, gender: str) -> TailorNetModel:
    return TailorNetModel(root, garment_class, gender)


def load_tailornet(root: str | os.PathLike, garment_class: str, gender: str) -> TailorNetModel:
    """The predictor of (class, gender) under ``root``, loaded once per process (TailorNet's
    released networks hold about 100 MB per network, one network per pivot)."""
    return _load_cached(str(Path(root).resolve()), garment_class, gender)


# --- dressing an SMPL body ---------------------------------------------------------------------

class TailorNetWardrobe:
    """Dresses bodies of the SMPL backend with TailorNet garments from ``garment.top.*`` /
    ``garment.bottom.*`` (classes, size, length, colour, pattern)."""

    def __init__(self, body, root: str | os.PathLike | None = None):
        if getattr(body, "name", None) != "smpl":
            raise ParamError("garment.backend", f"'tailornet' predicts garments for the SMPL body; this scene's "
                                                f"body is '{getattr(body, 'name', body)}' (use body: {{backend: smpl}})")
        from synthgen.clothing.surface import BodySurface

        self.body = body
        self.root = resolve_root(root)
        self.gender = getattr(body, "gender", "neutral")
        self.body_faces = body.faces.numpy()
        V = int(body.model.v_template.shape[0])
        self.mapping, _ = loop_subdivision(self.body_faces, V)
        self.skin_weights = body.static()["skin_weights"].double().numpy()
        self.posedirs = body.model.posedirs.double()  # (9 x (NB - 1), 3V)
        self.parents = body.model.parents.tolist()
        self.surface = BodySurface(body.model.v_template.double().numpy(), self.body_faces)
        self._bases: dict = {}

    def model(self, garment_class: str, key: str) -> TailorNetModel:
        try:
            gender = resolve_gender(self.root, garment_class, self.gender)
            return load_tailornet(self.root, garment_class, gender)
        except ModelFileError as e:
            raise ModelFileError(f"parameter '{key}' = '{garment_class}' (garment.backend tailornet): {e}") from e

    def base(self, model: TailorNetModel) -> dict:
        """The sparse map from body vertices to the garment's base vertices, its skinning
        weights and the body vertex under each garment vertex."""
        key = (model.garment_class, model.gender, str(model.root))
        if key not in self._bases:
            n_hres = self.mapping.shape[0]
            if model.skirt_weight is not None:
                if model.skirt_weight.shape[1] != n_hres:
                    raise ModelFileError(
                        f"{model.root / 'skirt_weight.npz'}: 'w' has {model.skirt_weight.shape[1]} columns, expected "
                        f"{n_hres} (the vertices of this body's template subdivided once)")
                B = (model.skirt_weight @ self.mapping).tocsr()
            else:
                top = int(model.vert_indices.max())
                if top >= n_hres:
                    raise ModelFileError(
                        f"{model.root / 'garment_class_info.pkl'}: '{model.garment_class}' vert_indices reach {top}, but "
                        f"this body's template subdivided once has {n_hres} vertices (SMPL: 27554)")
                B = self.mapping[model.vert_indices].tocsr()
            self._bases[key] = {
                "B": B,
                "skin": np.asarray(B @ self.skin_weights),
                "anchors": np.asarray(B.argmax(axis=1)).reshape(-1),
            }
        return self._bases[key]

    def pose(self, B, skin: np.ndarray, D: np.ndarray, out, index: int, local: torch.Tensor | None = None):
        """Points ``B @ (shaped body + pose correctives) + D`` of SMPL's unposed space (``B``
        sparse, over the body's vertices), and the same points posed by linear blend skinning
        with weights ``skin`` and the body's bone transforms: (unposed, posed), (G, 3) each."""
        if local is None:
            local = local_rotations(out.bone_transforms[index], self.parents)
        NB = local.shape[0]
        pose_feature = (local[1:] - torch.eye(3, dtype=torch.float64)).reshape(1, 9 * (NB - 1))
        correctives = (pose_feature @ self.posedirs).reshape(-1, 3).numpy()
        rest = out.rest_vertices[index].double().numpy()
        unposed = B @ (rest + correctives) + D
        T = out.bone_transforms[index].double().numpy()
        posed = np.einsum("gj,jab,gb->ga", skin, T[:, :3, :3], unposed) + skin @ T[:, :3, 3]
        return unposed, posed

    def garment(self, model: TailorNetModel, slot: str, params: dict, out, index: int, surface):
        from synthgen.clothing.clearance import push_out
        from synthgen.clothing.garments import Garment
        from synthgen.render import textures

        g = lambda k, d: params.get(f"garment.{slot}.{k}", d)  # noqa: E731
        base = self.base(model)
        local = local_rotations(out.bone_transforms[index], self.parents)
        names = list(self.body.shape_params)[:10]
        beta = np.zeros(10, dtype=np.float32)
        beta[: len(names)] = [float(params.get(n, 0.0)) for n in names]
        gamma = style_gamma(model.garment_class, float(g("size", 0.3)), float(g("length", 0.5)))
        D = model.predict(network_theta(local)[None], beta[None], gamma[None]).displacement[0].double().numpy()
        unposed, x = self.pose(base["B"], base["skin"], D, out, index, local)
        x = push_out(x, surface)
        # texture coordinates as the procedural garments have them (1 tile per 25 cm of the
        # unposed garment), so that patterns keep their scale and follow the cloth
        uv = np.stack([(unposed[:, 0] + unposed[:, 2]) * 4.0, unposed[:, 1] * 4.0], 1)
        colour = textures.hue_colour(float(g("color", 0.6)), 0.55, 0.35 + 0.5 * float(g("brightness", 0.6)))
        return Garment(model.garment_class, slot, x, model.faces.copy(), uv, base["anchors"].copy(), colour,
                       g("pattern", "solid"))

    def dress(self, params: dict, out, index: int = 0) -> list:
        from synthgen.clothing.clearance import layer_outer

        dressed = []
        surface = self.surface.pose(out.vertices[index].double().numpy())
        for slot, allowed in (("bottom", BOTTOMS), ("top", TOPS)):
            key = f"garment.{slot}.class"
            name = params.get(key, "none")
            if name == "none":
                continue
            if name not in allowed:
                raise ParamError(key, f"'{name}' is not a {slot} (choose none, {', '.join(allowed)})")
            dressed.append(self.garment(self.model(name, key), slot, params, out, index, surface))
        if len(dressed) == 2:
            layer_outer(dressed[0], dressed[1], surface)
        return dressed
