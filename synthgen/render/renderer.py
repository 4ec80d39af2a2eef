"""Parameters in, labelled Sample out: body -> scene -> RGB (pyrender) + exact labels."""

from __future__ import annotations

import numpy as np
import torch

from synthgen.annotate import bbox_of, keypoint_visibility, surface_labels, vertex_normals
from synthgen.render import textures
from synthgen.render.gl import render_rgb
from synthgen.render.raster import rasterize
from synthgen.sample import Sample
from synthgen.scene import SceneConfig, setup_scene

DETAIL_LEVELS = 5


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
        cam = setup.camera
        R, t, K = (torch.as_tensor(a, dtype=torch.float64) for a in (cam.R, cam.t, cam.K))
        verts_world = out.vertices[0].double()
        verts_cam = verts_world @ R.T + t
        faces = out.faces.long()
        normals_world = vertex_normals(verts_world, faces)
        # occluders join the vertex array after the body's vertices
        all_v, all_f, all_n = [verts_cam], [faces], [normals_world @ R.T]
        offset = len(verts_cam)
        for occ in setup.occluders:
            ov = torch.as_tensor(np.array(occ.mesh.vertices), dtype=torch.float64)
            all_v.append(ov @ R.T + t)
            all_f.append(torch.as_tensor(occ.mesh.faces, dtype=torch.long) + offset)
            all_n.append(torch.as_tensor(np.array(occ.mesh.vertex_normals), dtype=torch.float64) @ R.T)
            offset += len(ov)
        V, F, Nrm = torch.cat(all_v), torch.cat(all_f), torch.cat(all_n)
        H, W = config.height, config.width
        raster = rasterize(V, F, K, H, W)
        amodal = rasterize(verts_cam, faces, K, H, W) if setup.occluders else None
        labels = surface_labels(raster, F, len(faces), out.part_labels, out.part_uv, self.template(), Nrm)
        # keypoints: camera coordinates, pixels, visibility by depth test
        kp_cam = out.keypoints[0].double() @ R.T + t
        kp2d = (kp_cam @ K.T)[:, :2] / kp_cam[:, 2:3]
        vis = keypoint_visibility(kp_cam.numpy(), cam.K, labels["depth"], labels["objects"], labels["parts"])
        rgb = render_rgb(self._meshes(out, normals_world, setup, seed), setup, self._textures)
        H0 = torch.zeros(H, W, dtype=torch.uint8)
        return Sample(
            image=rgb, depth=labels["depth"], normals=labels["normals"], mask_visible=labels["mask_visible"],
            mask_amodal=(amodal.face >= 0).numpy() if amodal else labels["mask_visible"].copy(), objects=labels["objects"], parts=labels["parts"],
            uv=labels["uv"], vertex_ids=labels["vertex_ids"], bary=labels["bary"],
            template_xyz=labels["template_xyz"], garment=H0.numpy(), garment_class=H0.numpy(),
            keypoints2d=kp2d.numpy().astype(np.float32), visibility=vis,
            keypoints3d=kp_cam.numpy().astype(np.float32),
            joints3d=(out.joints[0].double() @ R.T + t).numpy().astype(np.float32),
            bbox=bbox_of(labels["mask_visible"]), K=cam.K, R=cam.R, t=cam.t, params=params, seed=seed,
        )

    def _meshes(self, out, normals_world: torch.Tensor, setup, seed: int) -> list[dict]:
        v, n = out.vertices[0].detach().double(), normals_world
        level = int(round(setup.skin_detail * (DETAIL_LEVELS - 1)))
        key = ("skin", level)
        detail = None
        if key not in self._textures:
            base = textures.skin_detail(512, seed=7).astype(np.float64)
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
