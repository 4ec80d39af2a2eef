"""Attaching one surface to another: for each point, the closest point on a triangle mesh
(face, barycentric weights) and its signed distance along the face normal."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


def _dot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", x, y)


def closest_point_on_triangles(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """(N, 3) barycentric weights of the closest point to each p on triangle (a, b, c)
    (Ericson, Real-Time Collision Detection, 5.1.5), vectorized."""
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = _dot(ab, ap), _dot(ac, ap)
    bp = p - b
    d3, d4 = _dot(ab, bp), _dot(ac, bp)
    cp = p - c
    d5, d6 = _dot(ab, cp), _dot(ac, cp)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2
    denom = va + vb + vc
    denom = np.where(np.abs(denom) < 1e-18, 1e-18, denom)
    v, w = vb / denom, vc / denom
    u = 1 - v - w
    safe = lambda x, y: x / np.where(np.abs(y) < 1e-18, 1e-18, y)  # noqa: E731
    # regions are applied from the weakest to the strongest: interior, edges, vertices
    zero = np.zeros_like(v)
    for m, (nu, nv, nw) in (
        ((va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0),  # edge bc
         (zero, 1 - (t := safe(d4 - d3, (d4 - d3) + (d5 - d6))), t)),
        ((vb <= 0) & (d2 >= 0) & (d6 <= 0), (1 - (t := safe(d2, d2 - d6)), zero, t)),  # edge ac
        ((vc <= 0) & (d1 >= 0) & (d3 <= 0), (1 - (t := safe(d1, d1 - d3)), t, zero)),  # edge ab
        ((d6 >= 0) & (d5 <= d6), (0.0, 0.0, 1.0)),  # vertex c
        ((d3 >= 0) & (d4 <= d3), (0.0, 1.0, 0.0)),  # vertex b
        ((d1 <= 0) & (d2 <= 0), (1.0, 0.0, 0.0)),  # vertex a
    ):
        u, v, w = np.where(m, nu, u), np.where(m, nv, v), np.where(m, nw, w)
    return np.stack([u, v, w], 1)


def incident_faces(faces: np.ndarray, n_verts: int) -> np.ndarray:
    """(V, M) faces around each vertex, padded by repeating the first."""
    inc: list[list[int]] = [[] for _ in range(n_verts)]
    for f, tri in enumerate(faces):
        for i in tri:
            inc[i].append(f)
    width = max(len(x) for x in inc)
    return np.array([x + [x[0]] * (width - len(x)) if x else [0] * width for x in inc])


def attach(points: np.ndarray, verts: np.ndarray, faces: np.ndarray, k: int = 8, incident: np.ndarray | None = None):
    """For each point: the face of ``verts``/``faces`` holding its closest point (searched
    among the faces around its ``k`` nearest vertices), the barycentric weights of that point,
    and the signed distance along the face normal (positive outside for outward-wound faces).
    ``incident`` (from incident_faces) may be passed in when the same surface is queried many
    times. (The exact closest face over the whole surface: synthgen.clothing.surface.)"""
    incident = incident_faces(faces, len(verts)) if incident is None else incident
    _, near = cKDTree(verts).query(points, k=min(k, len(verts)))
    near = near.reshape(len(points), -1)
    cf = incident[near].reshape(len(points), -1)  # (N, k * M) candidate faces, repeats allowed
    N, width = cf.shape
    # each distinct (point, face) pair once, at its first place in the row
    order = np.argsort(cf, axis=1, kind="stable")
    ranked = np.take_along_axis(cf, order, 1)
    repeat = np.zeros(cf.shape, dtype=bool)
    np.put_along_axis(repeat, order[:, 1:], ranked[:, 1:] == ranked[:, :-1], 1)
    row, col = np.nonzero(~repeat)
    pair_face = cf[row, col]
    P = points[row]
    tri = verts[faces[pair_face]]
    bary = closest_point_on_triangles(P, tri[:, 0], tri[:, 1], tri[:, 2])
    off = P - np.einsum("nk,nkd->nd", bary, tri)
    dist = np.full(cf.shape, np.inf)
    dist[row, col] = np.linalg.norm(off, axis=1)
    pair = np.zeros(cf.shape, dtype=np.int64)
    pair[row, col] = np.arange(len(row))
    best = pair[np.arange(N), dist.argmin(1)]  # ties: the first face in the row
    face, bary = pair_face[best], bary[best]
    t = tri[best]
    normal = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    normal /= np.linalg.norm(normal, axis=1, keepdims=True).clip(1e-12)
    signed = _dot(off[best], normal)
    return face, bary, signed
