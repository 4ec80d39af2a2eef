"""Rendering throughput: annotated samples/s (RGB + every label) at 256 and 512 px in one
process, against a bare one-pass pyrender render of the same textured meshes (upload, render,
read back) in the same run; clothed people as the scene says, and the same samples unclothed.
Each row also gives the CPU time per sample (every thread of the process: Mesa's llvmpipe
rasterizes on all cores), which bounds samples/s at cores / CPU time, and the samples/s of
``Renderer.render_many`` (what `synthgen generate` and a search's own process use: one
sample's body, garments and labels are made while the previous one's image is drawn) over
another n samples, with its ratio to the bare render. Torch runs on one thread, as in
`synthgen generate`'s workers and a search's own process (two would add CPU time here, not
speed: the other core is busy with the image).

    python benchmarks/render.py [--n 40] [--json benchmarks/results/render.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time

from report import report


def measure(scene: str, size: int, clothed: bool, n: int) -> dict:
    """One row, measured in this process."""
    import torch

    torch.set_num_threads(1)
    from synthgen.render.gl import render_rgb
    from synthgen.render.renderer import Renderer
    from synthgen.scene import SceneConfig

    config = SceneConfig.from_yaml(scene, size)
    if not clothed:
        unclothed = {"garment.top.class": "none", "garment.bottom.class": "none"}
        dims = tuple(d for d in config.space.dims if not d.name.startswith("garment."))
        config = dataclasses.replace(config, space=dataclasses.replace(
            config.space, dims=dims, fixed=dict(config.space.fixed) | unclothed))
    renderer = Renderer(config)
    params = [config.space.sample(s) for s in range(n)]
    renderer.render(params[0], 0)  # warm-up: model, context, textures
    full, bare, full_cpu, bare_cpu = [], [], [], []
    for s, p in enumerate(params):
        t, c = time.perf_counter(), time.process_time()
        renderer.render(p, s)
        full.append(time.perf_counter() - t)
        full_cpu.append(time.process_time() - c)
        # the bare pass: the same posed, textured meshes, one pyrender render, no labels
        _, _, out, normals, garments, setup = renderer._stage(p, s)
        meshes = renderer._meshes(out, normals, garments, setup, s)
        t, c = time.perf_counter(), time.process_time()
        render_rgb(meshes, setup, renderer._textures)
        bare.append(time.perf_counter() - t)
        bare_cpu.append(time.process_time() - c)
    f, b = statistics.median(full), statistics.median(bare)
    more = [(config.space.sample(s), s) for s in range(n, 2 * n)]
    t = time.perf_counter()
    for _ in renderer.render_many(more):
        pass
    streamed = (time.perf_counter() - t) / n
    return {"size": size, "people": "clothed" if clothed else "unclothed", "samples_per_s": 1.0 / f,
            "streamed_per_s": 1.0 / streamed, "streamed_ratio": streamed / b,
            "bare_renders_per_s": 1.0 / b, "ratio": f / b, "full_ms": 1000 * f, "bare_ms": 1000 * b,
            "full_cpu_ms": 1000 * statistics.median(full_cpu), "bare_cpu_ms": 1000 * statistics.median(bare_cpu)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40, help="samples per row")
    ap.add_argument("--scene", default="scenes/studio.yaml")
    ap.add_argument("--json", default="benchmarks/results/render.json")
    ap.add_argument("--row", nargs=2, metavar=("SIZE", "CLOTHED"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.row:  # one row in a fresh process, printed as JSON
        print("ROW " + json.dumps(measure(args.scene, int(args.row[0]), args.row[1] == "1", args.n)))
        return
    rows = []
    for size, clothed in ((256, True), (512, True), (256, False), (512, False)):
        # each row in its own process, so that no row inherits another's GL and memory state
        res = subprocess.run([sys.executable, __file__, "--n", str(args.n), "--scene", args.scene,
                              "--row", str(size), "1" if clothed else "0"], capture_output=True, text=True)
        line = next((ln for ln in res.stdout.splitlines() if ln.startswith("ROW ")), None)
        if line is None:
            sys.exit(f"benchmark row {size} px failed:\n{res.stderr[-2000:]}")
        rows.append(json.loads(line[4:]))
    report(f"render throughput, pyrender EGL, median over {args.n} samples of {args.scene} (streamed: mean over "
           f"{args.n} more), one process per row, torch on 1 thread",
           f"python benchmarks/render.py --n {args.n} ({os.cpu_count()} cores)",
           [("size", "size", "d"), ("people", "people", "s"), ("samples_per_s", "annotated samples/s", ".1f"),
            ("bare_renders_per_s", "bare renders/s", ".1f"), ("ratio", "full / bare", ".2f"),
            ("streamed_per_s", "streamed samples/s", ".1f"), ("streamed_ratio", "streamed / bare", ".2f"),
            ("full_cpu_ms", "CPU ms/sample", ".0f"), ("bare_cpu_ms", "bare CPU ms", ".0f")],
           rows, args.json, n=args.n)


if __name__ == "__main__":
    main()
