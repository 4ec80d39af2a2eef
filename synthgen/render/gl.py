"""The RGB pass through pyrender offscreen (EGL: Mesa llvmpipe on the CPU, NVIDIA on a GPU).
One OpenGL context per process, reused for every sample."""

from __future__ import annotations

import os

import numpy as np

from synthgen.errors import SynthgenError

_RENDERERS: dict = {}


def offscreen_renderer(width: int, height: int):
    """This process's pyrender OffscreenRenderer for (width, height), made once."""
    key = (width, height)
    if key in _RENDERERS:
        return _RENDERERS[key]
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    try:
        import pyrender

        for old in list(_RENDERERS.values()):  # one context at a time
            old.delete()
        _RENDERERS.clear()
        _RENDERERS[key] = pyrender.OffscreenRenderer(width, height)
    except Exception as e:  # noqa: BLE001 - any GL failure means the same to the user
        raise SynthgenError(
            f"cannot create a headless OpenGL (EGL) context: {e}. Install Mesa's EGL "
            "(Debian: libegl1 libgl1-mesa-dri) or use a machine with an NVIDIA driver."
        ) from e
    return _RENDERERS[key]


def _light_pose(direction: np.ndarray) -> np.ndarray:
    """A pose whose -Z axis is ``direction`` (pyrender lights shine along their -Z)."""
    z = -direction / np.linalg.norm(direction)
    x = np.cross([0.0, 1.0, 0.0], z)
    if np.linalg.norm(x) < 1e-6:
        x = np.array([1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([x, np.cross(z, x), z], 1)
    return pose


def _floats(values) -> list[float]:
    # pyrender reads integer colour lists as 0..255: always hand it floats
    return [float(v) for v in values]


def render_rgb(meshes: list[dict], setup, texture_cache: dict) -> np.ndarray:
    """Render coloured, textured, lit meshes over the setup's background.

    ``meshes``: dicts with positions (N, 3), normals (N, 3), faces (F, 3), uv (N, 2),
    texture (key into ``texture_cache``), image (uint8 image, or a function making it, used
    when the key is not cached yet), colour (rgb floats, tinting the texture)."""
    import pyrender

    cam = setup.camera
    r = offscreen_renderer(cam.width, cam.height)
    scene = pyrender.Scene(ambient_light=_floats([setup.ambient] * 3), bg_color=_floats([0, 0, 0, 0]))
    for m in meshes:
        tex = texture_cache.get(m["texture"])
        if tex is None:
            image = m["image"]() if callable(m["image"]) else m["image"]
            tex = texture_cache[m["texture"]] = pyrender.Texture(source=image, source_channels="RGB")
        material = pyrender.MetallicRoughnessMaterial(
            baseColorFactor=_floats([*m["colour"], 1.0]), baseColorTexture=tex,
            metallicFactor=0.0, roughnessFactor=0.75)
        prim = pyrender.Primitive(positions=m["positions"], normals=m["normals"], indices=m["faces"],
                                  texcoord_0=m["uv"], material=material)
        scene.add(pyrender.Mesh([prim]))
    K = cam.K
    # OpenCV pixel centres sit at integer coordinates, OpenGL's at +0.5
    scene.add(pyrender.IntrinsicsCamera(K[0, 0], K[1, 1], K[0, 2] + 0.5, K[1, 2] + 0.5, znear=0.05, zfar=100.0),
              pose=cam.gl_pose())
    for direction, rgb, intensity in setup.lights:
        if intensity > 0:
            scene.add(pyrender.DirectionalLight(color=_floats(rgb), intensity=float(intensity)),
                      pose=_light_pose(direction))
    rgba, _ = r.render(scene, flags=pyrender.RenderFlags.RGBA)
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    out = rgba[..., :3].astype(np.float32) + setup.background.astype(np.float32) * (1.0 - alpha)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
