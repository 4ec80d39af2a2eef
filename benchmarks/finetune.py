"""The whole loop on this CPU: (train the baseline if no checkpoint is given) -> find its
failure modes -> fine-tune on them -> re-measure on held-out images (95% intervals) and look
again with the same budget and seed. Prints two tables and writes JSON.

The modes come from ``examiner map`` (600 uniform queries, modes in the fewest factors) over
``benchmarks/finetune_space.yaml``: the studio's person seen from any side and from above,
limbs through their range. On a freshly trained baseline, ``scenes/search_pose.yaml`` has no
mode in the fewest factors (a 600-query CMA-ES search: 0 of 24 uniform queries fail, the 178
failing queries lie in many-joint corners, no mode clears the 0.5 threshold), so it gives the
loop nothing to fine-tune on. ``--strategy cmaes`` (or any search strategy) searches instead.

1. Forgetting, on training seed 0: fine-tuning with replay of the baseline's own training data,
   alone and with samples of the whole search space in every batch (0.15 modes, 0.15 space, 0.7
   replay: with them the model also sees the space's fixed garment and background outside the
   modes' views), each measured at its last step and at its best validated step (early
   stopping). ``--variants all`` adds the best validated blend of the starting and the last
   weights (weight interpolation, WiSE-FT), fresh renders of the default scene instead of
   replay (what the loop did before replay) and replay with a lower encoder learning rate, an
   L2 pull to the starting weights (L2-SP), a lower learning rate, or frozen batch-norm
   statistics.
2. The chosen setting over ``--seeds`` training seeds: mean, sd over seeds and the 95% interval
   of the mean (a paired bootstrap over the held-out images), and a fresh search per seed.

The choice is by measurement (``choose``): among the settings that at least halve the failure
rate inside the modes and whose default-scene error rises by at most ``--tolerance`` at the
upper end of its 95% interval, the one with the lowest failure rate over the whole search
space. Every setting shares one held-out set per kind (``--heldout`` images of the modes, of
the default scene and of the whole search space). Runs already in ``--out`` with the same
settings are read back.

    python benchmarks/finetune.py [--model out/bench_finetune/baseline.pt] [--seeds 3] [--heldout 500]
        [--val 100] [--space benchmarks/finetune_space.yaml] [--strategy map] [--budget 600] [--threshold 0.5]
        [--n 2000] [--steps 2000] [--mix 0.3] [--variants all] [--json benchmarks/results/finetune.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from report import machine

#: the settings the forgetting comparison can train: each is measured at its last step and at its
#: best validated step (early stopping) or, with ``interpolate``, its best validated blend. A
#: setting's own ``mix`` (share of mode samples per batch) replaces --mix; every setting trains on
#: the same --mix * --n mode samples.
VARIANTS = {
    "replay": dict(replay="baseline"),
    "replay + weight interpolation": dict(replay="baseline", interpolate=True),
    "replay + search-space samples": dict(replay="baseline", mix=0.15, space_mix=0.15),
    "fresh renders": dict(replay="fresh"),
    "replay + encoder lr x0.1": dict(replay="baseline", encoder_lr_scale=0.1),
    "replay + L2-SP": dict(replay="baseline", anchor_weight=None),  # None: --anchor-weight
    "replay, lr / 5": dict(replay="baseline", lr_scale=0.2),
    "replay + frozen BN statistics": dict(replay="baseline", freeze_norm_stats=True),
}
#: what the comparison trains unless --variants says otherwise
DEFAULT_VARIANTS = ("replay", "replay + search-space samples")


def main() -> None:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None, help="baseline checkpoint (default: train one into --out, ~40 min)")
    ap.add_argument("--space", default="benchmarks/finetune_space.yaml")
    ap.add_argument("--strategy", default="map", help="map (examiner map) or a search strategy")
    ap.add_argument("--budget", type=int, default=600)
    ap.add_argument("--threshold", type=float, default=0.5, help="failure rate a mode must reach to be reported")
    ap.add_argument("--seeds", type=int, default=3, help="training seeds of the chosen setting")
    ap.add_argument("--n", type=int, default=2000, help="training samples rendered (--mix of them in the modes)")
    ap.add_argument("--heldout", type=int, default=500, help="held-out images per set")
    ap.add_argument("--val", type=int, default=100, help="validation images per set (early stopping)")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--mix", type=float, default=0.3, help="share of failure-mode samples in every batch")
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--anchor-weight", type=float, default=1.0, help="L2-SP weight of that variant")
    ap.add_argument("--tolerance", type=float, default=0.02, help="allowed relative rise of the default error")
    ap.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                    help=f"settings the forgetting comparison trains, comma-separated, or all ({', '.join(VARIANTS)})")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="out/bench_finetune")
    ap.add_argument("--json", default="benchmarks/results/finetune.json")
    args = ap.parse_args()
    variants = list(VARIANTS) if args.variants == "all" else [v.strip() for v in args.variants.split(",")]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        ap.error(f"--variants: unknown setting {unknown[0]!r}; expected some of: {', '.join(VARIANTS)}")
    out = Path(args.out)
    t0 = time.perf_counter()
    model = args.model or str(out / "baseline.pt")
    if not Path(model).is_file():
        subprocess.run([sys.executable, "-m", "examiner.cli", "train-baseline", "--scene", "scenes/studio.yaml",
                        "--out", model], check=True)
    from examiner.dataset_eval import FolderScores
    from examiner.finetune import FinetuneConfig, finetune, fresh_search
    from examiner.finetune_report import compare, table_markdown
    from examiner.models.baseline import TorchBaseline
    from examiner.models.trainable import FinetuneSettings
    search = out / "search_before"
    if not (search / "failures.json").is_file() and args.strategy == "map":
        from examiner.map import run_map

        run_map(f"torch:{model}", args.space, args.budget, search, seed=0, threshold=args.threshold,
                workers=args.workers)
    elif not (search / "failures.json").is_file():
        from examiner.search.context import Validation
        from examiner.search.run import run_search

        run_search(f"torch:{model}", args.space, args.strategy, args.budget, search, seed=0, tensorboard=False,
                   validation=Validation(threshold=args.threshold), workers=args.workers)
    failures = json.loads((search / "failures.json").read_text())
    if not failures["regions"]:
        print(f"# the search found no failure mode of {model} in {args.budget} queries: nothing to fine-tune on")
        return

    def config(seed: int, replay: str, encoder_lr_scale: float = 1.0, anchor_weight: float = 0.0,
               lr_scale: float = 1.0, freeze_norm_stats: bool = False, interpolate: bool = False,
               space_mix: float = 0.0, mix: float | None = None):
        """Every run validates and keeps its best step (or blend) besides its last: both are measured."""
        mix = args.mix if mix is None else mix
        settings = FinetuneSettings(lr=args.lr * lr_scale, steps=args.steps, seed=seed,
                                    encoder_lr_scale=encoder_lr_scale, freeze_norm_stats=freeze_norm_stats,
                                    anchor_weight=args.anchor_weight if anchor_weight is None else anchor_weight)
        return FinetuneConfig(mix=mix, space_mix=space_mix, n_train=round(args.n * args.mix / mix), replay=replay,
                              early_stop=not interpolate,
                              interpolate=interpolate, settings=settings)

    def run(name: str, cfg: FinetuneConfig) -> dict:
        """One fine-tuning run; one already in its folder with the same settings is read back."""
        folder = out / "runs" / "".join(c if c.isalnum() else "_" for c in name)
        done = folder / "finetune.json"
        if done.is_file():
            r = json.loads(done.read_text())
            if (r["config"] == cfg.to_dict() and r["model"] == f"torch:{model}"
                    and r["datasets"]["regions_heldout"]["samples"] == args.heldout
                    and r["datasets"].get("regions_val", {}).get("samples") == args.val):
                return r
        return finetune(f"torch:{model}", search / "failures.json", "scenes/studio.yaml", folder, cfg,
                        heldout=args.heldout, val=args.val, workers=args.workers, data=out / "data",
                        log=lambda m: print(f"  [{name}] {m}", flush=True))

    def scores(result: dict, key: str) -> dict:
        return {k: FolderScores.from_dict(v) for k, v in result["scores"][key].items()}

    # 1. forgetting: every variant on seed 0, each at its last step and at its best validated step or blend
    runs, candidates = {}, {}
    for name in variants:
        kw = VARIANTS[name]
        runs[name] = run(f"{name} seed0", config(0, **kw))
        last, kept = ((f"{name}: last step", name) if kw.get("interpolate") else (name, name + " + early stop"))
        candidates[last] = (runs[name]["comparison_last_step"], False, name)
        candidates[kept] = (runs[name]["comparison"], True, name)
    print("\n## forgetting: training seed 0 (each setting at its last step and at its best validated step or "
          "blend of the starting and the last weights)\n")
    print(forgetting_table(candidates, runs))
    chosen, rule = choose(candidates, args.tolerance)
    _, early, base_name = candidates[chosen]
    print(f"chosen: {chosen} ({rule})\n")

    # 2. the chosen setting over training seeds, each searched again
    afters, found, per_seed = [], [], []
    for seed in range(args.seeds):
        r = runs[base_name] if seed == 0 else run(f"{base_name} seed{seed}", config(seed, **VARIANTS[base_name]))
        if seed == 0:
            before = scores(r, "before")
        afters.append(scores(r, "after" if early else "last_step"))
        ckpt = r["finetuned"] if early else r["finetuned_last_step"]

        s = fresh_search(TorchBaseline.load(ckpt), f"torch:{ckpt}", search / "failures.json", failures, args.budget,
                         out / "search_after" / f"seed{seed}", args.workers, log=print)
        found.append(s["regions_after"])
        per_seed.append({"seed": seed, "finetuned": ckpt, "regions_after": s["regions_after"]})
    comparison = compare(before, afters, seed=0)
    command = "python benchmarks/finetune.py " + " ".join(sys.argv[1:])
    print(f"# fine-tuning on found failure modes ({machine()})")
    print(f"# reproduce: {command}")
    print(f"# baseline {model}; {len(failures['regions'])} mode(s) found by {args.strategy} in {args.budget} queries; "
          f"setting: {chosen}; {args.seeds} training seeds\n")
    print(table_markdown(comparison, args.seeds, failures["regions"], failures.get("searched_dims"),
                         {"budget": args.budget, "regions_before": len(failures["regions"]), "regions_after": found}))
    needed = {k: comparison[k]["needed_images"] for k in ("modes_failure_rate", "default_error")}
    print(f"held-out images per set: {args.heldout}; needed for the comparison's resolution (bootstrap): "
          f"modes {needed['modes_failure_rate']} (+-10%), default scene {needed['default_error']} (+-1%)")
    fr, de = comparison["modes_failure_rate"], comparison["default_error"]
    print(f"targets: failure rate inside the modes {100 * fr['change'][0]:+.1f}% (target <= -50%); default-scene "
          f"error upper 95% bound {100 * de['change'][2]:+.1f}% (target <= +{100 * args.tolerance:.0f}%); modes "
          f"found by a fresh search {len(failures['regions'])} -> {sum(found) / len(found):.2f} (mean)")
    sp = comparison["space_failure_rate"]
    print(f"failure rate over the whole search space {sp['before'][0]:.3f} -> {sp['after'][0]:.3f} "
          f"({100 * sp['change'][0]:+.1f}%): what fixing the modes did elsewhere in the space")
    doc = {"machine": machine(), "command": command, "model": model, "chosen": chosen, "seeds": per_seed,
           "forgetting": {k: {"early_stop": v[1], **{m: v[0][m] for m in ("modes_failure_rate", "default_error",
                                                                          "default_pck", "space_failure_rate")}}
                          for k, v in candidates.items()},
           "comparison": comparison, "heldout": args.heldout, "needed_images": needed,
           "seconds": round(time.perf_counter() - t0, 1)}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(doc, indent=2))
    print(f"# wrote {args.json} ({doc['seconds'] / 60:.0f} min)")


def forgetting_table(candidates: dict, runs: dict) -> str:
    lines = ["| setting (seed 0) | failure rate in the modes [95% CI] | change | default 1 - OKS [95% CI] | "
             "change [95% CI] | PCK@0.1 | failure rate over the search space | weights kept |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    first = next(iter(candidates.values()))[0]
    fr0, de0 = first["modes_failure_rate"]["before"], first["default_error"]["before"]
    sp0 = _space(first, "before")
    lines.append(f"| before fine-tuning | {fr0[0]:.3f} [{fr0[1]:.3f}, {fr0[2]:.3f}] | - | "
                 f"{de0[0]:.4f} [{de0[1]:.4f}, {de0[2]:.4f}] | - | {first['default_pck']['before'][0]:.4f} | {sp0} | "
                 "step 0 |")
    for name, (c, early, base) in candidates.items():
        fr, de = c["modes_failure_rate"], c["default_error"]
        training = runs[base]["training"]
        step = training["steps"]
        if early and "interpolation" in training:
            step = f"{training['interpolation']['alpha']:.1f} of the way to step {step}"
        elif early:
            step = training["stopped_at"]
        lines.append(f"| {name} | {fr['after'][0]:.3f} [{fr['after'][1]:.3f}, {fr['after'][2]:.3f}] | "
                     f"{100 * fr['change'][0]:+.0f}% | "
                     f"{de['after'][0]:.4f} [{de['after'][1]:.4f}, {de['after'][2]:.4f}] | "
                     f"{100 * de['change'][0]:+.1f}% [{100 * de['change'][1]:+.1f}, {100 * de['change'][2]:+.1f}] | "
                     f"{c['default_pck']['after'][0]:.4f} | {_space(c, 'after')} | {step} |")
    return "\n".join(lines) + "\n"


def _space(comparison: dict, when: str) -> str:
    return "{:.3f} [{:.3f}, {:.3f}]".format(*comparison["space_failure_rate"][when])


def choose(candidates: dict, tolerance: float) -> tuple[str, str]:
    """The setting to train on every seed, and the rule that chose it. Among the settings that
    at least halve the failure rate inside the modes and keep the default-scene error within
    ``tolerance`` at the upper end of its 95% interval, the lowest failure rate over the whole
    search space (fixing the modes must not break the rest of it). When none does both, the
    lowest failure rate inside the modes among the fixes within tolerance, or among all fixes
    (the table then shows what the fix costs). An early stop at step 0 is no fix."""
    def rate(key: str, measure: str) -> float:
        return candidates[key][0][measure]["after"][0]

    fixes = [k for k, v in candidates.items() if v[0]["modes_failure_rate"]["change"][0] < 0] or list(candidates)
    within = [k for k in fixes if candidates[k][0]["default_error"]["change"][2] <= tolerance]
    halved = [k for k in within if candidates[k][0]["modes_failure_rate"]["change"][0] <= -0.5]
    if halved:
        return (min(halved, key=lambda k: rate(k, "space_failure_rate")),
                f"the lowest failure rate over the whole search space among the settings that at least halve the "
                f"failure rate inside the modes and whose default-scene error rises by at most {100 * tolerance:.0f}%"
                " at the upper end of its 95% interval")
    if within:
        return (min(within, key=lambda k: rate(k, "modes_failure_rate")),
                f"no setting both halves the failure rate inside the modes and keeps the default-scene error within "
                f"+{100 * tolerance:.0f}%: the lowest failure rate inside the modes among those within it")
    return (min(fixes, key=lambda k: rate(k, "modes_failure_rate")),
            f"no setting keeps the default-scene error within +{100 * tolerance:.0f}% at the upper end of its 95% "
            "interval: the one with the lowest failure rate inside the modes, its forgetting reported")


if __name__ == "__main__":
    main()
