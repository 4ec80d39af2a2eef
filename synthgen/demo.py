"""The demo: the pose library on the default Anny body, as a grid of shaded bodies."""

from __future__ import annotations

from pathlib import Path

from synthgen.body import get_body_model
from synthgen.space import ParamSpace
from synthgen.body.pose_library import pose_library
from synthgen.montage import grid
from synthgen.preview import render_bodies


def pose_library_grid(out: str | Path, backend: str = "anny", body_models: str | None = None,
                      shape: dict | None = None) -> Path:
    body = get_body_model(backend, body_models)
    lib = pose_library()
    batch = [dict(p.angles) | (shape or {}) for p in lib.values()]
    outputs = body(batch)
    images = render_bodies([(outputs, i) for i in range(len(batch))], colour_by_part=False)
    return grid(images, [f"{n}: {p.description}" for n, p in lib.items()], out)


def studio_montage(out: str | Path, backend: str = "anny", body_models: str | None = None, n: int = 3) -> Path:
    """A few samples of scenes/studio.yaml, each as RGB | parts | IUV | depth | keypoints."""
    import numpy as np
    from PIL import Image

    from synthgen.montage import panels, save_png
    from synthgen.render.renderer import Renderer
    from synthgen.scene import SceneConfig

    config = SceneConfig.from_yaml(Path(__file__).resolve().parents[1] / "scenes" / "studio.yaml")
    space = config.space
    if backend != "anny":  # studio varies Anny's phenotypes; other bodies keep their default shape
        space = space.subset([n for n in space.names if not n.startswith("shape.")])
        space = ParamSpace(space.dims, {k: v for k, v in space.fixed.items() if not k.startswith("shape.")})
    config = SceneConfig(space, config.width, config.height, backend, body_models)
    renderer = Renderer(config)
    rows = [np.concatenate([img for _, img in panels(renderer.render(config.space.sample(s), s))], 1)
            for s in range(n)]
    return save_png(Image.fromarray(np.concatenate(rows, 0)), out)
