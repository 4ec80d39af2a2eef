"""Garment interpenetration, per garment class, over the pose library and random plausible poses,
three outfits at sizes 0 and 1, full length: the share of garment vertices behind the body
surface closest to them (the measure of tests/test_clothing.py; the target is < 1%), and the
share inside the body by its winding number (which also counts where the pose makes the body
pass through itself), with the time dressing takes.

    python benchmarks/clothing.py [--random 20] [--json benchmarks/results/clothing.json]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from report import report

OUTFITS = [("t-shirt", "pant"), ("old-t-shirt", "short-pant"), ("shirt", "skirt")]


def main() -> None:
    from synthgen.body import get_body_model
    from synthgen.body.plausibility import plausibility
    from synthgen.body.joint_limits import pose_param_names
    from synthgen.body.pose_library import get_pose, pose_library
    from synthgen.clothing.garments import Wardrobe
    from synthgen.clothing.penetration import behind_fraction, inside_fraction
    from synthgen.space import ParamSpace

    ap = argparse.ArgumentParser()
    ap.add_argument("--random", type=int, default=20, help="random plausible poses besides the library")
    ap.add_argument("--json", default="benchmarks/results/clothing.json")
    args = ap.parse_args()
    body = get_body_model("anny")
    wardrobe = Wardrobe(body)
    faces = body.faces.numpy()
    poses = [get_pose(n) for n in pose_library()]
    space = ParamSpace.of([n for n in pose_param_names() if not n.startswith("pose.global")])
    extra = 0
    for p in space.sample(11, n=20 * args.random):
        half = {k: v * 0.5 for k, v in p.items()}
        if extra < args.random and plausibility(half, body).plausible:
            poses.append(half)
            extra += 1
    behind: dict[str, list[float]] = {}
    inside: dict[str, list[float]] = {}
    seconds: list[float] = []
    for pose in poses:
        out = body(pose)
        verts = out.vertices[0].double().numpy()
        for top, bottom in OUTFITS:
            for size in (0.0, 1.0):
                params = {"garment.top.class": top, "garment.bottom.class": bottom, "garment.top.size": size,
                          "garment.bottom.size": size, "garment.top.length": 1.0, "garment.bottom.length": 1.0}
                t = time.perf_counter()
                garments = wardrobe.dress(params, out)
                seconds.append(time.perf_counter() - t)
                for g in garments:
                    behind.setdefault(g.name, []).append(behind_fraction(g.vertices, verts, faces))
                    inside.setdefault(g.name, []).append(inside_fraction(g.vertices, verts, faces))
    rows = [{"garment": k, "poses": len(poses), "mean_pct": 100 * float(np.mean(v)), "worst_pct": 100 * float(np.max(v)),
             "inside_mean_pct": 100 * float(np.mean(inside[k])), "inside_worst_pct": 100 * float(np.max(inside[k]))}
            for k, v in behind.items()]
    report(f"garment vertices behind the closest body face / inside the body ({len(pose_library())} library + "
           f"{extra} random poses, sizes 0 and 1; dressing an outfit: median {1000 * np.median(seconds):.1f} ms)",
           f"python benchmarks/clothing.py --random {args.random}",
           [("garment", "garment", "s"), ("poses", "poses", "d"), ("mean_pct", "behind mean %", ".3f"),
            ("worst_pct", "behind worst %", ".3f"), ("inside_mean_pct", "inside mean %", ".3f"),
            ("inside_worst_pct", "inside worst %", ".3f")], rows, args.json,
           dress_ms_median=1000 * float(np.median(seconds)))


if __name__ == "__main__":
    main()
