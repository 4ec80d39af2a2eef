"""Garment interpenetration: the share of garment vertices behind the body surface, per garment
class, over the pose library and random plausible poses, three outfits at sizes 0 and 1, full
length (the measure of tests/test_clothing.py; the target is < 1%).

    python benchmarks/clothing.py [--random 20] [--json benchmarks/results/clothing.json]
"""

from __future__ import annotations

import argparse

import numpy as np

from report import report

OUTFITS = [("t-shirt", "pant"), ("old-t-shirt", "short-pant"), ("shirt", "skirt")]


def main() -> None:
    from synthgen.body import get_body_model
    from synthgen.body.plausibility import plausibility
    from synthgen.body.pose import pose_param_names
    from synthgen.body.pose_library import get_pose, pose_library
    from synthgen.clothing.garments import Wardrobe
    from synthgen.clothing.penetration import behind_fraction
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
    stats: dict[str, list[float]] = {}
    for pose in poses:
        out = body(pose)
        for top, bottom in OUTFITS:
            for size in (0.0, 1.0):
                params = {"garment.top.class": top, "garment.bottom.class": bottom, "garment.top.size": size,
                          "garment.bottom.size": size, "garment.top.length": 1.0, "garment.bottom.length": 1.0}
                for g in wardrobe.dress(params, out):
                    stats.setdefault(g.name, []).append(
                        behind_fraction(g.vertices, out.vertices[0].double().numpy(), faces))
    rows = [{"garment": k, "poses": len(poses), "mean_pct": 100 * float(np.mean(v)), "worst_pct": 100 * float(np.max(v))}
            for k, v in stats.items()]
    report(f"garment vertices inside the body ({len(pose_library())} library + {extra} random poses, sizes 0 and 1)",
           f"python benchmarks/clothing.py --random {args.random}",
           [("garment", "garment", "s"), ("poses", "poses", "d"), ("mean_pct", "mean %", ".3f"),
            ("worst_pct", "worst %", ".3f")], rows, args.json)


if __name__ == "__main__":
    main()
