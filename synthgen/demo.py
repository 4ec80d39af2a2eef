"""The demo: the pose library on the default Anny body, as a grid of shaded bodies."""

from __future__ import annotations

from pathlib import Path

from synthgen.body import get_body_model
from synthgen.body.pose_library import pose_library
from synthgen.preview import render_bodies, save_grid


def pose_library_grid(out: str | Path, backend: str = "anny", body_models: str | None = None,
                      shape: dict | None = None) -> Path:
    body = get_body_model(backend, body_models)
    lib = pose_library()
    batch = [dict(p.angles) | (shape or {}) for p in lib.values()]
    outputs = body(batch)
    images = render_bodies([(outputs, i) for i in range(len(batch))], colour_by_part=False)
    return save_grid(images, [f"{n}: {p.description[:34]}" for n, p in lib.items()], out)
