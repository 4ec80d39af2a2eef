"""Quick shaded pictures of bodies (the demo's pose-library grid), through pyrender offscreen.

This is a preview, not the dataset renderer: one key light, a flat colour per DensePose part
or for the skin, and an orthographic-like camera in front of each body."""

from __future__ import annotations

import numpy as np


def render_bodies(outputs, width: int = 240, height: int = 360, yaw_deg: float = 25.0,
                  colour_by_part: bool = True) -> list[np.ndarray]:
    """One RGB image (H, W, 3) per body in a list of (BodyOutput, index) pairs."""
    import pyrender
    import trimesh

    from synthgen.montage import part_colours
    from synthgen.render.gl import offscreen_renderer

    renderer = offscreen_renderer(width, height)
    colours = part_colours()
    images = []
    for out, i in outputs:
        v = out.vertices[i].detach().cpu().numpy().astype(np.float64)
        f = out.faces.cpu().numpy()
        normals = trimesh.Trimesh(v, f, process=False).vertex_normals
        if colour_by_part:
            material = pyrender.MetallicRoughnessMaterial(metallicFactor=0.0, roughnessFactor=0.8)
            vc = colours[out.part_labels.cpu().numpy()] / 255.0
            extra = {"color_0": np.c_[vc, np.ones(len(v))]}
        else:
            material = pyrender.MetallicRoughnessMaterial(
                baseColorFactor=[0.80, 0.62, 0.52, 1.0], metallicFactor=0.0, roughnessFactor=0.8)
            extra = {}
        primitive = pyrender.Primitive(positions=v, normals=normals, indices=f, material=material, **extra)
        scene = pyrender.Scene(ambient_light=[0.25, 0.25, 0.25], bg_color=[0.94, 0.95, 0.97, 1.0])
        scene.add(pyrender.Mesh([primitive]))
        lo, hi = v.min(0), v.max(0)
        centre = (lo + hi) / 2
        extent = max(hi[1] - lo[1], (hi[0] - lo[0]) * height / width, (hi[2] - lo[2]) * height / width)
        yfov = np.radians(20.0)
        dist = 0.62 * extent / np.tan(yfov / 2) + 0.5
        a = np.radians(yaw_deg)
        pose = np.eye(4)
        pose[:3, :3] = trimesh.transformations.rotation_matrix(a, [0, 1, 0])[:3, :3]
        pose[:3, 3] = centre + dist * np.array([np.sin(a), 0.0, np.cos(a)])
        scene.add(pyrender.PerspectiveCamera(yfov=yfov, aspectRatio=width / height), pose=pose)
        # one key light, high and 50 degrees to the side of the camera (a light shines along
        # its -Z). pyrender reads integer colour lists as 0..255: colours are floats here.
        light = np.eye(4)
        light[:3, :3] = (trimesh.transformations.rotation_matrix(a + np.radians(50), [0, 1, 0])
                         @ trimesh.transformations.rotation_matrix(np.radians(-30), [1, 0, 0]))[:3, :3]
        scene.add(pyrender.DirectionalLight(color=[1.0, 1.0, 1.0], intensity=4.0), pose=light)
        colour, _ = renderer.render(scene)
        images.append(np.clip(colour[..., :3] + 0.5, 0, 255).astype(np.uint8))
    return images
