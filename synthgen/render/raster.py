"""Exact visibility pass: which triangle covers each pixel centre, with its barycentric
coordinates and depth. No antialiasing and no lighting, so ids are exact; its own pass because
the OpenGL pass draws several samples a pixel and averages them
(synthgen.render.gl.SUPERSAMPLE), which would blend ids at edges.

The pixels of each triangle's bounding box are visited by NVIDIA Warp kernels on the CPU, in
float64, in three passes whose result does not depend on the order the triangles are visited
in: the nearest depth of each pixel, then the highest face index at that depth (ties on shared
edges), then that face's barycentric weights, each pass computing a pixel of a triangle with
one and the same function (so the same bits).

Conventions: OpenCV camera (x right, y down, z forward); pixel (u, v) has its centre at
integer coordinates; K maps camera points to pixels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import warp as wp

from synthgen.warp_kernels import load

NEAR = 1e-3


@dataclass
class Raster:
    """Per pixel (H, W): ``face`` index into the faces given (-1: nothing), ``bary`` (H, W, 3)
    perspective-correct barycentric weights of the face's 3 vertices, ``depth`` (camera z,
    metres; +inf where nothing)."""

    face: torch.Tensor
    bary: torch.Tensor
    depth: torch.Tensor


@wp.func
def _area(uv: wp.array(dtype=wp.vec2d), f: wp.vec3i):
    a, b, c = uv[f[0]], uv[f[1]], uv[f[2]]
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


@wp.func
def _pixel(uv: wp.array(dtype=wp.vec2d), z: wp.array(dtype=wp.float64), f: wp.vec3i, area: wp.float64,
           pu: wp.float64, pv: wp.float64):
    """Whether pixel centre (pu, pv) lies in face f, its depth there and the perspective-correct
    barycentric weights."""
    a, b, c = uv[f[0]], uv[f[1]], uv[f[2]]
    l0 = ((b[0] - pu) * (c[1] - pv) - (b[1] - pv) * (c[0] - pu)) / area
    l1 = ((c[0] - pu) * (a[1] - pv) - (c[1] - pv) * (a[0] - pu)) / area
    l2 = ((a[0] - pu) * (b[1] - pv) - (a[1] - pv) * (b[0] - pu)) / area
    eps = wp.float64(-1e-9)
    inside = l0 >= eps and l1 >= eps and l2 >= eps
    zero = wp.float64(0.0)
    l0, l1, l2 = wp.max(l0, zero), wp.max(l1, zero), wp.max(l2, zero)
    s = l0 + l1 + l2
    i0, i1, i2 = l0 / s / z[f[0]], l1 / s / z[f[1]], l2 / s / z[f[2]]
    pz = wp.float64(1.0) / (i0 + i1 + i2)
    return inside, pz, wp.vec3d(i0 * pz, i1 * pz, i2 * pz)


@wp.kernel
def _boxes(verts: wp.array(dtype=wp.vec3d), uv: wp.array(dtype=wp.vec2d), faces: wp.array(dtype=wp.vec3i),
           cull: wp.array(dtype=wp.int32), width: int, height: int, near: wp.float64,
           box: wp.array(dtype=wp.vec4i)):
    """Each face's pixel box (u0, v0, u1, v1), empty for faces behind the near plane, turned
    away (where culled) or of no area."""
    t = wp.tid()
    f = faces[t]
    box[t] = wp.vec4i(0, 0, -1, -1)
    a, b, c = verts[f[0]], verts[f[1]], verts[f[2]]
    if a[2] <= near or b[2] <= near or c[2] <= near:
        return
    if cull[t] != 0 and wp.dot(wp.cross(b - a, c - a), a) >= wp.float64(0.0):
        return
    if wp.abs(_area(uv, f)) <= wp.float64(1e-12):
        return
    p, q, r = uv[f[0]], uv[f[1]], uv[f[2]]
    u0 = wp.clamp(wp.ceil(wp.min(wp.min(p[0], q[0]), r[0])), wp.float64(0.0), wp.float64(width - 1))
    v0 = wp.clamp(wp.ceil(wp.min(wp.min(p[1], q[1]), r[1])), wp.float64(0.0), wp.float64(height - 1))
    u1 = wp.clamp(wp.floor(wp.max(wp.max(p[0], q[0]), r[0])), wp.float64(-1.0), wp.float64(width - 1))
    v1 = wp.clamp(wp.floor(wp.max(wp.max(p[1], q[1]), r[1])), wp.float64(-1.0), wp.float64(height - 1))
    box[t] = wp.vec4i(int(u0), int(v0), int(u1), int(v1))


@wp.kernel
def _cover(uv: wp.array(dtype=wp.vec2d), z: wp.array(dtype=wp.float64), faces: wp.array(dtype=wp.vec3i),
           box: wp.array(dtype=wp.vec4i), width: int, winner: int, depth: wp.array(dtype=wp.float64),
           face: wp.array(dtype=wp.int32)):
    """Each face over the pixel centres of its box: the nearest depth of each pixel (``winner``
    0), then the highest face at that depth (``winner`` 1)."""
    t = wp.tid()
    f, bx = faces[t], box[t]
    area = _area(uv, f)
    for pv in range(bx[1], bx[3] + 1):
        for pu in range(bx[0], bx[2] + 1):
            inside, pz, w = _pixel(uv, z, f, area, wp.float64(pu), wp.float64(pv))
            if inside:
                if winner == 0:
                    wp.atomic_min(depth, pv * width + pu, pz)
                elif pz <= depth[pv * width + pu]:
                    wp.atomic_max(face, pv * width + pu, t)


@wp.kernel
def _weights(uv: wp.array(dtype=wp.vec2d), z: wp.array(dtype=wp.float64), faces: wp.array(dtype=wp.vec3i),
             face: wp.array(dtype=wp.int32), width: int, bary: wp.array(dtype=wp.vec3d)):
    p = wp.tid()
    t = face[p]
    if t >= 0:
        f = faces[t]
        inside, pz, w = _pixel(uv, z, f, _area(uv, f), wp.float64(p % width), wp.float64(p // width))
        bary[p] = w


def rasterize(verts_cam: torch.Tensor, faces: torch.Tensor, K: torch.Tensor, height: int, width: int,
              cull_back: bool | torch.Tensor = True) -> Raster:
    """``verts_cam``: (V, 3) camera-space points; ``faces``: (F, 3) long, wound
    counter-clockwise seen from outside; ``K``: (3, 3). Faces of closed meshes seen from
    outside that turn away from the camera are never the nearest surface: ``cull_back``
    (True, or an (F,) mask of the faces it applies to; open surfaces such as garments are
    two-sided) skips them. Computed on the CPU; the result is on the CPU."""
    load(__name__)
    v = verts_cam.detach().to("cpu", torch.float64)
    z = v[:, 2]
    uv = (v @ K.to("cpu", torch.float64).T)[:, :2] / z.clamp_min(NEAR)[:, None]
    cull = torch.as_tensor(cull_back).expand(len(faces)) if isinstance(cull_back, bool) else cull_back
    n = height * width
    depth = wp.full(n, np.inf, dtype=wp.float64, device="cpu")
    face = wp.full(n, -1, dtype=wp.int32, device="cpu")
    bary = wp.zeros(n, dtype=wp.vec3d, device="cpu")
    if len(faces):
        def arr(x, dtype):
            return wp.array(np.ascontiguousarray(x), dtype=dtype, device="cpu")

        wv, wuv, wz = arr(v.numpy(), wp.vec3d), arr(uv.numpy(), wp.vec2d), arr(z.numpy(), wp.float64)
        wf = arr(faces.cpu().numpy().astype(np.int32), wp.vec3i)
        box = wp.empty(len(faces), dtype=wp.vec4i, device="cpu")
        wp.launch(_boxes, dim=len(faces), inputs=[wv, wuv, wf, arr(cull.cpu().numpy().astype(np.int32), wp.int32),
                                                  width, height, NEAR, box], device="cpu")
        for winner in (0, 1):
            wp.launch(_cover, dim=len(faces), inputs=[wuv, wz, wf, box, width, winner, depth, face], device="cpu")
        wp.launch(_weights, dim=n, inputs=[wuv, wz, wf, face, width, bary], device="cpu")
    return Raster(torch.from_numpy(face.numpy()).long().view(height, width),
                  torch.from_numpy(bary.numpy()).float().view(height, width, 3),
                  torch.from_numpy(depth.numpy()).float().view(height, width))
