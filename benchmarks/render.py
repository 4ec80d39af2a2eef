"""Rendering throughput: annotated samples/s (RGB + every label) at 256 and 512 px in one
process, against a bare one-pass pyrender render of the same textured body mesh (upload,
render, read back) in the same run.

    python benchmarks/render.py [--n 40] [--json benchmarks/results/render.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path


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
    for size in (256, 512):
        config = SceneConfig.from_yaml(args.scene, size)
        renderer = Renderer(config)
        params = [config.space.sample(s) for s in range(args.n)]
        renderer.render(params[0], 0)  # warm-up: model, context, textures
        full, bare = [], []
        for s, p in enumerate(params):
            t = time.perf_counter()
            renderer.render(p, s)
            full.append(time.perf_counter() - t)
            # the bare pass: the same posed, textured mesh, one pyrender render, no labels
            out = renderer.body(config.space.complete(p))
            setup = setup_scene(config.space.complete(p), config, s)
            from synthgen.annotate import vertex_normals

            normals = vertex_normals(out.vertices[0].double(), out.faces.long())
            meshes = renderer._meshes(out, normals, setup, s)
            t = time.perf_counter()
            render_rgb(meshes, setup, renderer._textures)
            bare.append(time.perf_counter() - t)
        f, b = statistics.median(full), statistics.median(bare)
        rows.append({"size": size, "samples_per_s": 1.0 / f, "bare_renders_per_s": 1.0 / b, "ratio": f / b,
                     "full_ms": 1000 * f, "bare_ms": 1000 * b})
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"
    print(f"# render throughput ({machine}, pyrender EGL {os.environ.get('PYOPENGL_PLATFORM', 'egl')}); "
          f"median over {args.n} samples of {args.scene}")
    print(f"# reproduce: python benchmarks/render.py --n {args.n}")
    print(f"{'size':>5} {'annotated samples/s':>20} {'bare renders/s':>15} {'full / bare':>12}")
    for r in rows:
        print(f"{r['size']:>5} {r['samples_per_s']:>20.1f} {r['bare_renders_per_s']:>15.1f} {r['ratio']:>11.2f}x")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine, "n": args.n, "rows": rows}, indent=2))
    print(f"# wrote {out}")


if __name__ == "__main__":
    main()
