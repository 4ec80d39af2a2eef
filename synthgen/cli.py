"""``synthgen`` command line. Errors a user can fix print one line and exit with code 2."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from synthgen.errors import SynthgenError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Controllable synthetic humans.")
pose_app = typer.Typer(no_args_is_help=True, help="The pose library, pose imports, plausibility.")
space_app = typer.Typer(no_args_is_help=True, help="Parameter spaces (YAML).")
app.add_typer(pose_app, name="pose")
app.add_typer(space_app, name="space")
console = Console()

BACKEND = typer.Option("anny", "--backend", help="Body model: anny (default), smpl or smplx.")
BODY_MODELS = typer.Option(None, "--body-models", help="SMPL/SMPL-X model file or folder "
                           "(default: $SYNTHGEN_BODY_MODELS).")


def _params_from(pose: Optional[str], params: Optional[str]) -> dict:
    from synthgen.body.pose_library import get_pose

    out = get_pose(pose) if pose else {}
    if params:
        text = Path(params).read_text() if os.path.isfile(params) else params
        try:
            extra = json.loads(text)
        except json.JSONDecodeError as e:
            raise SynthgenError(f"--params: not valid JSON ({e.msg} at column {e.colno})") from e
        if not isinstance(extra, dict):
            raise SynthgenError("--params: expected a JSON object of parameter name -> value")
        out |= extra
    return out


@app.command()
def demo(out: Path = typer.Option(Path("out/demo"), help="Folder for the demo picture."),
         backend: str = BACKEND, body_models: Optional[str] = BODY_MODELS):
    """Pose the whole pose library on the body and write a picture of it."""
    from synthgen.demo import pose_library_grid

    from synthgen.demo import studio_montage

    with console.status("posing and rendering the pose library..."):
        path = pose_library_grid(out / f"pose_library_{backend}.png", backend, body_models)
    console.print(f"[bold green]wrote[/] {path.resolve()}  (the pose library on the {backend} body)")
    with console.status("rendering labelled studio samples..."):
        path = studio_montage(out / "studio_samples.png", backend, body_models)
    console.print(f"[bold green]wrote[/] {path.resolve()}  (RGB | parts | IUV | depth | keypoints, 3 samples)")


@app.command()
def wardrobe(out: Path = typer.Option(Path("out/wardrobe.png"), help="Picture to write.")):
    """Every garment class at two styles on three bodies in three poses."""
    from synthgen.demo import wardrobe_montage

    with console.status("dressing and rendering..."):
        path = wardrobe_montage(out)
    console.print(f"wrote {path.resolve()}")


@app.command()
def render(scene: Path = typer.Option(..., help="Scene YAML (e.g. scenes/studio.yaml)."),
           seed: int = typer.Option(0, help="Sample seed: the same seed gives the same sample."),
           out: Path = typer.Option(Path("out/render"), help="Output folder."),
           size: Optional[int] = typer.Option(None, help="Square image size in pixels (default: the scene's).")):
    """Render one labelled sample: image, labels, camera and a montage to look at."""
    from synthgen.montage import sample_montage
    from synthgen.render.renderer import Renderer
    from synthgen.scene import SceneConfig

    config = SceneConfig.from_yaml(scene, size)
    sample = Renderer(config).render(config.space.sample(seed), seed)
    stem = f"sample_{seed:06d}"
    files = sample.save(out, stem)
    montage = sample_montage(sample, out / f"{stem}_montage.png")
    for f in files + [montage]:
        console.print(f"wrote {f}")


@app.command()
def preview(scene: Path = typer.Option(..., help="Scene YAML."),
            n: int = typer.Option(10, "-n", min=1, max=200, help="How many samples."),
            seed: int = typer.Option(0, help="First sample seed."),
            out: Path = typer.Option(Path("out/preview.png"), help="Grid picture to write."),
            size: Optional[int] = typer.Option(None, help="Square image size in pixels.")):
    """A grid of random samples from a scene, with their keypoints."""
    from synthgen.montage import draw_keypoints, grid
    from synthgen.render.renderer import Renderer
    from synthgen.scene import SceneConfig

    config = SceneConfig.from_yaml(scene, size)
    renderer = Renderer(config)
    images, labels = [], []
    for s in range(seed, seed + n):
        sample = renderer.render(config.space.sample(s), s)
        images.append(draw_keypoints(sample.image, sample.keypoints2d, sample.visibility))
        labels.append(f"seed {s}: {sample.params.get('pose.preset', '')}")
    console.print(f"wrote {grid(images, labels, out)}")


class _Progress:
    """A rich progress bar with rate and ETA for generate()."""

    def __init__(self):
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self.bar = Progress(TextColumn("[bold]generating"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
                            TimeRemainingColumn(), console=console)
        self.task = None

    def start(self, total: int, done: int) -> None:
        self.task = self.bar.add_task("samples", total=total, completed=done, rate="")

    def advance(self, k: int) -> None:
        self.bar.advance(self.task, k)
        speed = self.bar.tasks[0].speed
        self.bar.update(self.task, rate=f"{speed:.1f} samples/s" if speed else "")


@app.command()
def generate(scene: Path = typer.Option(..., help="Scene YAML (scenes/studio.yaml, outdoor, occlusion, extreme, full)."),
             n: int = typer.Option(..., "-n", help="Number of samples."),
             out: Path = typer.Option(..., help="Dataset folder (rerun the same command to resume it)."),
             seed: int = typer.Option(0, help="Run seed: sample i depends only on (seed, i)."),
             workers: int = typer.Option(1, help="Local worker processes (or Ray CPUs with a local --ray)."),
             ray: Optional[str] = typer.Option(None, "--ray", help="Render on Ray: alone, a local Ray instance; "
                                               "with ADDRESS, join that cluster."),
             size: Optional[int] = typer.Option(None, help="Square image size in pixels (default: the scene's)."),
             format: str = typer.Option("coco,densepose,dense", "--format",
                                        help="Comma list of coco, densepose, dense, webdataset."),
             shard_size: int = typer.Option(64, help="Samples per shard (the unit of resume)."),
             dp_points: int = typer.Option(100, help="DensePose points sampled per person."),
             from_regions: Optional[Path] = typer.Option(None, "--from-regions",
                                                        help="An examiner failures.json: draw samples inside its "
                                                        "regions (other params from the scene)."),
             derived: bool = typer.Option(False, "--derived", help="Draw inside the --from-regions map's modes in "
                                          "derived factors (what the image shows), redrawing until the image "
                                          "shows the mode.")):
    """Render a sharded, resumable, deterministic dataset in COCO / DensePose-COCO formats."""
    from synthgen.dataset.generate import generate as run

    progress = _Progress()
    with progress.bar:
        summary = run(scene, n, out, seed, workers, ray, size, format, shard_size, dp_points, progress, from_regions,
                      derived)
    table = Table(title=f"dataset {summary.out}", show_header=False)
    table.add_row("samples", str(summary.n))
    table.add_row("shards", f"{summary.shards} ({summary.kept} kept from an earlier run)")
    table.add_row("annotations", str(summary.annotations))
    table.add_row("rendered now", f"{summary.rendered} in {summary.seconds:.1f} s "
                  f"({summary.rate:.2f} samples/s, {summary.backend})")
    if summary.probe:
        table.add_row("acceptance (probe)", ", ".join(f"mode {k}: {a}/{d}" for k, (a, d) in summary.probe.items()))
    if summary.acceptance is not None:
        table.add_row("acceptance", f"{100 * summary.acceptance:.1f}% ({summary.rendered} of {summary.draws} draws)")
    table.add_row("formats", format)
    table.add_row("COCO file", str(summary.out / "coco.json") if (summary.out / "coco.json").exists() else "-")
    console.print(table)


@app.command()
def verify(folder: Path = typer.Argument(..., help="A dataset folder written by synthgen generate.")):
    """Re-check a dataset: manifest, checksums, counts, well-formed images and annotations."""
    from synthgen.dataset.verify import verify as check

    with console.status("verifying..."):
        report = check(folder)
    for p in report.problems:
        console.print(f"[red]problem:[/] {p}", highlight=False)
    state = "[bold green]ok[/]" if report.ok else f"[bold red]{len(report.problems)} problem(s)[/]"
    console.print(f"{folder}: {report.shards} shards, {report.images} images, {report.annotations} annotations: {state}")
    raise typer.Exit(0 if report.ok else 1)


@pose_app.command("list")
def pose_list():
    """The named poses of the library."""
    from synthgen.body.pose_library import pose_library

    table = Table("pose", "description", "angles set")
    for p in pose_library().values():
        table.add_row(p.name, p.description, str(len(p.angles)))
    console.print(table)


@pose_app.command("check")
def pose_check(pose: Optional[str] = typer.Option(None, help="A library pose name."),
               params: Optional[str] = typer.Option(None, help="JSON object (or a .json file) of parameters."),
               backend: str = BACKEND, body_models: Optional[str] = BODY_MODELS):
    """Plausibility of a pose: joint limits and self-intersection."""
    from synthgen.body import get_body_model
    from synthgen.body.plausibility import plausibility
    from synthgen.catalog import lookup
    from synthgen.catalog import check_value

    p = _params_from(pose, params)
    for k, v in p.items():
        check_value(lookup(k), v, "--params", allow_beyond_limits=True)
    report = plausibility(p, get_body_model(backend, body_models))
    console.print_json(data=report.to_dict())
    raise typer.Exit(0 if report.plausible else 1)


@pose_app.command("import")
def pose_import(source: Path = typer.Argument(..., help="AMASS-style .npz or a .bvh file."),
                out: Path = typer.Option(..., help="Pose file to write (YAML, the library's format)."),
                stride: int = typer.Option(1, min=1, help="Keep every n-th frame.")):
    """Convert motion data into a pose file of named anatomical angles."""
    import yaml

    from synthgen.body.pose_sources import load_amass, load_bvh

    if not source.is_file():
        raise SynthgenError(f"{source}: no such file")
    if source.suffix.lower() == ".bvh":
        pose_set = load_bvh(source, stride)
    elif source.suffix.lower() == ".npz":
        pose_set = load_amass(source, stride)
    else:
        raise SynthgenError(f"{source}: expected a .npz (AMASS) or .bvh file")
    poses = {f"{source.stem}_{i:05d}": {"description": f"frame {i * stride} of {source.name}",
                                        "angles": {k: v for k, v in p.items() if v != 0.0}}
             for i, p in enumerate(pose_set.poses)}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(yaml.safe_dump({"poses": poses}, sort_keys=False))
    tmp.replace(out)
    clamped = sum(1 for c in pose_set.clamped if c)
    console.print(f"wrote {len(poses)} poses to {out} ({clamped} had angles clamped into joint limits)")


@space_app.command("check")
def space_check(file: Path = typer.Argument(..., help="A scene, parameter-space or search-space YAML file.")):
    """Validate a scene or search-space file (one vocabulary: a search space is a scene plus
    ``search:`` and ``failure:``, which ``examiner search`` reads) and list its dimensions."""
    from synthgen.catalog import Categorical
    from synthgen.scene import SceneConfig

    config = SceneConfig.from_yaml(file)
    space, searched, rule = config.space, None, None
    if config.extra:  # the examiner's sections: checked by the examiner's own reader
        from examiner.search_space import SearchSpace

        search = SearchSpace.from_yaml(file)
        searched, rule = set(search.names), search.rule
    title = f"{file}: {len(space)} dims, {len(space.fixed)} fixed"
    if searched is not None:
        title += f"; examiner searches {len(searched)} (the others held at their defaults)"
    table = Table("name", "range", "default", *(["searched"] if searched is not None else []), title=title)
    for d in space.dims:
        rng = ", ".join(map(str, d.choices)) if isinstance(d, Categorical) else f"{d.low:g} .. {d.high:g} {d.unit}"
        table.add_row(d.name, rng, str(d.default), *(["yes" if d.name in searched else ""] if searched else []))
    console.print(table)
    if rule is not None:
        console.print(f"failure: {rule.metric} below {rule.threshold:g}" + (" or no person found" if rule.on_miss else ""))


def main() -> None:
    from synthgen.errors import run_cli

    from synthgen.workers import optional_ray_address

    run_cli(app, optional_ray_address(sys.argv[1:]))


if __name__ == "__main__":
    main()
