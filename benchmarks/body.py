"""Body throughput: bodies/s for B = 1, 16, 64 on each backend, against the backend's own raw
forward in the same run (Anny's model call; smplx's lbs() for SMPL / SMPL-X), given the same
pose already in the library's native form.

    python benchmarks/body.py [--repeats 20] [--json benchmarks/results/body.json]

The SMPL and SMPL-X rows use synthetic files in their exact layouts (the real files are
licensed and not present here): same code path and smplx calls, on a ~3.5k-vertex mesh instead
of 6890 / 10475 vertices, so their absolute rates are higher than with the real models."""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
from report import report


def timed_pair(ours, raw, repeats: int) -> tuple[float, float]:
    """Median seconds of each, calls alternating so that both see the same machine state."""
    ours(), raw()  # warm-up
    t_ours, t_raw = [], []
    for _ in range(repeats):
        for fn, acc in ((ours, t_ours), (raw, t_raw)):
            t = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t)
    return statistics.median(t_ours), statistics.median(t_raw)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--json", default="benchmarks/results/body.json")
    args = ap.parse_args()

    import roma

    from synthgen.body import get_body_model
    from synthgen.body.pose import angles_from_params, anatomical_rotations
    from synthgen.body.joint_limits import pose_param_names
    from synthgen.body.smpl_synthetic import write_synthetic_smpl
    from synthgen.space import ParamSpace

    space = ParamSpace.of(pose_param_names() + ["shape.weight"])
    models = tempfile.mkdtemp()
    write_synthetic_smpl(models)
    rows = []
    write_synthetic_smpl(models, model_type="smplx")
    for backend in ("anny", "smpl", "smplx"):
        body = get_body_model(backend, models if backend != "anny" else None)
        for B in (1, 16, 64):
            batch = space.sample(B, n=B) if backend == "anny" else [
                {k: v for k, v in p.items() if not k.startswith("shape.")} for p in space.sample(B, n=B)]
            # the backend's own forward, given the same pose already in its native form
            angles, glob = angles_from_params(batch, dtype=body.dtype)
            pose = anatomical_rotations(angles, glob)
            shape = body.shape_tensor(batch)
            if backend == "anny":
                m = body.model
                rest = body._rest(shape)
                from synthgen.body.anny_body import ZUP_TO_YUP

                c = ZUP_TO_YUP.to(body.dtype)
                joints = (rest["rest_bone_heads"] @ c.T)[:, body._joint_bones].expand(B, -1, -1)
                delta = torch.zeros(B, len(body.bone_names), 4, 4, dtype=body.dtype)
                delta[..., :3, :3] = c.T @ body.local_rotations(pose, joints) @ c
                delta[..., 3, 3] = 1
                raw_fn = lambda: m(pose_parameters=delta, phenotype_kwargs=shape)  # noqa: E731
            else:
                from smplx.lbs import lbs

                m = body.model
                n_joints = m.J_regressor.shape[0]
                full = torch.zeros(B, n_joints, 3, dtype=body.dtype)
                full[:, 0] = roma.rotmat_to_rotvec(pose.global_rot)
                full[:, 1:22] = roma.rotmat_to_rotvec(pose.full)
                betas = torch.zeros(B, m.shapedirs.shape[-1], dtype=body.dtype)
                raw_fn = lambda: lbs(betas, full.reshape(B, -1), m.v_template, m.shapedirs,  # noqa: E731
                                     m.posedirs, m.J_regressor, m.parents, m.lbs_weights)
            ours, raw = timed_pair(lambda: body(batch), raw_fn, args.repeats)
            rows.append({"backend": backend, "B": B, "ours_bodies_per_s": B / ours, "raw_bodies_per_s": B / raw,
                         "overhead_pct": 100.0 * (ours / raw - 1.0)})
    report(f"body throughput, median of {args.repeats} runs", f"python benchmarks/body.py --repeats {args.repeats}",
           [("backend", "backend", "s"), ("B", "B", "d"), ("ours_bodies_per_s", "ours bodies/s", ".1f"),
            ("raw_bodies_per_s", "raw bodies/s", ".1f"), ("overhead_pct", "overhead %", ".1f")],
           rows, args.json, repeats=args.repeats)


if __name__ == "__main__":
    main()
