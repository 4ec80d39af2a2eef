"""Keeping garments off the skin after posing: the garment vertices that lie behind the body's
surface, or too close to it, are pushed out along the normal of the closest face
(synthgen.clothing.surface); a top over a bottom keeps a layer's width above it."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

GAP = 0.002  # minimum clearance from the skin after posing (m)


def vertex_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """(V, 3) unit, area-weighted vertex normals of a triangle mesh (numpy)."""
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    n = np.stack([np.bincount(f.reshape(-1), weights=np.repeat(fn[:, k], 3), minlength=len(v)) for k in range(3)], 1)
    return n / np.linalg.norm(n, axis=1, keepdims=True).clip(1e-12)


def push_out(x: np.ndarray, surface, gap: float | np.ndarray = GAP, reach: float = 0.1, rounds: int = 6) -> np.ndarray:
    """Move points that lie behind the closest face of ``surface`` (a posed BodySurface), by
    its normal, or less than ``gap`` in front of it, out to ``gap`` in front of it. Only points
    within ``reach`` of the surface are considered: deeper ones sit where the surface itself
    folds into itself. A push out of one face can land behind its neighbour in a crease, so the
    points that moved are checked again, up to ``rounds`` times in all."""
    x = np.array(x, dtype=np.float64)
    want_all = np.broadcast_to(np.asarray(gap, dtype=np.float64), (len(x),))
    active = np.arange(len(x))
    for _ in range(rounds):
        if len(active) == 0:
            break
        want = want_all[active]
        face, _, signed, normal = surface.closest(x[active], max(reach, float(want.max())) + 1e-3)
        move = (face >= 0) & (signed < want) & (signed > -reach)
        x[active[move]] += (want[move] - signed[move])[:, None] * normal[move]
        active = active[move]
    return x


def layer_gaps(inner: np.ndarray, outer: np.ndarray, surface) -> np.ndarray:
    """(len(outer),) clearance each vertex of a top (``outer``) needs over a bottom
    (``inner``) on the posed ``surface``: 3 mm more than the bottom's own clearance where they
    overlap (within 3 cm), GAP elsewhere."""
    _, _, inner_clear, _ = surface.closest(inner, 1.0)
    d, nearest = cKDTree(inner).query(outer)
    return np.where(d < 0.03, np.maximum(np.nan_to_num(inner_clear[nearest]), 0.0) + 0.003, GAP)


def layer_outer(inner, outer, surface) -> None:
    """A top over trousers or a skirt (Garments): where they overlap, move the top
    (``outer``) out to 3 mm further from the skin than the bottom (``inner``) under it."""
    outer.vertices = push_out(outer.vertices, surface, gap=layer_gaps(inner.vertices, outer.vertices, surface))
    outer.__dict__.pop("normals", None)  # recomputed from the moved vertices
