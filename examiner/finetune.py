"""``examiner finetune``: close the loop. Render training samples inside the failure modes a
search found, fine-tune the model on batches that mix them with replay of its original training
distribution, and measure on held-out images that no training set can hold: the failure rate
over each mode's whole extent and the error on the default scene, before and after, with 95%
intervals, and the failure rate over the whole search space (what fixing the modes may break
elsewhere in it); optionally search the fine-tuned model again with the same budget and seed.

Sets. A mode's samples come from the search space as a scene (``SearchSpace.scene_dict``):
the mode's restricted dims uniform inside its bounds, every other searched dim uniform over its
range, everything else as the queries had it, so the held-out failure rate is the mode's over
its whole extent, not where the search happened to sample. Search-space samples
(``space_mix`` of every batch, and a held-out set) have every searched dim uniform over its
range: with them the model also sees, outside the modes, whatever the space holds fixed (a
garment, a background), so that cannot become a cue for the modes' views. The default-scene
sets come from ``scene``. Training sets take seeds ``seed * 10 + k``, held-out and validation sets
``heldout_seed * 10 + k`` (one held-out set for every training seed); before anything renders,
every held-out and validation set is checked, by sample identity (scene file hash, seed,
index), against all the model was trained on (its checkpoint's record) and this run's training
sets.

Replay. ``baseline`` replays the model's own training folders (named in its checkpoint);
``fresh`` renders ``(1 - mix - space_mix) * n_train`` new samples of ``scene``; ``auto`` takes the first
when those folders are on disk."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from examiner.dataset_eval import score_folder
from examiner.finetune_loop import MixedBatches, choose_interpolation, run_training
from examiner.finetune_report import compare, table_markdown, warnings
from examiner.metrics import FailureRule
from examiner.models import load_trainable
from examiner.models.trainable import FinetuneSettings, record_training, restore, snapshot, trained_ranges
from synthgen.dataset.files import json_bytes, write_atomic
from synthgen.dataset.identity import SampleRange, first_overlap
from synthgen.errors import ParamError

#: dataset seed offsets: training sets at seed * 10 + k, held-out and validation at heldout_seed * 10 + k
TRAIN_SETS = {"regions_train": 1, "default_train": 2, "space_train": 7}
EVAL_SETS = {"regions_heldout": 3, "default_heldout": 4, "regions_val": 5, "default_val": 6, "space_heldout": 8}
REPLAYS = ("auto", "baseline", "fresh")


@dataclass(frozen=True)
class FinetuneConfig:
    """What one fine-tuning run does; each field is an option of ``examiner finetune``."""

    mix: float = 0.15  # share of failure-mode samples in every batch
    space_mix: float = 0.15  # share of samples from the whole search space (modes or not) in every batch
    n_train: int = 4000  # samples rendered: mix of them in the modes, space_mix in the space (replay fresh: the rest)
    replay: str = "auto"  # auto | baseline | fresh (module docstring)
    batch_size: int = 32
    early_stop: bool = False  # go back to the best validated step (see ``finetune``'s validate)
    interpolate: bool = False  # keep the best validated blend of the starting and the last step's weights
    val_every: int = 50  # steps between validations (when validation sets are rendered)
    val_tolerance: float = 0.02  # relative rise of the default scene's validation error a kept step or blend may have
    settings: FinetuneSettings = field(default_factory=FinetuneSettings)

    def check(self) -> "FinetuneConfig":
        if not 0.0 < self.mix <= 1.0:
            raise ParamError("--mix", f"share of failure-mode samples per batch, in (0, 1], got {self.mix}")
        if not 0.0 <= self.space_mix <= 1.0 - self.mix:
            raise ParamError("--space-mix", f"share of search-space samples per batch, in [0, 1 - --mix], "
                                            f"got {self.space_mix}")
        if self.replay not in REPLAYS:
            raise ParamError("--replay", f"expected one of {', '.join(REPLAYS)}, got {self.replay!r}")
        for name, value in (("-n", self.n_train), ("--batch-size", self.batch_size), ("--val-every", self.val_every)):
            if value < 1:
                raise ParamError(name, f"must be at least 1, got {value}")
        if self.early_stop and self.interpolate:
            raise ParamError("--interpolate", "choose one of --early-stop and --interpolate")
        if not self.val_tolerance >= 0:
            raise ParamError("--val-tolerance", f"must be at least 0, got {self.val_tolerance}")
        self.settings.check()
        return self

    def to_dict(self) -> dict:
        return asdict(self)


def finetune(model: str, regions: str | Path, scene: str | Path, out: str | Path,
             config: FinetuneConfig = FinetuneConfig(), heldout: int = 500, val: int = 0, heldout_seed: int = 0,
             workers: int = 2, size: int | None = None, data: str | Path | None = None,
             search_budget: int | None = None, search_workers: int = 1, log=print) -> dict:
    """One fine-tuning run of ``model`` (``torch:CKPT`` or ``python:module:name``); see the module
    docstring. ``val`` > 0 renders validation sets of that size (needed by early stopping).
    ``data`` (default OUT/data) holds the rendered sets, one folder per (set, seed, samples); runs
    that share it reuse the sets they have in common."""
    config.check()
    seed = config.settings.seed
    for name, value, low in (("--heldout", heldout, 2), ("--val", val, 0), ("--heldout-seed", heldout_seed, 0),
                             ("--workers", workers, 1)):
        if value < low:
            raise ParamError(name, f"must be at least {low}, got {value}")
    for option, asked in (("--early-stop", config.early_stop), ("--interpolate", config.interpolate)):
        if asked and not val:
            raise ParamError(option, "needs validation sets (--val > 0)")
    regions, out, scene = Path(regions), Path(out), Path(scene)
    failures, search = _load_failures(regions)
    if not scene.is_file():
        raise ParamError("--scene", f"no such file: {scene}")
    mut = load_trainable(model)
    data = Path(data) if data else out / "data"
    t0 = time.perf_counter()
    modes_scene = _write_scene(data / "modes_scene.yaml", search.scene_dict())
    replay = _replay_folders(mut, config.replay)
    n_modes = max(1, round(config.mix * config.n_train))
    n_space = round(config.space_mix * config.n_train)
    plan = {"regions_train": (modes_scene, seed * 10 + 1, n_modes)}
    if n_space:
        plan["space_train"] = (modes_scene, seed * 10 + 7, n_space)
    if replay is None:
        plan["default_train"] = (scene, seed * 10 + 2, max(1, config.n_train - n_modes - n_space))
    plan |= {"regions_heldout": (modes_scene, heldout_seed * 10 + 3, heldout),
             "default_heldout": (scene, heldout_seed * 10 + 4, heldout),
             "space_heldout": (modes_scene, heldout_seed * 10 + 8, heldout)}
    if val:
        plan |= {"regions_val": (modes_scene, heldout_seed * 10 + 5, val),
                 "default_val": (scene, heldout_seed * 10 + 6, val)}
    earlier = trained_ranges(mut)
    this_run = [SampleRange.planned(s, sd, n, f"fine-tuning set {k} ({s})") for k, (s, sd, n) in plan.items()
                if k in TRAIN_SETS]
    _check_heldout(plan, (earlier or []) + this_run)
    if earlier is None:
        log(f"warning: {mut.name} does not say what it was trained on (no trained_on): its held-out sets are "
            "checked against this run's training sets only")
    from synthgen.dataset.generate import generate

    sets = {}
    for name, (path, set_seed, n) in plan.items():
        log(f"rendering {name}: {n} samples (seed {set_seed})")
        folder = data / f"{name}_seed{set_seed}_n{n}"  # runs that share ``data`` share equal sets only
        generate(path, n, folder, seed=set_seed, workers=workers, size=size, formats="coco", shard_size=32,
                 regions=regions if name.startswith("regions") else None)
        sets[name] = folder
    rules = {name: search.rule if name.startswith(("regions", "space")) else FailureRule() for name in sets}
    evals = ("regions_heldout", "default_heldout", "space_heldout")
    before = {k: score_folder(mut, sets[k], rules[k]) for k in evals}

    start: list[float] = []

    def validate(m) -> dict:
        """Mean 1 - OKS on each validation set. Early stopping (interpolation) lowers the modes'
        error among the steps (blends) whose default-scene error stays within ``val_tolerance``
        of the starting model's (step 0, validated first, always does); one beyond it ranks below
        them all."""
        scores = {k: score_folder(m, sets[k], rules[k]).summary()["error"] for k in ("regions_val", "default_val")}
        if not start:
            start.append(scores["default_val"])
        within = scores["default_val"] <= (1 + config.val_tolerance) * start[0]
        return {**scores, "val_error": scores["regions_val"] if within else 1.0 + scores["default_val"]}

    replay_folders = replay if replay is not None else [sets["default_train"]]
    batches = MixedBatches([sets["regions_train"]], replay_folders, config.mix, config.batch_size, seed,
                           [sets["space_train"]] if n_space else [], config.space_mix)
    source = "the model's own training data" if replay is not None else "fresh renders"
    log(f"fine-tuning {config.settings.steps} steps of {batches.counts[0]} mode + {batches.counts[2]} search-space + "
        f"{batches.counts[1]} replay samples (replay: {source})")
    start_weights = snapshot(mut, "--interpolate") if config.interpolate else None
    training, best = run_training(mut, batches, config.settings, validate if val else None, config.val_every,
                                  config.early_stop, log)
    if config.interpolate:
        alpha, best, history = choose_interpolation(mut, start_weights, validate, log=log,
                                                    start_score=training["validation"][0])
        training["interpolation"] = {"alpha": alpha, "validation": history}
    record_training(mut, (earlier or []) + [r for r in this_run if r not in (earlier or [])])
    savable = callable(getattr(mut, "save", None))
    last = last_ckpt = None
    if best is not None:  # the last step is measured (and kept) too: what early stopping or interpolation changed
        last = {k: score_folder(mut, sets[k], rules[k]) for k in evals}
        last_ckpt = mut.save(out / "finetuned_last_step.pt") if savable else None
        restore(mut, best)
    ckpt = mut.save(out / "finetuned.pt") if savable else None
    after = {k: score_folder(mut, sets[k], rules[k]) for k in evals}
    comparison = compare(before, [after], seed=0)
    result = {
        "model": model, "finetuned": None if ckpt is None else str(ckpt), "regions_file": str(regions),
        "space": failures["space"], "scene": str(scene), "config": config.to_dict(), "seed": seed,
        "heldout_seed": heldout_seed,
        "datasets": {k: {"folder": str(sets[k]), "scene": str(plan[k][0]), "seed": plan[k][1], "samples": plan[k][2]}
                     for k in plan},
        "replay": {"kind": "baseline" if replay is not None else "fresh",
                   "folders": [str(f) for f in replay_folders]},
        "training": training, "comparison": comparison, "warnings": warnings(comparison),
        "scores": {"before": {k: v.to_dict() for k, v in before.items()},
                   "after": {k: v.to_dict() for k, v in after.items()}},
    }
    if last is not None:
        result["finetuned_last_step"] = None if last_ckpt is None else str(last_ckpt)
        result["comparison_last_step"] = compare(before, [last], seed=0)
        result["scores"]["last_step"] = {k: v.to_dict() for k, v in last.items()}
    if search_budget:
        result["search"] = fresh_search(mut, model if ckpt is None else f"torch:{ckpt}", regions, failures,
                                        search_budget, out / "search_after", search_workers, log)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "finetune.json", json_bytes(result))
    write_atomic(out / "finetune.md", markdown(result, failures).encode())
    return result


def markdown(result: dict, failures: dict) -> str:
    search = None
    if "search" in result:
        search = {**result["search"], "regions_after": [result["search"]["regions_after"]]}
    text = table_markdown(result["comparison"], 1, failures["regions"], failures.get("searched_dims"), search)
    training = result["training"]
    kept = None
    if "stopped_at" in training:
        kept = f"early stopping kept step {training['stopped_at']} of {training['steps']}"
    elif "interpolation" in training:
        kept = (f"weight interpolation kept the weights {training['interpolation']['alpha']:.1f} of the way from the "
                "starting model to the last step")
    if kept:
        last = result["comparison_last_step"]
        text += (f"\n{kept}; at the last step the "
                 f"failure rate inside the modes was {last['modes_failure_rate']['after'][0]:.3f} and the default "
                 f"scene error {last['default_error']['after'][0]:.4f}\n")
    return text + "".join(f"\n{w}\n" for w in result["warnings"])


def fresh_search(model_obj, spec: str, regions: Path, failures: dict, budget: int, out: Path, workers: int = 1,
                 log=print) -> dict:
    """Search (or map) the fine-tuned model as the first search did (space, strategy, seed,
    mode test, budget); returns the modes found before and after."""
    from examiner.report import compare as compare_runs, write_report
    from examiner.search.context import Validation

    log(f"fresh {failures['strategy']} of the fine-tuned model ({budget} queries)")
    if out.exists():  # an earlier run's search of another fine-tuned model: never resumed
        shutil.rmtree(out)
    validation = failures.get("validation", {})
    if failures["strategy"] == "map":
        from examiner.map import run_map

        found = run_map(spec, failures["space"], budget, out, failures["seed"], validation.get("threshold", 0.5),
                        model_obj=model_obj, method=failures.get("method", "greedy"), workers=workers)
    else:
        from examiner.search.run import run_search

        found = run_search(spec, failures["space"], failures["strategy"], budget, out, failures.get("agents", 4),
                           failures["seed"], tensorboard=False, validation=Validation(**validation),
                           model_obj=model_obj, workers=workers)
    write_report(out)
    page = compare_runs(regions.parent, out, out.parent / "compare.html")
    return {"regions_before": len(failures["regions"]), "regions_after": len(found["regions"]), "budget": budget,
            "folder": str(out), "compare": str(page)}


def _load_failures(regions: Path):
    from examiner.search_space import SearchSpace

    if not regions.is_file():
        raise ParamError("--regions", f"no such file: {regions}")
    try:
        failures = json.loads(regions.read_text())
    except ValueError as e:
        raise ParamError("--regions", f"{regions} is not JSON ({e})") from None
    if not isinstance(failures, dict) or not failures.get("regions"):
        raise ParamError("--regions", f"{regions} holds no regions to fine-tune on")
    if not failures.get("space") or not Path(failures["space"]).is_file():
        raise ParamError("--regions", f"{regions}: its search space {failures.get('space')!r} is not a file here")
    return failures, SearchSpace.from_yaml(failures["space"])


def _write_scene(path: Path, scene: dict) -> Path:
    """The modes' scene file; rewritten only when its content changes (its hash is the sets' identity)."""
    text = yaml.safe_dump(scene, sort_keys=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text() != text:
        write_atomic(path, text.encode())
    return path


def _replay_folders(model, replay: str) -> list[Path] | None:
    """The model's own training folders for replay, or None for fresh renders."""
    if replay == "fresh":
        return None
    summary = getattr(model, "summary", None)
    folders = [Path(f) for f in ((summary or {}).get("train") or {}).get("datasets", [])]
    usable = bool(folders) and all((f / "coco.json").is_file() for f in folders)
    if replay == "baseline" and not usable:
        missing = ", ".join(str(f) for f in folders) or "none named"
        raise ParamError("--replay", f"{model.name}: its training folders are not on disk ({missing}); "
                                     "use --replay fresh")
    return folders if usable else None


def _check_heldout(plan: dict, trained: list[SampleRange]) -> None:
    """Refuse held-out or validation sets that share a sample with any training set (the
    offsets of TRAIN_SETS and EVAL_SETS keep this run's own sets apart)."""
    evals = [SampleRange.planned(s, sd, n, f"the {k} set") for k, (s, sd, n) in plan.items() if k in EVAL_SETS]
    clash = first_overlap(trained, evals)
    if clash:
        held, train = clash
        raise ParamError("--heldout-seed", f"{held.describe()} would share samples with {train.describe()}, which "
                                           "the model is trained on; choose another --heldout-seed")
