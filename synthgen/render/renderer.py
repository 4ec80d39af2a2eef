"""Parameters in, labelled Sample out: body -> scene -> garments -> exact labels, then the RGB
image (pyrender). ``render_many`` overlaps the steps of consecutive samples."""

from __future__ import annotations

import gc
import itertools
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from synthgen.annotate import bbox_of, keypoint_visibility, surface_labels, vertex_normals
from synthgen.render import textures
from synthgen.render.gl import render_rgb
from synthgen.render.raster import rasterize
from synthgen.sample import Sample
from synthgen.scene import SceneConfig, setup_scene

DETAIL_LEVELS = 3
IN_FLIGHT = 3  # jobs of render_many under way at once: one drawn, one dressed, one posed
_FROZEN: list[bool] = []


def _freeze_long_lived() -> None:
    """After this process's first sample: what exists then (torch, the body model, the GL
    context, garment sources: ~470k objects) lives as long as the process, and a full garbage
    collection, which comes every few dozen samples, would walk all of it (~0.3 s). Move it
    out of the collector's way, once."""
    if not _FROZEN:
        gc.collect()
        gc.freeze()
        _FROZEN.append(True)


class Renderer:
    """Renders samples of one scene configuration; holds the body model, its texture layout
    and the GL textures, so that only per-sample work is done per sample."""

    def __init__(self, config: SceneConfig):
        from synthgen.body import get_body_model

        self.config = config
        self.body = get_body_model(config.backend, config.body_models)
        self.render_vertex, self.render_uv, self.render_faces = self.body.texture_layout()
        self._textures: dict = {}
        self._template = None
        self._pools = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=name) for name in ("pose", "dress", "labels")]
        self._wardrobe = None
        self._tailornet = None

    def template(self) -> torch.Tensor:
        """Template positions (rest pose, default shape) of the body vertices."""
        if self._template is None:
            self._template = self.body({}).rest_vertices[0].float()
        return self._template

    def render(self, params: dict, seed: int = 0) -> Sample:
        return next(self.render_many([(params, seed)]))

    def render_many(self, jobs: Iterable[tuple[dict, int]], errors: bool = False) -> Iterator[Sample | Exception]:
        """Samples of (params, seed) jobs, in order, each exactly what ``render`` gives, made in
        four overlapping steps, each on a thread of its own: a job's body and scene, its
        garments, its labels, and its image (the caller's thread, where the OpenGL context
        lives). While one job's labels and image are made, the next job is dressed and the one
        after it posed (torch, numpy, Warp and Mesa's rasterizer release the GIL), which keeps
        two cores busy where one step at a time leaves part of the second idle. With
        ``errors``, a job that cannot render yields its exception and the others go on;
        without, the first one is raised.

        Every step runs on the caller's number of torch threads: torch's float results depend
        on it in the last bits, and each thread keeps its own count. Each step's state (the
        body model, the wardrobe, the GL context) is used by its own thread only."""
        jobs, threads = iter(jobs), torch.get_num_threads()

        def run(step, *args):
            torch.set_num_threads(threads)
            return step(*args)

        def submit(job):
            posed = self._pools[0].submit(run, self._pose, *job)
            staged = self._pools[1].submit(run, lambda: self._clothe(*posed.result()))
            return staged, self._pools[2].submit(run, lambda: self._labels(*staged.result()[2:]))

        ahead = deque(submit(job) for job in itertools.islice(jobs, IN_FLIGHT))
        while ahead:
            staged, labels = ahead.popleft()
            job = next(jobs, None)
            if job is not None:
                ahead.append(submit(job))
            try:
                sample = self._draw(staged.result(), labels)
            except Exception as e:  # noqa: BLE001 - handed to the caller in order
                if not errors:
                    raise
                sample = e
            yield sample

    def _stage(self, params: dict, seed: int) -> tuple:
        """A sample's (params, seed, body output, vertex normals, garments, scene setup): all
        that its labels and image are made from."""
        return self._clothe(*self._pose(params, seed))

    def _pose(self, params: dict, seed: int) -> tuple:
        """The body, its vertex normals and the scene setup of a job, and the wardrobe that
        dresses it (None: no garments). Every call of the body model happens here."""
        params = self.config.space.complete(params)
        out = self.body(params)
        setup = setup_scene(params, self.config, seed)
        normals_world = vertex_normals(out.vertices[0].double(), out.faces.long())
        wardrobe = self._wardrobe_for(params)
        self.template()  # read by the label step
        for occ in setup.occluders:
            occ.mesh.vertex_normals  # noqa: B018 - cached by trimesh; the label and image steps read them
        return params, seed, out, normals_world, setup, wardrobe

    def _clothe(self, params: dict, seed: int, out, normals_world, setup, wardrobe) -> tuple:
        """A posed job dressed: (params, seed, body output, vertex normals, garments, setup)."""
        garments = [] if wardrobe is None else wardrobe.dress(params, out, 0)
        for g in garments:
            g.normals  # noqa: B018 - a cached property, read by the label and image steps
        return params, seed, out, normals_world, garments, setup

    def _draw(self, staged: tuple, labels) -> Sample:
        """The image of a staged sample, and the Sample with its labels (a future)."""
        params, seed, out, normals_world, garments, setup = staged
        rgb = render_rgb(self._meshes(out, normals_world, garments, setup, seed), setup, self._textures)
        lab = labels.result()
        _freeze_long_lived()
        cam = setup.camera
        return Sample(
            image=rgb, depth=lab["depth"], normals=lab["normals"], mask_visible=lab["mask_visible"],
            mask_amodal=lab["mask_amodal"], objects=lab["objects"], parts=lab["parts"], uv=lab["uv"],
            vertex_ids=lab["vertex_ids"], bary=lab["bary"], template_xyz=lab["template_xyz"],
            garment=lab["garment"], garment_class=lab["garment_class"], keypoints2d=lab["keypoints2d"],
            visibility=lab["visibility"], keypoints3d=lab["keypoints3d"], joints3d=lab["joints3d"],
            bbox=bbox_of(lab["mask_visible"]), K=cam.K, R=cam.R, t=cam.t, params=params, seed=seed,
        )

    def _wardrobe_for(self, params: dict):
        """The wardrobe that dresses ``params`` (made on first use), or None where they ask for
        no garment."""
        backend = params.get("garment.backend", "procedural")
        if backend == "tailornet":
            from synthgen.clothing.tailornet import TailorNetWardrobe

            if self._tailornet is None:  # checks the body, finds the folder (files load per class)
                self._tailornet = TailorNetWardrobe(self.body, self.config.tailornet)
        elif backend != "procedural":
            from synthgen.errors import ParamError

            raise ParamError("garment.backend", f"unknown garment backend '{backend}' (choose procedural, tailornet)")
        if all(params.get(f"garment.{slot}.class", "none") == "none" for slot in ("top", "bottom")):
            return None
        if backend == "tailornet":
            return self._tailornet
        if self._wardrobe is None:
            from synthgen.clothing.garments import Wardrobe

            self._wardrobe = Wardrobe(self.body)
        return self._wardrobe

    def _labels(self, out, normals_world: torch.Tensor, garments: list, setup) -> dict:
        """Every label, from the exact raster of body, garments and occluders in camera space."""
        cam = setup.camera
        R, t, K = (torch.as_tensor(a, dtype=torch.float64) for a in (cam.R, cam.t, cam.K))
        verts_cam = out.vertices[0].double() @ R.T + t
        faces = out.faces.long()
        # garments, then occluders, join the vertex array after the body's vertices
        all_v, all_f, all_n = [verts_cam], [faces], [normals_world @ R.T]
        label_f, kind, cull = [faces], [torch.zeros(len(faces), dtype=torch.long)], [torch.ones(len(faces), dtype=torch.bool)]
        offset = len(verts_cam)
        for g in garments:
            gv = torch.as_tensor(g.vertices, dtype=torch.float64)
            gf = torch.as_tensor(g.faces, dtype=torch.long)
            all_v.append(gv @ R.T + t)
            all_f.append(gf + offset)
            all_n.append(torch.as_tensor(g.normals) @ R.T)
            label_f.append(torch.as_tensor(g.anchors, dtype=torch.long)[gf])
            kind.append(torch.full((len(gf),), g.class_id, dtype=torch.long))
            cull.append(torch.zeros(len(gf), dtype=torch.bool))  # open surfaces: two-sided
            offset += len(gv)
        for occ in setup.occluders:
            ov = torch.as_tensor(np.array(occ.mesh.vertices), dtype=torch.float64)
            of = torch.as_tensor(occ.mesh.faces, dtype=torch.long)
            all_v.append(ov @ R.T + t)
            all_f.append(of + offset)
            all_n.append(torch.as_tensor(np.array(occ.mesh.vertex_normals), dtype=torch.float64) @ R.T)
            label_f.append(torch.zeros_like(of))
            kind.append(torch.full((len(of),), -1, dtype=torch.long))
            cull.append(torch.ones(len(of), dtype=torch.bool))
            offset += len(ov)
        H, W = cam.height, cam.width
        F = torch.cat(all_f)
        raster = rasterize(torch.cat(all_v), F, K, H, W, cull_back=torch.cat(cull))
        lab = surface_labels(raster, F, torch.cat(label_f), torch.cat(kind), out.part_labels, out.part_uv,
                             self.template(), torch.cat(all_n))
        if setup.occluders:  # the person (body and garments) without the occluders
            n_person = sum(len(f) for f in all_f[: 1 + len(garments)])
            person = rasterize(torch.cat(all_v), F[:n_person], K, H, W, cull_back=torch.cat(cull)[:n_person])
            lab["mask_amodal"] = (person.face >= 0).numpy()
        else:
            lab["mask_amodal"] = lab["mask_visible"].copy()
        # keypoints: camera coordinates, pixels, visibility by depth test
        kp_cam = out.keypoints[0].double() @ R.T + t
        lab["keypoints3d"] = kp_cam.numpy().astype(np.float32)
        lab["keypoints2d"] = ((kp_cam @ K.T)[:, :2] / kp_cam[:, 2:3]).numpy().astype(np.float32)
        lab["visibility"] = keypoint_visibility(kp_cam.numpy(), cam.K, lab["depth"], lab["objects"], lab["parts"])
        lab["joints3d"] = (out.joints[0].double() @ R.T + t).numpy().astype(np.float32)
        return lab

    def _meshes(self, out, normals_world: torch.Tensor, garments: list, setup, seed: int) -> list[dict]:
        v, n = out.vertices[0].detach().double(), normals_world
        level = int(round(setup.skin_detail * (DETAIL_LEVELS - 1)))
        key = ("skin", level)
        detail = None
        if key not in self._textures:
            base = textures.skin_detail(256, seed=7).astype(np.float64)
            detail = (255 - (255 - base) * level / (DETAIL_LEVELS - 1)).astype(np.uint8)
        rv = self.render_vertex
        meshes = [{
            "positions": v[rv].numpy(), "normals": n[rv].numpy(), "faces": self.render_faces.numpy(),
            "uv": self.render_uv.numpy(), "texture": key, "image": detail, "colour": setup.skin_colour,
        }]
        for g in garments:
            meshes.append({
                "positions": g.vertices, "normals": g.normals, "faces": g.faces,
                "uv": g.uv, "texture": ("pattern", g.pattern),
                "image": lambda kind=g.pattern: textures.pattern_texture(kind, np.ones(3), seed=3),
                "colour": g.colour,
            })
        for occ in setup.occluders:
            meshes.append({
                "positions": np.asarray(occ.mesh.vertices), "normals": np.asarray(occ.mesh.vertex_normals),
                "faces": np.asarray(occ.mesh.faces), "uv": occ.uv, "texture": ("pattern", occ.pattern),
                "image": lambda kind=occ.pattern: textures.pattern_texture(kind, np.ones(3), seed=3),
                "colour": occ.colour,
            })
        return meshes
