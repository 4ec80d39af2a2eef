"""The RGB pass through pyrender offscreen (EGL: Mesa llvmpipe on the CPU, NVIDIA on a GPU).
One OpenGL context per process, reused for every sample.

Same inputs, same bytes: pyrender keeps a scene's nodes in Python sets and draws meshes and
binds lights in set order, and a plain object's hash is its memory address, so that order
changes from process to process. Draw order is not cosmetic: garments lie on the body, and
where a garment and the body (or two garments) reach the same 24-bit depth value, the first
surface drawn keeps the pixel (GL_LESS). The lights' order sets the order of the shader's
light sum, which rounds differently with three lights or more (two commute exactly). So every
sample is drawn as one pyrender mesh whose primitives go in a fixed order, and the scene's
nodes hash by their place in the scene, not by address."""

from __future__ import annotations

import functools
import os

import numpy as np

from synthgen.errors import SynthgenError

_RENDERERS: dict = {}
#: the RGB pass draws SUPERSAMPLE x SUPERSAMPLE samples per pixel and averages them (ordered-grid
#: supersampling, edges and textures alike). On Mesa's llvmpipe this costs less than pyrender's
#: 4x multisampled framebuffer, which it replaces (a clothed studio sample at 256 px: 27 vs 37 ms
#: of CPU for the pass; 512 px: 61 vs 69 ms).
SUPERSAMPLE = 2
_GL_NAME: list[str] = []  # GL_RENDERER and GL_VERSION of this process's context, once made

#: OpenGL renderers that rasterize in software, identically on every run (Mesa's)
SOFTWARE_RENDERERS = ("llvmpipe", "softpipe")
#: what a dataset's RGB images promise, by the kind of OpenGL renderer that drew them
PROMISES = {
    "exact": "every file of sample i, RGB included, depends only on (seed, i): any --workers, --ray "
             "or rerun with the same rgb renderer and software versions (Mesa, pyrender, torch, numpy) "
             "writes the same bytes",
    "driver": "labels, meta, COCO and dense files depend only on (seed, i), byte for byte; RGB images "
              "are drawn from the same inputs in the same order, but a GPU driver does not promise "
              "bit-exact rasterization or shading, so RGB bytes may differ between GPU models, driver "
              "versions and the CPU renderer (expect identical bytes only from the same GPU and driver)",
}


def offscreen_renderer(width: int, height: int):
    """This process's pyrender OffscreenRenderer for (width, height) images, made once. It
    draws at SUPERSAMPLE times the size into a single-sampled framebuffer, and its ``render``
    gives the (height, width, 4) float32 RGBA average of each pixel's samples (0..255): a
    pyrender camera with pixel intrinsics must be given them at the drawn size."""
    key = (width, height)
    if key in _RENDERERS:
        return _RENDERERS[key]
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    try:
        import pyrender

        for old in list(_RENDERERS.values()):  # one context at a time
            old.delete()
        _RENDERERS.clear()
        r = pyrender.OffscreenRenderer(width * SUPERSAMPLE, height * SUPERSAMPLE)
        r._renderer._configure_main_framebuffer = functools.partial(_single_sampled_framebuffer, r._renderer)
        # only the colour buffer is used: pyrender's own read back also reads the depth buffer
        # (the labels' depth comes from the exact raster)
        r._renderer._read_main_framebuffer = functools.partial(_read_colour, r._renderer)
        _RENDERERS[key] = r
    except Exception as e:  # noqa: BLE001 - any GL failure means the same to the user
        raise SynthgenError(
            f"cannot create a headless OpenGL (EGL) context: {e}. Install Mesa's EGL "
            "(Debian: libegl1 libgl1-mesa-dri) or use a machine with an NVIDIA driver."
        ) from e
    if not _GL_NAME:
        _GL_NAME.append(_query_name(_RENDERERS[key]))
    return _RENDERERS[key]


def _query_name(renderer) -> str:
    """'GL_RENDERER; GL_VERSION' of a renderer's context ('unknown' where it cannot be read)."""
    try:
        from OpenGL.GL import GL_RENDERER, GL_VERSION, glGetString

        platform = renderer._platform  # pyrender has no public way to make its context current
        platform.make_current()
        try:
            return "; ".join(glGetString(k).decode("ascii", "replace") for k in (GL_RENDERER, GL_VERSION))
        finally:
            platform.make_uncurrent()
    except Exception:  # noqa: BLE001 - a name for the record, never a reason to fail a render
        return "unknown"


def renderer_name() -> str | None:
    """The OpenGL renderer that drew this process's RGB images (None before the first)."""
    return _GL_NAME[0] if _GL_NAME else None


def promise_kind(name: str | None) -> str:
    """'exact' for a software renderer (Mesa llvmpipe), 'driver' for any other (a GPU)."""
    return "exact" if name and any(s in name.lower() for s in SOFTWARE_RENDERERS) else "driver"


def _single_sampled_framebuffer(renderer) -> None:
    """pyrender's main framebuffer made once per size as one single-sampled colour and depth
    buffer, which pyrender draws into as its multisampled one (there is nothing to resolve)."""
    from OpenGL.GL import (GL_COLOR_ATTACHMENT0, GL_DEPTH_ATTACHMENT, GL_DEPTH_COMPONENT24, GL_DRAW_FRAMEBUFFER,
                           GL_RENDERBUFFER, GL_RGBA, glBindFramebuffer, glBindRenderbuffer,
                           glFramebufferRenderbuffer, glGenFramebuffers, glGenRenderbuffers, glRenderbufferStorage)

    dims = (renderer.viewport_width, renderer.viewport_height)
    if renderer._main_fb is not None and renderer._main_fb_dims == dims:
        return
    renderer._delete_main_framebuffer()
    colour, depth = glGenRenderbuffers(2)
    fb = glGenFramebuffers(1)
    glBindFramebuffer(GL_DRAW_FRAMEBUFFER, fb)
    for buffer, storage, attachment in ((colour, GL_RGBA, GL_COLOR_ATTACHMENT0),
                                        (depth, GL_DEPTH_COMPONENT24, GL_DEPTH_ATTACHMENT)):
        glBindRenderbuffer(GL_RENDERBUFFER, buffer)
        glRenderbufferStorage(GL_RENDERBUFFER, storage, *dims)
        glFramebufferRenderbuffer(GL_DRAW_FRAMEBUFFER, attachment, GL_RENDERBUFFER, buffer)
    renderer._main_fb = renderer._main_fb_ms = fb
    renderer._main_cb = renderer._main_cb_ms = colour
    renderer._main_db = renderer._main_db_ms = depth
    renderer._main_fb_dims = dims


def _read_colour(renderer, scene, flags):
    """pyrender's read back of its main framebuffer, less the depth buffer's: the (H, W, 4)
    float32 RGBA mean of each pixel's SUPERSAMPLE x SUPERSAMPLE samples, and no depth."""
    from OpenGL.GL import GL_READ_FRAMEBUFFER, GL_RGBA, GL_UNSIGNED_BYTE, glBindFramebuffer, glReadPixels

    width, height = renderer._main_fb_dims
    glBindFramebuffer(GL_READ_FRAMEBUFFER, renderer._main_fb)
    rgba = np.frombuffer(glReadPixels(0, 0, width, height, GL_RGBA, GL_UNSIGNED_BYTE), dtype=np.uint8)
    k = SUPERSAMPLE
    samples = rgba.reshape(height // k, k, width // k, k, 4)
    total = np.zeros((height // k, width // k, 4), dtype=np.uint16)
    for i in range(k):  # slice by slice: numpy's reductions over two strided axes are far slower
        for j in range(k):
            total += samples[:, i, :, j]
    return np.flip(total.astype(np.float32) * np.float32(1.0 / (k * k)), axis=0), None


def _resident(texture_cache: dict):
    """An invisible mesh that uses every texture of ``texture_cache``: added to every scene, it
    keeps them in the OpenGL context (pyrender deletes the textures that a scene does not use,
    and would upload them again, mipmaps and all, for the next sample that does)."""
    import pyrender

    textures = [t for k, t in texture_cache.items() if k != _RESIDENT_KEY]
    held = texture_cache.get(_RESIDENT_KEY)
    if held is None or held[0] != len(textures):
        tri = np.zeros((3, 3), dtype=np.float32)
        prims = [pyrender.Primitive(positions=tri, texcoord_0=tri[:, :2], indices=np.array([[0, 1, 2]]),
                                    material=pyrender.MetallicRoughnessMaterial(baseColorTexture=t))
                 for t in textures]
        held = texture_cache[_RESIDENT_KEY] = (len(textures), pyrender.Mesh(prims, is_visible=False))
    return held[1]


_RESIDENT_KEY = ("resident textures",)


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


_NODE = None  # the node class, made with pyrender's first import


def _node(index: int, **kwargs):
    """A pyrender node whose hash is ``index``, its place in the scene: the scene's node sets
    iterate in the same order in every process (small distinct integers fill a set's slots in
    ascending order). Equality stays identity."""
    global _NODE
    if _NODE is None:
        import pyrender

        class OrderedNode(pyrender.Node):
            def __init__(self, order: int, **kw):
                super().__init__(**kw)
                self._order = order

            def __hash__(self) -> int:
                return self._order

        _NODE = OrderedNode
    return _NODE(index, **kwargs)


def render_rgb(meshes: list[dict], setup, texture_cache: dict) -> np.ndarray:
    """Render coloured, textured, lit meshes over the setup's background.

    ``meshes``: dicts with positions (N, 3), normals (N, 3), faces (F, 3), uv (N, 2),
    texture (key into ``texture_cache``), image (uint8 image, or a function making it, used
    when the key is not cached yet), colour (rgb floats, tinting the texture).

    Depth ties go to the later mesh in ``meshes`` (garments over the body they lie on,
    occluders over both), as in the label raster, where the highest face index wins: the
    primitives are drawn last mesh first, and GL_LESS keeps the first surface at a depth."""
    import pyrender

    cam = setup.camera
    r = offscreen_renderer(cam.width, cam.height)
    scene = pyrender.Scene(ambient_light=_floats([setup.ambient] * 3), bg_color=_floats([0, 0, 0, 0]))
    prims = []
    for m in reversed(meshes):
        tex = texture_cache.get(m["texture"])
        if tex is None:
            image = m["image"]() if callable(m["image"]) else m["image"]
            tex = texture_cache[m["texture"]] = pyrender.Texture(source=image, source_channels="RGB")
        material = pyrender.MetallicRoughnessMaterial(
            baseColorFactor=_floats([*m["colour"], 1.0]), baseColorTexture=tex,
            metallicFactor=0.0, roughnessFactor=0.75)
        prims.append(pyrender.Primitive(positions=m["positions"], normals=m["normals"], indices=m["faces"],
                                        texcoord_0=m["uv"], material=material))
    nodes = [_node(0, mesh=pyrender.Mesh(prims))]  # one node: its primitives draw in list order
    K, k = cam.K, SUPERSAMPLE
    # OpenCV pixel centres sit at integer coordinates, OpenGL's at +0.5; drawn k times the size
    nodes.append(_node(1, matrix=cam.gl_pose(), camera=pyrender.IntrinsicsCamera(
        k * K[0, 0], k * K[1, 1], k * (K[0, 2] + 0.5), k * (K[1, 2] + 0.5), znear=0.05, zfar=100.0)))
    for direction, rgb, intensity in setup.lights:
        if intensity > 0:
            nodes.append(_node(len(nodes), matrix=_light_pose(direction),
                               light=pyrender.DirectionalLight(color=_floats(rgb), intensity=float(intensity))))
    nodes.append(_node(len(nodes), mesh=_resident(texture_cache)))
    for node in nodes:
        scene.add_node(node)
    rgba, _ = r.render(scene, flags=pyrender.RenderFlags.RGBA)
    alpha = rgba[..., 3:4] / np.float32(255.0)
    out = rgba[..., :3] + setup.background.astype(np.float32) * (1.0 - alpha)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
