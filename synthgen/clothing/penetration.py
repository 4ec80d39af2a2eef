"""Garment-body interpenetration, measured two ways.

* ``behind_fraction``: the share of garment vertices that lie behind the body surface closest
  to them (negative signed distance along that face's normal): the usual collision measure
  in garment papers; it is what dressing must drive under 1%.
* ``inside_fraction``: the share inside the body by the generalized winding number (Jacobson
  et al. 2013). Where a pose makes the body mesh pass through itself (thighs into the belly
  when sitting, say) a garment between the two surfaces is inside one of them whatever is
  done, so this one also counts the body's own self-intersection. On a closed mesh the
  winding number is the signed count of surface crossings along any ray from the point
  (``crossing_numbers``, one ray along +x through a grid of the faces: fast enough for the
  hundreds of thousands of points a benchmark measures)."""

from __future__ import annotations

import numpy as np
import torch


def winding_numbers(points: np.ndarray, verts: np.ndarray, faces: np.ndarray, chunk: int = 16) -> np.ndarray:
    """(N,) winding numbers of ``points`` with respect to the triangle mesh (verts, faces)."""
    tri = torch.as_tensor(verts, dtype=torch.float32)[torch.as_tensor(faces, dtype=torch.long)]  # (F, 3, 3)
    out = []
    for start in range(0, len(points), chunk):
        p = torch.as_tensor(points[start:start + chunk], dtype=torch.float32)
        r = tri[None] - p[:, None, None]  # (n, F, 3, 3)
        a, b, c = r[:, :, 0], r[:, :, 1], r[:, :, 2]
        la, lb, lc = a.norm(dim=-1), b.norm(dim=-1), c.norm(dim=-1)
        det = (a * torch.cross(b, c, dim=-1)).sum(-1)
        denom = la * lb * lc + (a * b).sum(-1) * lc + (b * c).sum(-1) * la + (c * a).sum(-1) * lb
        out.append((2.0 * torch.atan2(det, denom)).sum(1) / (4.0 * np.pi))
    return torch.cat(out).numpy() if out else np.zeros(0)


def crossing_numbers(points: np.ndarray, verts: np.ndarray, faces: np.ndarray, cell: float = 0.02) -> np.ndarray:
    """(N,) integer winding numbers of ``points`` with respect to the closed, consistently
    wound triangle mesh (verts, faces): the crossings of the ray from each point along +x,
    counted +1 where the surface faces +x (the ray leaves) and -1 where it faces -x. Faces
    are binned by their (y, z) bounding boxes into square cells of side ``cell``."""
    # the rays start a nanometre off the points, sideways: a ray through a shared edge or a
    # vertex exactly (an axis through a box's diagonal, say) would count both faces or none
    p = np.asarray(points, dtype=np.float64) + np.array([0.0, 0.6180339887e-9, 0.7548776662e-9])
    tri = np.asarray(verts, dtype=np.float64)[np.asarray(faces)]  # (F, 3, 3)
    if len(p) == 0 or len(tri) == 0:
        return np.zeros(len(p), dtype=np.int64)
    yz = tri[:, :, 1:]
    origin = yz.reshape(-1, 2).min(0)
    lo = np.floor((yz.min(1) - origin) / cell).astype(np.int64)
    hi = np.floor((yz.max(1) - origin) / cell).astype(np.int64)
    ncol = int(hi[:, 1].max()) + 1
    # one (face, cell) pair per cell a face's box covers, grouped by cell
    span = hi - lo + 1
    count = span[:, 0] * span[:, 1]
    face = np.repeat(np.arange(len(tri)), count)
    local = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    cells = (lo[face, 0] + local // span[face, 1]) * ncol + lo[face, 1] + local % span[face, 1]
    order = np.argsort(cells, kind="stable")
    face, cells = face[order], cells[order]
    # each point against the faces of its cell
    pc = np.floor((p[:, 1:] - origin) / cell).astype(np.int64)
    inside_grid = (pc >= 0).all(1) & (pc[:, 0] <= hi[:, 0].max()) & (pc[:, 1] < ncol)
    key = np.where(inside_grid, pc[:, 0] * ncol + pc[:, 1], -1)
    start = np.searchsorted(cells, key, side="left")
    n = np.where(inside_grid, np.searchsorted(cells, key, side="right") - start, 0)
    point = np.repeat(np.arange(len(p)), n)
    f = face[np.repeat(start, n) + np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)]
    a, b, c = tri[f, 0], tri[f, 1], tri[f, 2]
    q = p[point]
    # signed areas in the (y, z) plane: the point is inside where all three share a sign
    e = lambda u, v: (u[:, 1] - q[:, 1]) * (v[:, 2] - q[:, 2]) - (u[:, 2] - q[:, 2]) * (v[:, 1] - q[:, 1])  # noqa: E731
    wa, wb, wc = e(b, c), e(c, a), e(a, b)
    area = wa + wb + wc
    hit = ((wa > 0) & (wb > 0) & (wc > 0)) | ((wa < 0) & (wb < 0) & (wc < 0))
    x = (wa * a[:, 0] + wb * b[:, 0] + wc * c[:, 0]) / np.where(area == 0, 1.0, area)
    hit &= x > q[:, 0]
    # the face's normal has the sign of its (y, z) area along x
    return np.bincount(point[hit], weights=np.sign(area[hit]), minlength=len(p)).round().astype(np.int64)


def behind_fraction(points: np.ndarray, verts: np.ndarray, faces: np.ndarray, tolerance: float = 0.0) -> float:
    """Fraction of ``points`` behind their closest body face (the exact closest, over the whole
    surface), by more than ``tolerance`` metres."""
    from synthgen.clothing.surface import BodySurface

    if len(points) == 0:
        return 0.0
    _, _, signed, _ = BodySurface(verts, faces).closest(points, np.inf)
    return float((signed < -tolerance).mean())


def inside_fraction(points: np.ndarray, verts: np.ndarray, faces: np.ndarray) -> float:
    """Fraction of ``points`` inside the closed mesh (winding number above 0.5, counted by
    ``crossing_numbers``)."""
    if len(points) == 0:
        return 0.0
    return float((crossing_numbers(points, verts, faces) > 0).mean())
