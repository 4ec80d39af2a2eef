"""Garment-body interpenetration, measured two ways.

* ``behind_fraction``: the share of garment vertices that lie behind the body surface closest
  to them (negative signed distance along that face's normal): the usual collision measure
  in garment papers; it is what dressing must drive under 1%.
* ``inside_fraction``: the share inside the body by the generalized winding number (Jacobson
  et al. 2013). Where a pose makes the body mesh pass through itself (thighs into the belly
  when sitting, say) a garment between the two surfaces is inside one of them whatever is
  done, so this one also counts the body's own self-intersection."""

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


def behind_fraction(points: np.ndarray, verts: np.ndarray, faces: np.ndarray, tolerance: float = 0.0) -> float:
    """Fraction of ``points`` behind their closest body face (searched widely: 16 nearest
    vertices' faces), by more than ``tolerance`` metres."""
    from synthgen.clothing.attach import attach

    if len(points) == 0:
        return 0.0
    _, _, signed = attach(points, verts, faces, k=16)
    return float((signed < -tolerance).mean())


def inside_fraction(points: np.ndarray, verts: np.ndarray, faces: np.ndarray) -> float:
    """Fraction of ``points`` inside the closed mesh (winding number above 0.5)."""
    if len(points) == 0:
        return 0.0
    return float((winding_numbers(points, verts, faces) > 0.5).mean())
