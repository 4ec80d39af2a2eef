"""Exact visibility pass: which triangle covers each pixel centre, with its barycentric
coordinates and depth. No antialiasing and no lighting, so ids are exact; written in torch
(vectorized over triangle-pixel pairs) because the OpenGL pass draws several samples a pixel
and averages them (synthgen.render.gl.SUPERSAMPLE), which would blend ids at edges.

Conventions: OpenCV camera (x right, y down, z forward); pixel (u, v) has its centre at
integer coordinates; K maps camera points to pixels."""

from __future__ import annotations

from dataclasses import dataclass

import torch

NEAR = 1e-3


@dataclass
class Raster:
    """Per pixel (H, W): ``face`` index into the faces given (-1: nothing), ``bary`` (H, W, 3)
    perspective-correct barycentric weights of the face's 3 vertices, ``depth`` (camera z,
    metres; +inf where nothing)."""

    face: torch.Tensor
    bary: torch.Tensor
    depth: torch.Tensor


def rasterize(verts_cam: torch.Tensor, faces: torch.Tensor, K: torch.Tensor, height: int, width: int,
              cull_back: bool | torch.Tensor = True) -> Raster:
    """``verts_cam``: (V, 3) camera-space points; ``faces``: (F, 3) long, wound
    counter-clockwise seen from outside; ``K``: (3, 3). Faces of closed meshes seen from
    outside that turn away from the camera are never the nearest surface: ``cull_back``
    (True, or an (F,) mask of the faces it applies to; open surfaces such as garments are
    two-sided) skips them."""
    dev, dtype = verts_cam.device, torch.float64
    v = verts_cam.to(dtype)
    K = K.to(dtype)
    z = v[:, 2]
    uv = (v @ K.T)[:, :2] / z.clamp_min(NEAR)[:, None]
    tri_z = z[faces]  # (F, 3)
    keep = (tri_z > NEAR).all(1)
    if cull_back is not False:
        a, b, c = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
        facing = (torch.cross(b - a, c - a, dim=1) * a).sum(1) < 0
        keep &= facing if cull_back is True else (facing | ~cull_back)
    f_idx = torch.nonzero(keep)[:, 0]
    tri = uv[faces[f_idx]]  # (F', 3, 2)
    corners = tri.unbind(1)
    lo = torch.ceil(torch.minimum(torch.minimum(*corners[:2]), corners[2]))
    hi = torch.floor(torch.maximum(torch.maximum(*corners[:2]), corners[2]))
    lo[:, 0].clamp_(0, width - 1)
    lo[:, 1].clamp_(0, height - 1)
    hi[:, 0].clamp_(-1, width - 1)
    hi[:, 1].clamp_(-1, height - 1)
    nu = (hi[:, 0] - lo[:, 0] + 1).clamp_min(0).long()
    nv = (hi[:, 1] - lo[:, 1] + 1).clamp_min(0).long()
    count = nu * nv
    total = int(count.sum())
    depth = torch.full((height * width,), float("inf"), dtype=dtype, device=dev)
    face_out = torch.full((height * width,), -1, dtype=torch.long, device=dev)
    bary_out = torch.zeros((height * width, 3), dtype=dtype, device=dev)
    if total == 0:
        return Raster(face_out.view(height, width), bary_out.view(height, width, 3).float(),
                      depth.view(height, width).float())
    # one row per (triangle, candidate pixel) pair; what a pair needs of its triangle is
    # gathered in one go: the corners (6), the box's first pixel (2), its width and its
    # signed area (the same arithmetic per triangle as per pair, so the same bits)
    area_t = (tri[:, 1, 0] - tri[:, 0, 0]) * (tri[:, 2, 1] - tri[:, 0, 1]) \
        - (tri[:, 1, 1] - tri[:, 0, 1]) * (tri[:, 2, 0] - tri[:, 0, 0])
    per_tri = torch.cat([tri.reshape(-1, 6), lo, nu[:, None].to(dtype), area_t[:, None]], 1)
    pair_tri = torch.repeat_interleave(torch.arange(len(f_idx), device=dev), count)
    start = torch.cumsum(count, 0) - count
    local = torch.arange(total, device=dev) - start[pair_tri]
    t = per_tri[pair_tri]
    a0, a1, b0, b1, c0, c1, lo0, lo1, box_w, area = t.unbind(1)
    box_w = box_w.long()
    pu = lo0 + (local % box_w)
    pv = lo1 + torch.div(local, box_w, rounding_mode="floor")
    w0 = (b0 - pu) * (c1 - pv) - (b1 - pv) * (c0 - pu)
    w1 = (c0 - pu) * (a1 - pv) - (c1 - pv) * (a0 - pu)
    w2 = (a0 - pu) * (b1 - pv) - (a1 - pv) * (b0 - pu)
    safe = torch.where(area.abs() > 1e-12, area, torch.ones_like(area))
    l0, l1, l2 = w0 / safe, w1 / safe, w2 / safe
    eps = -1e-9
    keep_pair = torch.nonzero((area.abs() > 1e-12) & (l0 >= eps) & (l1 >= eps) & (l2 >= eps))[:, 0]
    pair_tri, pu, pv = pair_tri[keep_pair], pu[keep_pair], pv[keep_pair]
    lam = torch.stack([l0, l1, l2], 1)[keep_pair].clamp_min(0)
    lam = lam / lam.sum(1, keepdim=True)
    inv_z = lam / tri_z[f_idx[pair_tri]]  # perspective-correct interpolation
    pz = 1.0 / inv_z.sum(1)
    persp = inv_z * pz[:, None]
    pix = (pv * width + pu).long()
    depth.scatter_reduce_(0, pix, pz, reduce="amin")
    win = pz <= depth[pix]
    # ties (shared edges at equal depth): the highest face index wins, deterministically
    cand = torch.where(win, f_idx[pair_tri], torch.full_like(pair_tri, -1))
    face_out.scatter_reduce_(0, pix, cand, reduce="amax")
    chosen = win & (cand == face_out[pix])
    bary_out[pix[chosen]] = persp[chosen]
    return Raster(face_out.view(height, width), bary_out.view(height, width, 3).float(),
                  depth.view(height, width).float())
