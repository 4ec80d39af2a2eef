"""``examiner eval``: how a model does on a scene's distribution, one number per question - how
often it finds the person, how often it fails (the scene's ``failure:`` rule; by default OKS
below 0.5 or no person found), its mean OKS and PCK, the error of each joint - and its worst
examples drawn as a montage.

Sample i takes its parameters and its render seed (the scene's random layout: clutter, ground)
as sample i of ``synthgen generate --seed SEED`` does (the scene's own distributions: priors,
Anny's shape model, a pose set), so it depends only on (seed, i) and is the same image as that
dataset's sample i. The Evaluator renders it (in ``--workers`` processes, if asked), asks the
model in batches and scores it; a model that
raises or returns an invalid prediction on a sample is recorded there and counts as a miss.

Denominators: rates and "all" means are over the *graded* samples (rendered, with at least the
rule's ``min_keypoints`` keypoints labelled), a miss scoring 0; "detected" means are over the
samples where the model found the person, and pixel and 3D errors are measured only there."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from examiner.evaluate import Evaluator, Query
from examiner.metrics import FailureRule
from examiner.models import load_model
from examiner.query_pool import pool_for
from examiner.search.rates import wilson
from examiner.search_space import SearchSpace
from synthgen.body.skeleton import COCO_KEYPOINTS
from synthgen.catalog import lookup
from synthgen.dataset.files import write_atomic
from synthgen.errors import ParamError
from synthgen.space import ParamSpace

SUMMARY, SAMPLES, MONTAGE = "eval.json", "samples.jsonl", "worst.png"
WORST = 8
#: scores in [0, 1] (higher is better; a miss scores 0 in the mean over all graded samples)
SCORES = ("oks", "pck_bbox", "pck_torso")
#: errors measured on detections only (lower is better)
ERRORS = ("mean_error_px", "mpjpe_mm", "pa_mpjpe_mm")


def scene_spaces(scene: str | Path, size: int | None = None) -> tuple[ParamSpace, SearchSpace]:
    """(the scene's own space, which draws the samples; the evaluator's view of it, every dim
    searched). A search space file is a scene too: its ``search:`` list is ignored here, its
    ``failure:`` rule kept. A pose set may set pose dims the scene does not list, or set them
    past the scene's bounds: the evaluator takes those dims at their catalog limits, so that
    the drawn poses reach the renderer unchanged."""
    path = Path(scene)
    if not path.is_file():
        raise ParamError("--scene", f"no such file: {path}")
    search = SearchSpace.from_yaml(path, size)
    own = search.config.space
    space = own
    if own.pose_set:
        names = ({k for pose in own.pose_set.poses for k in pose} | {"pose.preset"}) - set(own.fixed)
        space = replace(own, dims=tuple(d for d in own.dims if d.name not in names)
                        + tuple(lookup(k) for k in sorted(names)))
    return own, SearchSpace.of(replace(search.config, space=space), space.names, search.rule)


def draw_params(space: ParamSpace, n: int, seed: int) -> tuple[list[dict], list[int]]:
    """Samples 0..n-1 of the space, each from its own generator of (seed, i), and their render
    seeds (both as ``synthgen generate --seed SEED`` draws them)."""
    from synthgen.dataset.shards import sample_seeds

    seeds = [sample_seeds(seed, i) for i in range(n)]
    return [space.sample(s[0]) for s in seeds], [int(s[1]) for s in seeds]


def rule_sentence(rule: FailureRule) -> str:
    """'OKS < 0.5 or no person found'."""
    what = {"oks": "OKS", "pck_bbox": f"PCK@{rule.alpha:g} (bbox)",
            "pck_torso": f"PCK@{rule.torso_alpha:g} (torso)"}[rule.metric]
    return f"{what} < {rule.threshold:g}" + (" or no person found" if rule.on_miss else "")


def _finite(values) -> list[float]:
    return [float(v) for v in values if v is not None and np.isfinite(v)]


def _stats(values: list[float]) -> dict:
    return {"mean": round(float(np.mean(values)), 4), "median": round(float(np.median(values)), 4)} if values else {}


def _rate(k: int, n: int) -> dict | None:
    if n == 0:
        return None
    lo, hi = wilson(k, n)
    return {"rate": round(k / n, 4), "count": k, "of": n, "interval95": [round(lo, 4), round(hi, 4)]}


def summarize(queries: list[Query], rule: FailureRule, keypoints: bool = True) -> dict:
    """Every number of the summary from the queries (one per sample). ``keypoints`` False: the
    model scores parameters directly (a landscape), so only the failure rate exists."""
    graded = [q for q in queries if q.graded]
    detected = [q for q in graded if q.metrics.get("detected")]
    out = {"samples": len(queries), "graded": len(graded),
           "status": {s: sum(q.status == s for q in queries) for s in dict.fromkeys(q.status for q in queries)},
           "failure_rule": asdict(rule) | {"says": rule_sentence(rule)},
           "failure_rate": _rate(sum(q.failed for q in graded), len(graded)),
           "detection_rate": _rate(len(detected), len(graded)) if keypoints else None,
           "metrics": {}, "per_joint": []}
    if not keypoints:
        return out
    for m in SCORES:
        on_detected = _finite(q.metrics.get(m) for q in detected)
        if on_detected:
            on_all = _finite(q.metrics.get(m) if q.metrics.get("detected") else 0.0 for q in graded)
            out["metrics"][m] = {"all": _stats(on_all)["mean"], "detected": _stats(on_detected)}
    for m in ERRORS:
        values = _finite(q.metrics.get(m) for q in detected)
        if values:
            out["metrics"][m] = {"detected": _stats(values)}
    if detected:
        errors = np.array([[np.nan if e is None else e for e in q.metrics["joint_errors_px"]] for q in detected])
        for j, name in enumerate(COCO_KEYPOINTS):
            col = errors[:, j][np.isfinite(errors[:, j])]
            row = {"joint": name, "labelled": int(len(col))}
            if len(col):
                row |= {"mean_px": round(float(col.mean()), 3), "median_px": round(float(np.median(col)), 3),
                        "p90_px": round(float(np.percentile(col, 90)), 3)}
            out["per_joint"].append(row)
    return out


def worst_queries(queries: list[Query], k: int) -> list[int]:
    """Indices of the k graded samples with the largest error (ties: the earlier sample)."""
    order = sorted((i for i, q in enumerate(queries) if q.graded), key=lambda i: (-queries[i].error, i))
    return order[:k]


def _caption(i: int, q: Query) -> str:
    if q.status != "ok":
        return f"#{i} {q.status.replace('_', ' ')}"
    if "detected" not in q.metrics:  # a model that scores parameters (a landscape)
        return f"#{i} error {q.error:.2f}"
    if not q.metrics["detected"]:
        return f"#{i} no person found"
    return f"#{i} OKS {q.metrics.get('oks', float('nan')):.2f}" + (" (failed)" if q.failed else "")


def worst_montage(evaluator: Evaluator, queries: list[Query], seeds: list[int], picks: list[int], path: Path) -> Path:
    """The picked samples re-rendered, ground truth (green) and prediction (red) drawn, in a grid."""
    from examiner.report import draw_skeletons
    from synthgen.montage import grid

    images, labels = [], []
    for i in picks:
        q = queries[i]
        s = evaluator.renderer.render(evaluator.space.fixed | q.params, seeds[i])
        pred = None if q.keypoints is None else np.asarray(q.keypoints, dtype=np.float64)
        images.append(draw_skeletons(s.image, s.keypoints2d, s.visibility, pred))
        labels.append(_caption(i, q))
    return grid(images, labels, path, columns=min(4, len(images)))


def _sample_line(i: int, q: Query) -> str:
    d = json.loads(q.to_json())
    d.pop("id")
    d.pop("cached")
    return json.dumps({"sample": i, **d})


def run_eval(model: str, scene: str | Path, n: int, out: str | Path, seed: int = 0, worst: int = WORST,
             size: int | None = None, batch_size: int = 16, progress=None, model_obj=None, workers: int = 1,
             ray_address: str | None = None) -> dict:
    """Evaluate ``model`` (a spec, or ``model_obj``) on ``n`` samples of ``scene``; writes
    ``eval.json`` (the summary), ``samples.jsonl`` (one line per sample) and ``worst.png`` (the
    ``worst`` largest errors; none when 0) into ``out`` and returns the summary.
    ``progress(done, total)`` is called before each batch (once inputs are checked) and at the end."""
    for name, value, low in (("-n", n, 1), ("--seed", seed, 0), ("--worst", worst, 0), ("--batch-size", batch_size, 1)):
        if value < low:
            raise ParamError(name, f"must be at least {low}, got {value}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ParamError("--out", f"{out} is a file; name a folder")
    draw_space, search = scene_spaces(scene, size)
    defaults = search.space.defaults()  # for dims only a pose set's poses name
    drawn, seeds = draw_params(draw_space, n, seed)
    params = [defaults | p for p in drawn]
    if workers < 1:
        raise ParamError("--workers", f"expected at least 1 worker, got {workers}")
    mut = model_obj if model_obj is not None else load_model(model)
    pool = pool_for(search, mut, None if model_obj is not None else model, workers, ray_address)
    evaluator = Evaluator(mut, search, seed=seed, batch_size=batch_size, cache=False, pool=pool)
    t0 = time.perf_counter()
    queries: list[Query] = []
    try:
        for start in range(0, n, batch_size):
            if progress is not None:
                progress(start, n)
            queries += evaluator.evaluate(params[start:start + batch_size], seeds[start:start + batch_size])
        if progress is not None:
            progress(n, n)
        seconds = time.perf_counter() - t0
        scores_params = bool(getattr(mut, "scores_params", False))
        summary = {"model": model, "model_name": mut.name, "scene": str(scene), "seed": seed,
                   "image": [search.config.width, search.config.height], "batch_size": batch_size,
                   "seconds": round(seconds, 2), "samples_per_s": round(n / max(seconds, 1e-9), 3),
                   **summarize(queries, search.rule, keypoints=not scores_params)}
        picks = worst_queries(queries, worst)
        summary["worst"] = [{"sample": i, "error": round(queries[i].error, 4), "status": queries[i].status,
                             "caption": _caption(i, queries[i])} for i in picks]
        out.mkdir(parents=True, exist_ok=True)
        if not picks:
            (out / MONTAGE).unlink(missing_ok=True)  # an earlier run's, which this summary does not describe
        summary["files"] = {"summary": str(out / SUMMARY), "samples": str(out / SAMPLES),
                            "montage": str(worst_montage(evaluator, queries, seeds, picks, out / MONTAGE)) if picks else None}
    finally:
        if pool is not None:
            pool.close()
        if model_obj is None:
            mut.close()
    write_atomic(out / SAMPLES, "".join(_sample_line(i, q) + "\n" for i, q in enumerate(queries)).encode())
    write_atomic(out / SUMMARY, (json.dumps(summary, indent=2) + "\n").encode())
    return summary


# --- the command line ------------------------------------------------------------------------
def eval_command(console, model: str, scene: str, n: int, out: str, seed: int, worst: int, size: int | None,
                 workers: int = 1, ray_address: str | None = None) -> dict:
    """``examiner eval``: run_eval under a progress bar on ``console``, then its tables."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("evaluating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as bar:
        task = bar.add_task("evaluating", total=n, visible=False)  # shown once the inputs are checked
        summary = run_eval(model, scene, n, out, seed, worst, size,
                           progress=lambda done, total: bar.update(task, completed=done, visible=True),
                           workers=workers, ray_address=ray_address)
    print_summary(summary, console)
    return summary


def _percent(r: dict | None) -> str:
    if r is None:
        return "-"
    lo, hi = r["interval95"]
    return f"{100 * r['rate']:.1f}% ({r['count']}/{r['of']}; 95%: {100 * lo:.0f}-{100 * hi:.0f}%)"


def print_summary(summary: dict, console) -> None:
    """The summary as rich tables on ``console`` - the headline numbers, then the error of each
    joint - and the files written."""
    from rich.table import Table

    rule = summary["failure_rule"]
    labels = {"oks": "mean OKS", "pck_bbox": f"PCK@{rule['alpha']:g} (bbox)",
              "pck_torso": f"PCK@{rule['torso_alpha']:g} (torso)", "mean_error_px": "mean keypoint error (px)",
              "mpjpe_mm": "MPJPE (mm)", "pa_mpjpe_mm": "PA-MPJPE (mm)"}
    width, height = summary["image"]
    head = Table("measure", "all graded (a miss scores 0)", "detected only (median)",
                 title=f"{summary['model_name']} on {summary['scene']}: {summary['samples']} samples at "
                       f"{width}x{height} (seed {summary['seed']}), {summary['graded']} graded, "
                       f"{summary['seconds']:.0f} s")
    head.add_row("detection rate", _percent(summary["detection_rate"]), "")
    head.add_row(f"failure rate ({rule['says']})", _percent(summary["failure_rate"]), "")
    for m, v in summary["metrics"].items():
        prec = ".3f" if m in SCORES else ".1f"
        d = v["detected"]
        head.add_row(labels[m], format(v["all"], prec) if "all" in v else "",
                     f"{format(d['mean'], prec)} ({format(d['median'], prec)})")
    trouble = {s: k for s, k in summary["status"].items() if s != "ok"}
    if trouble:
        head.add_row("not scored", ", ".join(f"{k} {s.replace('_', ' ')}" for s, k in trouble.items()), "")
    console.print(head)
    if summary["per_joint"]:
        joints = Table("joint", "labelled", "mean (px)", "median (px)", "90th pct (px)",
                       title="keypoint error per joint, on detections")
        for r in summary["per_joint"]:
            joints.add_row(r["joint"], str(r["labelled"]),
                           *(f"{r[k]:.1f}" if k in r else "-" for k in ("mean_px", "median_px", "p90_px")))
        console.print(joints)
    files = summary["files"]
    console.print(f"wrote {files['summary']}, {files['samples']}" + (
        f", {files['montage']} (the {len(summary['worst'])} worst: ground truth green, prediction red)"
        if files["montage"] else ""))
