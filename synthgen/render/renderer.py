"""Parameters in, labelled Sample out: body -> scene -> garments -> exact labels, then the RGB
image (pyrender). ``render_many`` overlaps the two halves of consecutive samples."""

from __future__ import annotations

import gc
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
        self._stage_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stage")
        self._label_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="labels")
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
        three overlapping steps: the body, scene and garments of a job (one thread), its labels
        (another) and its image (the caller's thread, where the OpenGL context lives). While
        one job's labels and image are made, the next job's body and garments are (torch,
        numpy, Warp and Mesa's rasterizer release the GIL), which keeps two cores busy where
        one step at a time leaves part of the second idle. With ``errors``, a job that cannot
        render yields its exception and the others go on; without, the first one is raised.

        Every step runs on the caller's number of torch threads: torch's float results depend
        on it in the last bits, and each thread keeps its own count."""
        jobs, threads = iter(jobs), torch.get_num_threads()

        def stage(job):
            try:
                torch.set_num_threads(threads)
                return self._stage(*job), None
            except Exception as e:  # noqa: BLE001 - handed to the caller in order
                return None, e

        def labels(staged):
            torch.set_num_threads(threads)
            return self._labels(*staged[2:])

        job = next(jobs, None)
        pending = None if job is None else self._stage_pool.submit(stage, job)
        while pending is not None:
            staged, error = pending.result()
            lab = None if error is not None else self._label_pool.submit(labels, staged)
            job = next(jobs, None)
            pending = None if job is None else self._stage_pool.submit(stage, job)
            if error is None:
                try:
                    yield self._draw(staged, lab)
                    continue
                except Exception as e:  # noqa: BLE001
                    error = e
            if not errors:
                raise error
            yield error

    def _stage(self, params: dict, seed: int) -> tuple:
        """A sample's (params, seed, body output, vertex normals, garments, scene setup): all
        that its labels and image are made from."""
        params = self.config.space.complete(params)
        out = self.body(params)
        setup = setup_scene(params, self.config, seed)
        normals_world = vertex_normals(out.vertices[0].double(), out.faces.long())
        garments = self._dress(params, out)
        # what the label and image steps both read, computed here once, before either runs
        # (and the body model is called in this thread only)
        self.template()
        for g in garments:
            g.normals  # noqa: B018 - a cached property
        for occ in setup.occluders:
            occ.mesh.vertex_normals  # noqa: B018 - cached by trimesh
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

    def _dress(self, params: dict, out) -> list:
        backend = params.get("garment.backend", "procedural")
        if backend == "tailornet":
            from synthgen.clothing.tailornet import TailorNetWardrobe

            if self._tailornet is None:  # checks the body, finds the folder (files load per class)
                self._tailornet = TailorNetWardrobe(self.body, self.config.tailornet)
        elif backend != "procedural":
            from synthgen.errors import ParamError

            raise ParamError("garment.backend", f"unknown garment backend '{backend}' (choose procedural, tailornet)")
        if all(params.get(f"garment.{slot}.class", "none") == "none" for slot in ("top", "bottom")):
            return []
        if backend == "tailornet":
            return self._tailornet.dress(params, out, 0)
        if self._wardrobe is None:
            from synthgen.clothing.garments import Wardrobe

            self._wardrobe = Wardrobe(self.body)
        return self._wardrobe.dress(params, out, 0)

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
