"""``examiner`` command line. Errors a user can fix print one line and exit with code 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from examiner.console_output import (GenerateProgress, SearchProgress, console, pck_table, print_derived_modes,
                                     print_modes, print_sensitivity)
from examiner.search import DEFAULT_STRATEGY, with_ablation

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Find where a pose model fails over synthgen's parameter space, and fix it.")
MODEL_HELP = "Model under test: mediapipe | torch:PATH | onnx:PATH | python:module:function | planted:FILE.yaml"


# --- the trainable baseline -----------------------------------------------------------------------
#: the held-out set's seed is the training seed plus this (distinct seeds: disjoint samples)
HELDOUT_SEED_OFFSET = 1_000_000


def _render(scene, n: int, folder, seed: int, workers: int, size: int | None, label: str) -> float:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from synthgen.dataset.generate import generate

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=False) as bar:
        summary = generate(scene, n, folder, seed=seed, workers=workers, size=size, formats="coco",
                           progress=GenerateProgress(bar, label))
    kept = f", {summary.kept} shard(s) kept from an earlier run" if summary.kept else ""
    console.print(f"{label}: {summary.rendered} rendered in {summary.seconds:.0f} s{kept} -> {folder}")
    return summary.seconds


@app.command("train-baseline")
def train_baseline(
    scene: str = typer.Option(..., "--scene", help="Scene file the training and held-out images are rendered from."),
    out: str = typer.Option(..., "--out", help="Checkpoint file to write (torch:PATH loads it)."),
    n: int = typer.Option(3000, "-n", help="Training images to render."),
    val: int = typer.Option(300, "--val", help="Held-out images (rendered with another seed; 0: none)."),
    steps: int = typer.Option(1500, "--steps", help="Optimiser steps."),
    batch_size: int = typer.Option(32, "--batch-size", help="Images per step."),
    lr: float = typer.Option(2e-3, "--lr", help="Peak AdamW learning rate (cosine schedule)."),
    input_size: int = typer.Option(128, "--input-size", help="Network input side, a multiple of 32."),
    size: int = typer.Option(256, "--size", help="Rendered image side in pixels."),
    workers: int = typer.Option(2, "--workers", help="Rendering worker processes."),
    seed: int = typer.Option(0, "--seed", help="Training set and training seed (held-out: seed + 1000000)."),
    data: str = typer.Option(None, "--data", help="Dataset folder (default: OUT's name + '_data' next to it); "
                                                  "reused or resumed when present."),
) -> None:
    """Render a training and a held-out set, train the heatmap baseline, report held-out PCK."""
    import os
    import time

    # torch's worker threads sleep instead of spinning when they wait: on a shared machine a
    # spinning thread whose partner is descheduled makes steps several times slower
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from pathlib import Path

    import torch

    from examiner.models.baseline import BaselineConfig, TorchBaseline, evaluate_pck, train
    from synthgen.errors import ParamError

    for name, value, low in (("-n", n, 1), ("--val", val, 0), ("--steps", steps, 1), ("--batch-size", batch_size, 1),
                             ("--workers", workers, 1), ("--seed", seed, 0), ("--size", size, 32)):
        if value < low:
            raise ParamError(name, f"must be at least {low}, got {value}")
    if not lr > 0:
        raise ParamError("--lr", f"must be positive, got {lr}")
    if input_size < 32 or input_size % 32:
        raise ParamError("--input-size", f"must be a positive multiple of 32, got {input_size}")
    config = BaselineConfig(input_size=input_size)
    out_path = Path(out)
    if out_path.is_dir():
        raise ParamError("--out", f"{out_path} is a folder; name the checkpoint file")
    root = Path(data) if data else out_path.with_name(out_path.stem + "_data")
    t0 = time.perf_counter()
    times = {"render_train_s": _render(scene, n, root / "train", seed, workers, size, "training set")}
    if val:
        times["render_heldout_s"] = _render(scene, val, root / "heldout", seed + HELDOUT_SEED_OFFSET, workers, size,
                                            "held-out set")
    model = TorchBaseline(config)
    t1 = time.perf_counter()
    summary = train(model, [root / "train"], steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                    log=lambda line: console.print(line, highlight=False))
    times["train_s"] = round(time.perf_counter() - t1, 1)
    model.summary["scene"] = str(scene)
    model.summary["render_size"] = size
    model.summary["train"]["seed_data"] = seed
    if val:
        t2 = time.perf_counter()
        result = evaluate_pck(model, root / "heldout")
        times["eval_s"] = round(time.perf_counter() - t2, 1)
        result["seed"] = seed + HELDOUT_SEED_OFFSET
        model.summary["heldout"] = result
        console.print(pck_table(f"held-out PCK (bbox-normalised), {val} images of {Path(scene).name}", result))
    times["total_s"] = round(time.perf_counter() - t0, 1)
    model.summary["timings"] = {k: round(v, 1) for k, v in times.items()}
    model.save(out_path)
    console.print(f"saved {out_path} ({model.n_params() / 1e6:.2f} M parameters, {torch.get_num_threads()} threads; "
                  f"trained in {summary['seconds'] / 60:.1f} min, {times['total_s'] / 60:.1f} min in all)")


@app.command("export-onnx")
def export_onnx(
    model: str = typer.Option(..., "--model", help="The baseline to export: torch:CKPT."),
    out: str = typer.Option(..., "--out", help="ONNX file to write; its spec goes to OUT.json."),
    opset: int = typer.Option(17, "--opset", help="ONNX opset."),
) -> None:
    """Export the trainable baseline to ONNX with its input/output spec (onnx:OUT runs it)."""
    from examiner.models.baseline import TorchBaseline
    from examiner.models.onnx_model import export_baseline
    from synthgen.errors import ParamError

    kind, _, path = model.partition(":")
    if kind != "torch" or not path:
        raise ParamError("--model", f"export-onnx exports the baseline, torch:CKPT; got {model!r}")
    onnx_path, spec_path = export_baseline(TorchBaseline.load(path), out, opset)
    console.print(f"wrote {onnx_path} and {spec_path}")


WORKERS_HELP = ("Processes that render (and, for per-image models such as mediapipe, predict) in parallel; "
                "the result is the same for any count. With --ray: the number of actors.")
RAY_HELP = "Evaluate on Ray actors (a GPU each where the cluster has them): alone, a local Ray; or an ADDRESS."


@app.command()
def search(model: str = typer.Option(..., help=MODEL_HELP),
           space: str = typer.Option(..., help="Search space YAML (scenes/search_pose.yaml, search_view.yaml, ...)."),
           strategy: str = typer.Option(DEFAULT_STRATEGY, help="random | cmaes | poseexaminer | bo | tpe | lse | "
                                                             "marl (marl-frozen | marl-untrained: its ablation); "
                                                             "lse, the default: the best measured"),
           budget: int = typer.Option(..., help="Model queries in all (validation and growth included)."),
           agents: int = typer.Option(4, help="Agents (poseexaminer, marl)."),
           policy: Optional[str] = typer.Option(None, help="marl: a policy from examiner pretrain (default: the "
                                                           "shipped assets/policies/marl.zip)."),
           seed: int = typer.Option(0, help="Search seed."),
           out: str = typer.Option(..., help="Output folder: failures.json, queries.jsonl, run.json."),
           resume: bool = typer.Option(False, "--resume", help="Continue an interrupted search in --out."),
           samples: int = typer.Option(32, help="At most this many fresh validation samples per region "
                                                "(the queries already inside it count first)."),
           threshold: float = typer.Option(0.5, help="Failure rate whose lower 90% confidence bound a region "
                                                     "must clear to be reported."),
           workers: int = typer.Option(1, help=WORKERS_HELP),
           ray: Optional[str] = typer.Option(None, "--ray", help=RAY_HELP)):
    """Search the space for regions where the model fails; validate and report them."""
    from examiner.search.context import Validation
    from examiner.search.run import run_search

    progress = SearchProgress(budget)
    with progress.bar:
        result = run_search(model, space, strategy, budget, out, agents, seed, resume,
                            Validation(samples, threshold), progress, workers=workers, ray_address=ray, policy=policy)
    base = "" if result["base_rate"] is None else f", base rate {100 * result['base_rate']:.0f}%"
    print_modes(result, f"{len(result['regions'])} failure modes, {result['queries_used']} queries, "
                         f"{result['failures']} failures{base} ({result['seconds']:.0f} s)")
    console.print(f"wrote {out}/failures.json and {out}/queries.jsonl")


@app.command()
def benchmark(model: Optional[str] = typer.Option(None, help=MODEL_HELP + " (or --family)"),
              space: str = typer.Option(..., help="Search space YAML."),
              budget: int = typer.Option(..., help="Queries per run."),
              seeds: int = typer.Option(3, help="Seeds per strategy (per landscape with --family)."),
              family: Optional[str] = typer.Option(None, help="Landscape family instead of --model: realistic | boxes."),
              landscapes: int = typer.Option(10, help="Landscapes of --family (seeds from --first-landscape)."),
              first_landscape: int = typer.Option(0, help="Seed of the first landscape."),
              agents: int = typer.Option(4, help="Agents (poseexaminer, marl)."),
              policy: Optional[str] = typer.Option(None, help="marl: a policy from examiner pretrain (default: "
                                                              "the shipped assets/policies/marl.zip)."),
              strategies: str = typer.Option("random,cmaes,poseexaminer,lse,marl",
                                            help="Comma list (marl brings its ablation: marl-untrained, "
                                                 "marl-frozen, lse)."),
              out: str = typer.Option("out/benchmark", help="Output folder (one sub-folder per run)."),):
    """Every strategy on one model (or on a family of planted landscapes), space, budget and
    seeds: regions found, efficiency and, against planted modes, one-to-one recall, precision,
    box IoU on the mode's dims, spurious dims and the anytime curve (mean and sd)."""
    from rich.table import Table

    from examiner.benchmark_report import paired_sentences, plus_minus
    from examiner.search.benchmark import benchmark as run
    from synthgen.errors import ParamError

    if (model is None) == (family is None):
        raise ParamError("--model", "give either --model or --family")
    if landscapes < 1:
        raise ParamError("--landscapes", f"must be at least 1, got {landscapes}")
    names = with_ablation(tuple(s.strip() for s in strategies.split(",") if s.strip()))
    with console.status("benchmarking...") as status:
        doc = run(model, space, budget, seeds, out, agents, names,
                  progress=lambda s, k: status.update(f"benchmarking: {s}, seed {k}"), family=family,
                  landscapes=landscapes, first_landscape=first_landscape, policy=policy)
    planted = doc["planted_regions"] is not None
    cols = ["strategy", "runs", "regions", "first region at"] + (
        ["recall", "precision", "IoU (mode dims)", "spurious dims", "bounded dims"] if planted else [])
    what = model or f"{landscapes} {family} landscapes (seeds {first_landscape}..{first_landscape + landscapes - 1})"
    table = Table(*cols, title=f"{what} on {space}: budget {budget}, {seeds} seed(s) each"
                  + (f", {doc['planted_regions']:.1f} planted modes" if planted else ""))
    for s in doc["summary"]:
        first = "-" if s["first_region_at"] is None else f"{s['first_region_at']:.0f}"
        row = [s["strategy"], str(s["runs"]), f"{s['regions']:.2f} ± {s['regions_sd']:.2f}", first]
        if planted:
            row += [plus_minus(s, m) for m in ("recall", "precision", "iou", "spurious_dims", "restricted_dims")]
        table.add_row(*row)
    console.print(table)
    if planted:
        curve = Table("strategy", *[f"{q}" for q, _ in doc["summary"][0]["curve"]], title="recall vs queries (mean)")
        for s in doc["summary"]:
            curve.add_row(s["strategy"], *[f"{v:.2f}" for _, v in s["curve"]])
        console.print(curve, *paired_sentences(doc), sep="\n")
    console.print(f"wrote {out}/benchmark.json")


@app.command("map")
def map_(model: str = typer.Option(..., help=MODEL_HELP),
         space: str = typer.Option(..., help="Search space YAML."),
         n: int = typer.Option(1500, "-n", help="Uniform queries."),
         out: str = typer.Option(..., help="Output folder: failures.json (with 'sensitivity'), queries.jsonl."),
         seed: int = typer.Option(0, help="Seed."),
         threshold: float = typer.Option(0.5, help="Failure rate whose lower 90% bound a mode must clear."),
         method: str = typer.Option("greedy", help="How modes are proposed: greedy (one dim at a time) | prim."),
         resume: bool = typer.Option(False, "--resume", help="Continue an interrupted map in --out."),
         workers: int = typer.Option(1, help=WORKERS_HELP),
         ray: Optional[str] = typer.Option(None, "--ray", help=RAY_HELP)):
    """Uniform samples of the space: which dims matter most, and the failure modes in the fewest
    factors (proposed on half the samples, checked and measured on the other half)."""
    from examiner.map import run_map

    progress = SearchProgress(n, "mapping")
    with progress.bar:
        result = run_map(model, space, n, out, seed, threshold, resume, progress, method=method, workers=workers,
                         ray_address=ray)
    print_sensitivity(result)
    print_modes(result, f"{len(result['regions'])} failure modes (proposed on half the queries, measured on the other)")
    print_derived_modes(result)
    console.print(f"wrote {out}/failures.json (examiner report {out} draws it)")


@app.command()
def landscape(space: str = typer.Option(..., help="Search space YAML the landscape is drawn over."),
              seed: int = typer.Option(..., help="Landscape seed (the same seed and space give the same file)."),
              out: str = typer.Option(..., help="Planted model file to write (planted:OUT loads it)."),
              family: str = typer.Option("realistic", help="realistic | boxes."),
              modes: Optional[int] = typer.Option(None, help="boxes: number of boxes (6)."),
              dims: Optional[int] = typer.Option(None, help="boxes: dims each box bounds (3)."),
              width: Optional[float] = typer.Option(None, help="boxes: share of each bounded dim's range (0.35).")):
    """Draw a planted failure landscape of a family over a search space."""
    from examiner.landscape import landscape as draw, write_landscape
    from examiner.search_space import SearchSpace

    options = {k: v for k, v in (("modes", modes), ("dims_per_mode", dims), ("width", width)) if v is not None}
    doc = draw(SearchSpace.from_yaml(space).space, family, seed, **options)
    path = write_landscape(doc, out, f"examiner landscape --family {family} --space {space} --seed {seed}")
    console.print(f"wrote {path}: {len(doc['regions'])} planted modes ({doc['description']})")


@app.command()
def report(folder: str = typer.Argument(..., help="A search's --out folder (or a benchmark folder)."),
           examples: int = typer.Option(4, help="Example images per region.")):
    """Turn failures.json into report.html (self-contained) and report.md; for a benchmark
    folder, every run's report and a top page that compares the strategies."""
    from examiner.benchmark_report import write_benchmark_report
    from examiner.report import write_report

    bench = (Path(folder) / "benchmark.json").is_file() and not (Path(folder) / "failures.json").is_file()
    with console.status("rendering examples and plots..."):
        html, md = write_benchmark_report(folder) if bench else write_report(folder, examples)
    console.print(f"wrote {Path(html).resolve()}\nwrote {Path(md).resolve()}")


@app.command()
def compare(a: str = typer.Argument(..., help="First search folder."),
            b: str = typer.Argument(..., help="Second search folder (another model, or after fine-tuning)."),
            out: str = typer.Option("out/compare.html", help="Page to write.")):
    """Two searches side by side."""
    from examiner.report import compare as run

    console.print(f"wrote {Path(run(a, b, out)).resolve()}")


@app.command()
def demo(out: str = typer.Option("out/examiner_demo", help="Output folder."),
         quick: bool = typer.Option(False, "--quick", help="A smaller budget (for CI)."),
         budget: Optional[int] = typer.Option(None, help="Queries (default 400, or 160 with --quick)."),
         model: str = typer.Option("mediapipe", help=MODEL_HELP)):
    """A small search against BlazePose (lse, the default strategy), then its report."""
    from examiner.demo import run_demo

    n = budget or (160 if quick else 400)
    progress = SearchProgress(n, f"searching {model} for failures")
    with progress.bar:
        result, html = run_demo(out, n, model=model, progress=progress)
    print_modes(result, f"{len(result['regions'])} failure modes of {model} ({result['queries_used']} queries, "
                         f"{result['seconds']:.0f} s)")
    console.print(f"[bold green]report:[/] {Path(html).resolve()}")


@app.command()
def finetune(model: str = typer.Option(..., help="Model to fine-tune: torch:CHECKPOINT (the baseline) or "
                                                 "python:module:name (your model with predict and train_step)."),
             regions: str = typer.Option(..., help="failures.json of a search on that model."),
             scene: str = typer.Option("scenes/studio.yaml", help="Default scene: the model's usual data (replayed "
                                                                   "with --replay fresh, and measured for forgetting)."),
             out: str = typer.Option(..., help="Output folder."),
             mix: float = typer.Option(0.15, help="Share of failure-mode samples in every batch."),
             space_mix: float = typer.Option(0.15, help="Share of samples of the whole search space in every batch."),
             steps: int = typer.Option(2000, help="Fine-tuning steps (too few leave --scene worse than before)."),
             n: int = typer.Option(4000, "-n", help="Training samples rendered: --mix of them in the modes, "
                                                  "--space-mix in the space (--replay fresh: the rest, --scene)."),
             replay: str = typer.Option("auto", help="Replay of the original training data: baseline (the "
                                                     "checkpoint's own training folders) | fresh (new renders of "
                                                     "--scene) | auto (baseline when its folders are on disk)."),
             lr: float = typer.Option(5e-4, help="Peak learning rate (warm-up, cosine decay)."),
             encoder_lr_scale: float = typer.Option(1.0, help="The encoder learns at this times --lr."),
             anchor_weight: float = typer.Option(0.0, help="L2 pull towards the starting weights (L2-SP)."),
             freeze_norm_stats: bool = typer.Option(False, "--freeze-norm-stats/--update-norm-stats",
                                                    help="Keep the starting model's batch-norm statistics."),
             early_stop: bool = typer.Option(False, "--early-stop/--no-early-stop",
                                             help="Go back to the validated step with the lowest error in the modes "
                                                  "among those within --val-tolerance on the default scene."),
             interpolate: bool = typer.Option(False, "--interpolate/--no-interpolate",
                                              help="Keep the validated blend (0, 0.1, .., 1 of the way from the "
                                                   "starting weights) as --early-stop keeps a step."),
             val: int = typer.Option(0, help="Validation images per set (for --early-stop, --interpolate)."),
             val_every: int = typer.Option(50, help="Steps between validations."),
             val_tolerance: float = typer.Option(0.02, help="Relative rise of the default scene's validation error "
                                                            "that a kept step or blend may have."),
             batch_size: int = typer.Option(32, help="Images per step."),
             heldout: int = typer.Option(500, help="Held-out images per set (modes, scene)."),
             heldout_seed: int = typer.Option(0, help="Seed of the held-out and validation sets."),
             search_budget: Optional[int] = typer.Option(None, help="Also search the fine-tuned model with this budget "
                                                         "(default: the original search's)."),
             no_search: bool = typer.Option(False, "--no-search", help="Skip the fresh search."),
             workers: int = typer.Option(2, help="Rendering workers."),
             seed: int = typer.Option(0, help="Training seed (training sets, batch order, augmentation).")):
    """Fine-tune a model on a search's failure modes with replay; measure before and after on
    held-out sets, with 95% intervals, and search the fine-tuned model again."""
    from examiner.finetune import FinetuneConfig, finetune as run, markdown
    from examiner.models.trainable import FinetuneSettings

    budget = None
    if not no_search:
        known = json.loads(Path(regions).read_text()).get("budget") if Path(regions).is_file() else None
        budget = search_budget or known
    settings = FinetuneSettings(lr=lr, steps=steps, seed=seed, encoder_lr_scale=encoder_lr_scale,
                                anchor_weight=anchor_weight, freeze_norm_stats=freeze_norm_stats)
    config = FinetuneConfig(mix=mix, space_mix=space_mix, n_train=n, replay=replay, batch_size=batch_size,
                            early_stop=early_stop, interpolate=interpolate, val_every=val_every,
                            val_tolerance=val_tolerance, settings=settings)
    result = run(model, regions, scene, out, config, heldout=heldout, val=val, heldout_seed=heldout_seed,
                 workers=workers, search_budget=budget, log=lambda m: console.print(m, highlight=False, markup=False))
    failures = json.loads(Path(regions).read_text())
    console.print(markdown({**result, "warnings": []}, failures), highlight=False, markup=False)
    for line in result["warnings"]:
        console.print(line, style="bold yellow", highlight=False, markup=False)
    written = f", {result['finetuned']}" if result["finetuned"] else " (the model has no save(): no checkpoint)"
    console.print(f"wrote {out}/finetune.json, {out}/finetune.md{written}")


@app.command("eval")
def eval_(model: str = typer.Option(..., help=MODEL_HELP),
          scene: str = typer.Option(..., help="Scene YAML the samples are drawn from (scenes/studio.yaml, ...)."),
          n: int = typer.Option(200, "-n", help="Samples (sample i depends only on the seed and i)."),
          seed: int = typer.Option(0, help="Seed."),
          out: str = typer.Option("out/eval", help="Output folder: eval.json, samples.jsonl, worst.png."),
          worst: int = typer.Option(8, help="Worst examples in the montage (0: none)."),
          size: Optional[int] = typer.Option(None, help="Image side in pixels (default: the scene's)."),
          workers: int = typer.Option(1, help=WORKERS_HELP),
          ray: Optional[str] = typer.Option(None, "--ray", help=RAY_HELP)):
    """A model on a scene's distribution: detection, failures, OKS, PCK, per-joint errors, worst examples."""
    from examiner.scene_eval import eval_command

    eval_command(console, model, scene, n, out, seed, worst, size, workers, ray)


def _register() -> None:
    from examiner.cli_pretrain import pretrain

    app.command()(pretrain)


_register()


def main() -> None:
    from synthgen.errors import run_cli
    from synthgen.workers import optional_ray_address

    run_cli(app, optional_ray_address(sys.argv[1:]))


if __name__ == "__main__":
    main()
