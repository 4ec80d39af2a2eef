"""Parameters in, labelled Sample out: body -> scene -> RGB (pyrender) + exact labels."""

from __future__ import annotations

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
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="labels")

    def template(self) -> torch.Tensor:
        """Template positions (rest pose, default shape) of the body vertices."""
        if self._template is None:
            self._template = self.body({}).rest_vertices[0].float()
        return self._template

    def render(self, params: dict, seed: int = 0) -> Sample:
        config = self.config
        params = config.space.complete(params)
        out = self.body(params)
        setup = setup_scene(params, config, seed)
        normals_world = vertex_normals(out.vertices[0].double(), out.faces.long())
        # the labels (torch, releases the GIL) are computed while OpenGL renders the image
        labels = self._pool.submit(self._labels, out, normals_world, setup)
        rgb = render_rgb(self._meshes(out, normals_world, setup, seed), setup, self._textures)
        lab = labels.result()
        cam = setup.camera
        zeros = np.zeros((config.height, config.width), dtype=np.uint8)
        return Sample(
            image=rgb, depth=lab["depth"], normals=lab["normals"], mask_visible=lab["mask_visible"],
            mask_amodal=lab["mask_amodal"], objects=lab["objects"], parts=lab["parts"], uv=lab["uv"],
            vertex_ids=lab["vertex_ids"], bary=lab["bary"], template_xyz=lab["template_xyz"],
            garment=zeros, garment_class=zeros.copy(), keypoints2d=lab["keypoints2d"],
            visibility=lab["visibility"], keypoints3d=lab["keypoints3d"], joints3d=lab["joints3d"],
            bbox=bbox_of(lab["mask_visible"]), K=cam.K, R=cam.R, t=cam.t, params=params, seed=seed,
        )

    def _labels(self, out, normals_world: torch.Tensor, setup) -> dict:
        """Every label, from the exact raster of the body and occluders in camera space."""
        cam = setup.camera
        R, t, K = (torch.as_tensor(a, dtype=torch.float64) for a in (cam.R, cam.t, cam.K))
        verts_cam = out.vertices[0].double() @ R.T + t
        faces = out.faces.long()
        # occluders join the vertex array after the body's vertices
        all_v, all_f, all_n = [verts_cam], [faces], [normals_world @ R.T]
        offset = len(verts_cam)
        for occ in setup.occluders:
            ov = torch.as_tensor(np.array(occ.mesh.vertices), dtype=torch.float64)
            all_v.append(ov @ R.T + t)
            all_f.append(torch.as_tensor(occ.mesh.faces, dtype=torch.long) + offset)
            all_n.append(torch.as_tensor(np.array(occ.mesh.vertex_normals), dtype=torch.float64) @ R.T)
            offset += len(ov)
        H, W = cam.height, cam.width
        F = torch.cat(all_f)
        raster = rasterize(torch.cat(all_v), F, K, H, W)
        lab = surface_labels(raster, F, len(faces), out.part_labels, out.part_uv, self.template(), torch.cat(all_n))
        lab["mask_amodal"] = ((rasterize(verts_cam, faces, K, H, W).face >= 0).numpy() if setup.occluders
                              else lab["mask_visible"].copy())
        # keypoints: camera coordinates, pixels, visibility by depth test
        kp_cam = out.keypoints[0].double() @ R.T + t
        lab["keypoints3d"] = kp_cam.numpy().astype(np.float32)
        lab["keypoints2d"] = ((kp_cam @ K.T)[:, :2] / kp_cam[:, 2:3]).numpy().astype(np.float32)
        lab["visibility"] = keypoint_visibility(kp_cam.numpy(), cam.K, lab["depth"], lab["objects"], lab["parts"])
        lab["joints3d"] = (out.joints[0].double() @ R.T + t).numpy().astype(np.float32)
        return lab

    def _meshes(self, out, normals_world: torch.Tensor, setup, seed: int) -> list[dict]:
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
        for i, occ in enumerate(setup.occluders):
            meshes.append({
                "positions": np.asarray(occ.mesh.vertices), "normals": np.asarray(occ.mesh.vertex_normals),
                "faces": np.asarray(occ.mesh.faces), "uv": occ.uv, "texture": ("occluder", seed, i),
                "image": occ.texture, "colour": np.ones(3),
            })
        return meshes
