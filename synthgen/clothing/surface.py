"""Closest points on a posed body's surface, for keeping garments off the skin: a bounding-volume
hierarchy over the body's triangles (NVIDIA Warp, which Anny already uses for its skinning),
built once per body topology and refit to each pose.

Same inputs, same answer in every process: the tree is built from a fixed pose of the topology
(the template), never from whichever pose a process happened to see first, and a refit keeps its
structure, so ties between equally close faces resolve the same way everywhere. Warp searches in
float32; the closest point on the face it names, its barycentric weights and the signed distance
are computed again in float64."""

from __future__ import annotations

import numpy as np
import warp as wp

from synthgen.clothing.attach import closest_point_on_triangles
from synthgen.warp_kernels import load


@wp.kernel
def _closest_faces(mesh: wp.uint64, points: wp.array(dtype=wp.vec3), max_dist: float,
                   face: wp.array(dtype=wp.int32)):
    i = wp.tid()
    query = wp.mesh_query_point_no_sign(mesh, points[i], max_dist)
    if query.result:
        face[i] = query.face
    else:
        face[i] = -1


class BodySurface:
    """One body topology's triangles, posed by ``pose`` and queried by ``closest``."""

    def __init__(self, template: np.ndarray, faces: np.ndarray):
        load(__name__)
        self.faces = np.asarray(faces, dtype=np.int64)
        self.verts = np.asarray(template, dtype=np.float64)
        self._points = wp.array(self.verts.astype(np.float32), dtype=wp.vec3, device="cpu")
        self._indices = wp.array(self.faces.astype(np.int32).reshape(-1), dtype=wp.int32, device="cpu")
        self._mesh = wp.Mesh(points=self._points, indices=self._indices)

    def pose(self, verts: np.ndarray) -> BodySurface:
        """Move the surface to the posed vertices ``verts`` (V, 3) (the tree is refit)."""
        verts = np.asarray(verts, dtype=np.float64)
        if verts.shape != self.verts.shape:
            raise ValueError(f"the body surface has {len(self.verts)} vertices, the pose gives {len(verts)}")
        self.verts = verts
        self._points.assign(verts.astype(np.float32))
        self._mesh.refit()
        return self

    def closest(self, points: np.ndarray, max_dist: float):
        """For each of ``points`` (N, 3): the face holding its closest point on the surface
        (-1: none within ``max_dist``), that point's barycentric weights (N, 3), the signed
        distance along the face's normal (positive outside for outward-wound faces; NaN where
        no face) and that unit normal (N, 3)."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        n = len(points)
        face = np.full(n, -1, dtype=np.int64)
        bary, normal = np.zeros((n, 3)), np.zeros((n, 3))
        signed = np.full(n, np.nan)
        if n == 0:
            return face, bary, signed, normal
        out = wp.empty(n, dtype=wp.int32, device="cpu")
        wp.launch(_closest_faces, dim=n, inputs=[self._mesh.id, wp.array(points.astype(np.float32), dtype=wp.vec3,
                                                                          device="cpu"), float(max_dist)],
                  outputs=[out], device="cpu")
        face = out.numpy().astype(np.int64)
        hit = np.nonzero(face >= 0)[0]
        tri = self.verts[self.faces[face[hit]]]
        b = closest_point_on_triangles(points[hit], tri[:, 0], tri[:, 1], tri[:, 2])
        off = points[hit] - np.einsum("nk,nkd->nd", b, tri)
        nrm = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        nrm /= np.linalg.norm(nrm, axis=1, keepdims=True).clip(1e-12)
        bary[hit], normal[hit], signed[hit] = b, nrm, np.einsum("ij,ij->i", off, nrm)
        return face, bary, signed, normal
