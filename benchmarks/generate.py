"""Dataset generation throughput: samples/s of `synthgen generate` (studio scene, 256 px, COCO +
DensePose-COCO + dense maps) with 1 and 2 local worker processes and with Ray on 2 CPUs, and the
scaling ratio of 2 workers over 1. "wall" counts the whole command (worker start included);
"steady" counts the second half of the samples only.

    python benchmarks/generate.py [--n 96] [--json benchmarks/results/generate.json]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from report import report


class Clock:
    def __init__(self):
        self.times: list[float] = []

    def start(self, total: int, done: int) -> None:
        self.t0 = time.perf_counter()

    def advance(self, k: int) -> None:
        self.times += [time.perf_counter()] * k


def run(scene: str, n: int, size: int, workers: int, ray: bool, shard_size: int) -> dict:
    from synthgen.dataset.generate import generate

    out = Path(tempfile.mkdtemp(prefix="bench_generate_")) / "ds"
    clock = Clock()
    t = time.perf_counter()
    generate(scene, n, out, seed=0, workers=workers, ray_address="local" if ray else None, size=size,
             shard_size=shard_size, progress=clock)
    wall = time.perf_counter() - t
    shutil.rmtree(out.parent)
    half = clock.times[n // 2 - 1]
    steady = (n - n // 2) / (clock.times[-1] - half)
    return {"backend": f"ray ({workers} CPUs)" if ray else f"local x{workers}", "workers": workers, "n": n,
            "size": size, "wall_s": wall, "wall_samples_per_s": n / wall, "steady_samples_per_s": steady}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=96, help="samples per row")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--scene", default="scenes/studio.yaml")
    ap.add_argument("--shard-size", type=int, default=8)
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--json", default="benchmarks/results/generate.json")
    args = ap.parse_args()
    rows = [run(args.scene, args.n, args.size, 1, False, args.shard_size),
            run(args.scene, args.n, args.size, 2, False, args.shard_size)]
    if not args.no_ray:
        rows.append(run(args.scene, args.n, args.size, 2, True, args.shard_size))
    base = rows[0]
    for r in rows:
        r["scaling_wall"] = r["wall_samples_per_s"] / base["wall_samples_per_s"]
        r["scaling_steady"] = r["steady_samples_per_s"] / base["steady_samples_per_s"]
    report("synthgen generate throughput", f"python benchmarks/generate.py --n {args.n} --size {args.size}",
           [("backend", "backend", "s"), ("n", "samples", "d"), ("wall_s", "wall s", ".1f"),
            ("wall_samples_per_s", "wall/s", ".2f"), ("steady_samples_per_s", "steady/s", ".2f"),
            ("scaling_wall", "x wall", ".2f"), ("scaling_steady", "x steady", ".2f")],
           rows, args.json, scene=args.scene)


if __name__ == "__main__":
    main()
