"""Rendering throughput: annotated samples/s (RGB + every label) at 256 and 512 px in one
process, against a bare one-pass pyrender render of the same textured meshes (upload, render,
read back) in the same run; clothed people as the scene says, and the same samples unclothed.

    python benchmarks/render.py [--n 40] [--json benchmarks/results/render.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

from report import report


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40, help="samples per size")
    ap.add_argument("--scene", default="scenes/studio.yaml")
    ap.add_argument("--json", default="benchmarks/results/render.json")
    args = ap.parse_args()

    import numpy as np
    import torch

    from synthgen.render.gl import render_rgb
    from synthgen.render.renderer import Renderer
    from synthgen.scene import SceneConfig, setup_scene

    rows = []
    unclothed = {"garment.top.class": "none", "garment.bottom.class": "none"}
    for size, clothed in ((256, True), (512, True), (256, False), (512, False)):
        config = SceneConfig.from_yaml(args.scene, size)
        if not clothed:
            dims = tuple(d for d in config.space.dims if not d.name.startswith("garment."))
            config = dataclasses.replace(config, space=dataclasses.replace(
                config.space, dims=dims, fixed=dict(config.space.fixed) | unclothed))
        renderer = Renderer(config)
        params = [config.space.sample(s) for s in range(args.n)]
        renderer.render(params[0], 0)  # warm-up: model, context, textures
        full, bare = [], []
        for s, p in enumerate(params):
            t = time.perf_counter()
            renderer.render(p, s)
            full.append(time.perf_counter() - t)
            # the bare pass: the same posed, textured mesh, one pyrender render, no labels
            full_p = config.space.complete(p)
            out = renderer.body(full_p)
            setup = setup_scene(full_p, config, s)
            from synthgen.annotate import vertex_normals

            normals = vertex_normals(out.vertices[0].double(), out.faces.long())
            garments = renderer._dress(full_p, out, normals)
            meshes = renderer._meshes(out, normals, garments, setup, s)
            t = time.perf_counter()
            render_rgb(meshes, setup, renderer._textures)
            bare.append(time.perf_counter() - t)
        f, b = statistics.median(full), statistics.median(bare)
        rows.append({"size": size, "people": "clothed" if clothed else "unclothed", "samples_per_s": 1.0 / f, "bare_renders_per_s": 1.0 / b, "ratio": f / b,
                     "full_ms": 1000 * f, "bare_ms": 1000 * b})
    report(f"render throughput, pyrender EGL, median over {args.n} samples of {args.scene}",
           f"python benchmarks/render.py --n {args.n}",
           [("size", "size", "d"), ("people", "people", "s"), ("samples_per_s", "annotated samples/s", ".1f"),
            ("bare_renders_per_s", "bare renders/s", ".1f"), ("ratio", "full / bare", ".2f")],
           rows, args.json, n=args.n)


if __name__ == "__main__":
    main()
