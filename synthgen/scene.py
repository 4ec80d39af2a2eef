"""From named parameters to what is rendered: the scene configuration (image size, body
backend, background folder), the camera, lights, materials, background and occluders."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import trimesh

from synthgen.camera import Camera, camera_from_params
from synthgen.errors import ConfigError, ParamError
from synthgen.render import textures
from synthgen.space import ParamSpace

_SCENE_KEYS = ("image", "body", "background_folder")
#: the sections of a search-space file that the examiner reads: one vocabulary, so every scene
#: reader accepts a search-space file (and keeps these in ``extra``, unread)
SEARCH_KEYS = ("search", "failure")


@dataclass(frozen=True)
class SceneConfig:
    """A scene file: ``image: {width, height}``, ``body: {backend, models, tailornet}``,
    ``background_folder`` (photos for ``background.kind: image``), and the parameter space
    (``dims`` / ``fixed`` / ... as in ParamSpace)."""

    space: ParamSpace
    width: int = 256
    height: int = 256
    backend: str = "anny"
    body_models: str | None = None
    background_folder: str | None = None
    source: str = "<dict>"
    #: folder of the user's TailorNet files (``garment.backend: tailornet``)
    tailornet: str | None = None
    #: sections that tools built on synthgen read (e.g. the examiner's ``search`` and
    #: ``failure``), kept as given, with their lines: {key: (value, "file:line")}
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_yaml(cls, path: str | Path, size: int | None = None, extra: tuple[str, ...] = ()) -> "SceneConfig":
        from synthgen.yamlio import load_yaml_with_lines

        data, lines = load_yaml_with_lines(path)
        data = data or {}
        if not isinstance(data, dict):
            raise ConfigError(str(path), "a scene file is a mapping")
        where = lambda *k: f"{path}:{lines.get(k, '?')}"  # noqa: E731
        image = data.get("image", {}) or {}
        if not isinstance(image, dict):
            raise ParamError("image", "expected {width: W, height: H}", where("image"))
        dims = {}
        for key in ("width", "height"):
            v = size if size is not None else image.get(key, 256)
            if size is not None and not 16 <= size <= 4096:
                raise ParamError("--size", f"expected a pixel count in [16, 4096], got {size}")
            if not isinstance(v, int) or isinstance(v, bool) or not 16 <= v <= 4096:
                raise ParamError(f"image.{key}", f"expected an integer pixel count in [16, 4096], got {v!r}",
                                 where("image", key))
            dims[key] = v
        body = data.get("body", {}) or {}
        if not isinstance(body, dict) or set(body) - {"backend", "models", "tailornet"}:
            raise ParamError("body", "expected {backend: anny|smpl|smplx, models: DIR, tailornet: DIR}", where("body"))
        folder = data.get("background_folder")
        if folder is not None:
            folder = str((Path(path).parent / folder).resolve())
            if not Path(folder).is_dir():
                raise ParamError("background_folder", f"no such folder: {folder}", where("background_folder"))
        extra = tuple(dict.fromkeys((*extra, *SEARCH_KEYS)))
        rest = {k: v for k, v in data.items() if k not in _SCENE_KEYS + extra}
        from synthgen.body.shape import SHAPE_PRIORS

        space = ParamSpace.from_dict(rest, str(path), lines, SHAPE_PRIORS)
        kept = {k: (data[k], where(k)) for k in extra if k in data}
        return cls(space, dims["width"], dims["height"], body.get("backend", "anny"), body.get("models"),
                   folder, str(path), body.get("tailornet"), kept)


@dataclass
class Occluder:
    mesh: trimesh.Trimesh  # world coordinates
    pattern: str  # texture pattern (textures.PATTERNS), tinted by colour
    colour: np.ndarray  # rgb in [0, 1]
    uv: np.ndarray  # (V, 2)


@dataclass
class SceneSetup:
    camera: Camera
    ambient: float
    #: (direction the light travels, world; rgb; intensity)
    lights: list[tuple[np.ndarray, np.ndarray, float]]
    skin_colour: np.ndarray
    skin_detail: float
    background: np.ndarray  # (H, W, 3) uint8
    occluders: list[Occluder] = field(default_factory=list)


def _light_direction(camera: Camera, yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """Unit vector the light travels along: it comes from ``yaw`` degrees around the person
    from the camera's side, ``pitch`` degrees up."""
    cam = camera.position
    base = np.arctan2(cam[0], cam[2])
    a, p = base + np.radians(yaw_deg), np.radians(pitch_deg)
    source = np.array([np.cos(p) * np.sin(a), np.sin(p), np.cos(p) * np.cos(a)])
    return -source


def _occluder(params: dict, camera: Camera) -> Occluder | None:
    kind = params.get("occluder.kind", "none")
    if kind == "none":
        return None
    size = float(params.get("occluder.size", 0.4))
    frac = float(params.get("occluder.depth", 0.5))
    pelvis_cam = camera.to_camera(np.zeros((1, 3)))[0]
    z = pelvis_cam[2] * (1.0 - frac)
    fx, fy = camera.K[0, 0], camera.K[1, 1]
    # place it so that it covers the image point (x, y) given in half widths / heights
    u = camera.K[0, 2] + float(params.get("occluder.x", 0.0)) * camera.width / 2
    v = camera.K[1, 2] + float(params.get("occluder.y", 0.0)) * camera.height / 2
    centre_cam = np.array([(u - camera.K[0, 2]) / fx * z, (v - camera.K[1, 2]) / fy * z, z])
    if kind == "box":
        mesh = trimesh.creation.box(extents=[size, size, size * 0.5])
    elif kind == "cylinder":
        mesh = trimesh.creation.cylinder(radius=size * 0.25, height=size * 2.0, sections=24)
        mesh.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
    else:
        mesh = trimesh.creation.box(extents=[size * 1.5, size, 0.01])
    # mesh axes follow the camera's (x right, y down, z forward), then go to world
    T = np.eye(4)
    T[:3, :3] = camera.R.T
    T[:3, 3] = camera.R.T @ (centre_cam - camera.t)
    mesh.apply_transform(T)
    span = mesh.vertices - mesh.vertices.mean(0)
    uv = np.stack([span @ camera.R[0], span @ camera.R[1]], 1)
    uv = (uv - uv.min(0)) / max(np.ptp(uv, 0).max(), 1e-6)
    colour = textures.hue_colour(float(params.get("occluder.hue", 0.1)), 0.5, 0.7)
    return Occluder(mesh, params.get("occluder.pattern", "solid"), colour, uv)


def setup_scene(params: dict, config: SceneConfig, seed: int) -> SceneSetup:
    camera = camera_from_params(params, config.width, config.height)
    g = lambda k, d: float(params.get(k, d))  # noqa: E731
    key = (_light_direction(camera, g("light.key_yaw", 35.0), g("light.key_pitch", 40.0)),
           textures.temperature_rgb(g("light.key_temperature", 5600.0)), g("light.key_intensity", 5.0))
    fill = (_light_direction(camera, -g("light.key_yaw", 35.0), 10.0), np.ones(3), g("light.fill_intensity", 1.5))
    kind = params.get("background.kind", "gradient")
    if kind == "image" and not config.background_folder:
        raise ParamError("background.kind", "'image' needs a background_folder in the scene file")
    try:
        background = textures.background_image(kind, config.width, config.height, g("background.hue", 0.6),
                                               g("background.brightness", 0.75), seed, config.background_folder,
                                               g("background.variant", 0.0))
    except FileNotFoundError as e:
        raise ParamError("background.kind", str(e)) from e
    occ = _occluder(params, camera)
    return SceneSetup(camera, g("light.ambient", 0.35), [key, fill], textures.skin_colour(g("skin.tone", 0.25)),
                      g("skin.detail", 0.5), background, [occ] if occ else [])
