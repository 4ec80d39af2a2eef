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
    if backend != "anny":  # Anny's phenotypes and garments do not apply: default shape, unclothed
        space = space.subset([n for n in space.names if not n.startswith(("shape.", "garment."))])
        fixed = {k: v for k, v in space.fixed.items() if not k.startswith("shape.")}
        space = ParamSpace(space.dims, fixed | {"garment.top.class": "none", "garment.bottom.class": "none"})
    config = SceneConfig(space, config.width, config.height, backend, body_models)
    renderer = Renderer(config)
    rows = [np.concatenate([img for _, img in panels(renderer.render(config.space.sample(s), s))], 1)
            for s in range(n)]
    return save_png(Image.fromarray(np.concatenate(rows, 0)), out)


def wardrobe_montage(out: str | Path, size: int = 150) -> Path:
    """Every garment class at two styles (tight and short, loose and long) on three bodies in
    three poses: one row per class and style, one column per body and pose."""
    import numpy as np
    from PIL import Image, ImageDraw

    from synthgen.clothing.classes import BOTTOMS, TOPS
    from synthgen.montage import save_png
    from synthgen.render.renderer import Renderer
    from synthgen.scene import SceneConfig

    space = ParamSpace.of(["pose.preset", "garment.top.class", "garment.bottom.class"])
    renderer = Renderer(SceneConfig(space, size, size))
    bodies = [{"shape.gender": 0.0, "shape.weight": 0.3}, {"shape.gender": 1.0, "shape.weight": 0.5},
              {"shape.gender": 0.5, "shape.weight": 0.9, "shape.height": 0.2}]
    poses = ["stand", "walk", "sit"]
    styles = [(0.0, 0.1), (0.9, 1.0)]
    rows, labels = [], []
    for name in TOPS + BOTTOMS:
        slot = "top" if name in TOPS else "bottom"
        other = ("garment.bottom.class", "pant") if slot == "top" else ("garment.top.class", "none")
        for loose, length in styles:
            tiles = []
            for shape in bodies:
                for pose in poses:
                    p = shape | {"pose.preset": pose, f"garment.{slot}.class": name, other[0]: other[1],
                                 f"garment.{slot}.size": loose, f"garment.{slot}.length": length,
                                 f"garment.{slot}.pattern": "stripes", f"garment.{slot}.color": 0.05,
                                 "garment.bottom.color": 0.6 if slot == "top" else 0.05,
                                 "camera.distance": 2.3, "camera.yaw": 20.0, "background.kind": "solid"}
                    tiles.append(renderer.render(p, seed=0).image)
            rows.append(np.concatenate(tiles, 1))
            labels.append(f"{name}  size {loose:g}  length {length:g}")
    sheet = Image.fromarray(np.concatenate(rows, 0))
    draw = ImageDraw.Draw(sheet)
    for i, text in enumerate(labels):
        draw.text((4, i * size + 2), text, fill=(0, 0, 0))
    return save_png(sheet, out)
