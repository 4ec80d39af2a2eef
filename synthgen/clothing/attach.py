"""Attaching one surface to another: for each point, the closest point on a triangle mesh
(face, barycentric weights) and its signed distance along the face normal."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


def closest_point_on_triangles(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """(N, 3) barycentric weights of the closest point to each p on triangle (a, b, c)
    (Ericson, Real-Time Collision Detection, 5.1.5), vectorized."""
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = (ab * ap).sum(1), (ac * ap).sum(1)
    bp = p - b
    d3, d4 = (ab * bp).sum(1), (ac * bp).sum(1)
    cp = p - c
    d5, d6 = (ab * cp).sum(1), (ac * cp).sum(1)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2
    denom = va + vb + vc
    denom = np.where(np.abs(denom) < 1e-18, 1e-18, denom)
    v, w = vb / denom, vc / denom
    bary = np.stack([1 - v - w, v, w], 1)
    safe = lambda x, y: x / np.where(np.abs(y) < 1e-18, 1e-18, y)  # noqa: E731
    # regions are applied from the weakest to the strongest: interior, edges, vertices
    out = bary
    # edge bc
    t = safe(d4 - d3, (d4 - d3) + (d5 - d6))
    m = (va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0)
    out = np.where(m[:, None], np.stack([np.zeros_like(t), 1 - t, t], 1), out)
    # edge ac
    t = safe(d2, d2 - d6)
    m = (vb <= 0) & (d2 >= 0) & (d6 <= 0)
    out = np.where(m[:, None], np.stack([1 - t, np.zeros_like(t), t], 1), out)
    # edge ab
    t = safe(d1, d1 - d3)
    m = (vc <= 0) & (d1 >= 0) & (d3 <= 0)
    out = np.where(m[:, None], np.stack([1 - t, t, np.zeros_like(t)], 1), out)
    # vertices
    out = np.where(((d6 >= 0) & (d5 <= d6))[:, None], np.array([0.0, 0.0, 1.0]), out)
    out = np.where(((d3 >= 0) & (d4 <= d3))[:, None], np.array([0.0, 1.0, 0.0]), out)
    out = np.where(((d1 <= 0) & (d2 <= 0))[:, None], np.array([1.0, 0.0, 0.0]), out)
    return out


def incident_faces(faces: np.ndarray, n_verts: int) -> np.ndarray:
    """(V, M) faces around each vertex, padded by repeating the first."""
    inc: list[list[int]] = [[] for _ in range(n_verts)]
    for f, tri in enumerate(faces):
        for i in tri:
            inc[i].append(f)
    width = max(len(x) for x in inc)
    return np.array([x + [x[0]] * (width - len(x)) if x else [0] * width for x in inc])


def attach(points: np.ndarray, verts: np.ndarray, faces: np.ndarray, k: int = 8,
           incident: np.ndarray | None = None, tree: cKDTree | None = None):
    """For each point: the face of ``verts``/``faces`` holding its closest point (searched
    among the faces around its ``k`` nearest vertices), the barycentric weights of that point,
    and the signed distance along the face normal (positive outside for outward-wound faces).
    ``incident`` (from incident_faces) and ``tree`` (a cKDTree of ``verts``) may be passed in
    when the same surface is queried many times."""
    incident = incident_faces(faces, len(verts)) if incident is None else incident
    _, near = (tree or cKDTree(verts)).query(points, k=min(k, len(verts)))
    near = near.reshape(len(points), -1)
    cf = incident[near].reshape(len(points), -1)  # (N, k * M) candidate faces, repeats allowed
    N, width = cf.shape
    P = np.repeat(points, width, 0)
    tri = verts[faces[cf.reshape(-1)]]
    bary = closest_point_on_triangles(P, tri[:, 0], tri[:, 1], tri[:, 2])
    closest = (bary[:, :, None] * tri).sum(1)
    dist = np.linalg.norm(P - closest, axis=1).reshape(N, width)
    best = dist.argmin(1)
    face = cf[np.arange(N), best]
    bary = bary.reshape(N, width, 3)[np.arange(N), best]
    t = verts[faces[face]]
    normal = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    normal /= np.linalg.norm(normal, axis=1, keepdims=True).clip(1e-12)
    foot = (bary[:, :, None] * t).sum(1)
    signed = ((points - foot) * normal).sum(1)
    return face, bary, signed
