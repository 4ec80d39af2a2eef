"""``examiner finetune``: close the loop. Sample training data inside the failure regions a
search found (and from the default scene), fine-tune the torch baseline on the mix, and measure
on held-out samples never used in training: failure rate inside each region and error on the
default scene, before and after; optionally a fresh search with the same budget and seed.

Every set is a synthgen dataset with its own seed, so training and held-out samples never
share a (seed, index) id."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from examiner.metrics import FailureRule, score_sample
from synthgen.dataset.files import json_bytes, write_atomic
from synthgen.errors import ParamError

#: dataset seeds, offset from the run seed: train / held-out, regions / default scene
SEEDS = {"regions_train": 1, "default_train": 2, "regions_heldout": 3, "default_heldout": 4}


def measure(model, folder: Path, rule: FailureRule = FailureRule(), batch_size: int = 32) -> dict:
    """Failure rate (overall and per region id), mean OKS and PCK of ``model`` on a dataset."""
    folder = Path(folder)
    doc = json.loads((folder / "coco.json").read_text())
    anns = {a["image_id"]: a for a in doc["annotations"]}
    from PIL import Image

    rows = []
    images = [im for im in doc["images"] if im["id"] in anns]
    for start in range(0, len(images), batch_size):
        chunk = images[start:start + batch_size]
        pix = np.stack([np.asarray(Image.open(folder / im["file_name"]).convert("RGB")) for im in chunk])
        pred = model.predict(pix).check(len(chunk), pix.shape[1], pix.shape[2])
        for k, im in enumerate(chunk):
            a = anns[im["id"]]
            kp = np.asarray(a["keypoints"], dtype=np.float64).reshape(17, 3)
            meta = json.loads((folder / im["file_name"].replace("/images/", "/meta/").replace(".png", ".json")).read_text())
            m = score_sample(rule, pred.keypoints[k], bool(pred.detected[k]), kp[:, :2], kp[:, 2], np.asarray(a["bbox"]),
                             float(a["area"]))
            if m["graded"]:
                rows.append({"region": meta.get("region"), "failed": m["failed"], "oks": m.get("oks", 0.0),
                             "pck": m.get("pck_bbox", 0.0), "id": (meta["index"],)})
    out = {"samples": len(rows), "failure_rate": float(np.mean([r["failed"] for r in rows])) if rows else float("nan"),
           "oks": float(np.mean([r["oks"] for r in rows])) if rows else float("nan"),
           "pck@0.1": float(np.mean([r["pck"] for r in rows])) if rows else float("nan")}
    regions = sorted({r["region"] for r in rows if r["region"] is not None})
    out["per_region"] = {str(g): {"samples": sum(r["region"] == g for r in rows),
                                  "failure_rate": float(np.mean([r["failed"] for r in rows if r["region"] == g]))}
                         for g in regions}
    return out


def finetune(model_path: str | Path, regions: str | Path, scene: str | Path, out: str | Path, mix: float = 0.5,
             steps: int = 400, n_train: int = 600, n_heldout: int = 160, size: int | None = None, workers: int = 2,
             seed: int = 0, lr: float = 5e-4, batch_size: int = 32, search_budget: int | None = None,
             log=print) -> dict:
    from examiner.models.baseline import TorchBaseline, train
    from examiner.models.training_data import KeypointDataset
    from synthgen.dataset.generate import generate

    if not 0.0 < mix <= 1.0:
        raise ParamError("--mix", f"share of region samples in training, in (0, 1], got {mix}")
    model_path, regions, out = Path(model_path), Path(regions), Path(out)
    failures = json.loads(regions.read_text()) if regions.is_file() else None
    if failures is None:
        raise ParamError("--regions", f"no such file: {regions}")
    if not failures.get("regions"):
        raise ParamError("--regions", f"{regions} holds no regions to fine-tune on")
    base = TorchBaseline.load(model_path)
    t0 = time.perf_counter()
    data = out / "data"
    counts = {"regions_train": max(1, round(mix * n_train)), "default_train": n_train - max(1, round(mix * n_train)),
              "regions_heldout": n_heldout, "default_heldout": n_heldout}
    sets = {}
    for name, n in counts.items():
        if n <= 0:
            continue
        log(f"rendering {name}: {n} samples")
        generate(scene, n, data / name, seed=seed * 10 + SEEDS[name], workers=workers, size=size, formats="coco",
                 shard_size=32, regions=regions if name.startswith("regions") else None)
        sets[name] = data / name
    before = {k: measure(base, sets[k]) for k in ("regions_heldout", "default_heldout")}
    tuned = TorchBaseline.load(model_path)
    train_sets = [sets[k] for k in ("regions_train", "default_train") if k in sets]
    log(f"fine-tuning {steps} steps on {', '.join(p.name for p in train_sets)}")
    summary = train(tuned, KeypointDataset(train_sets, tuned.config.input_size), steps=steps, batch_size=batch_size,
                    lr=lr, seed=seed, log=log, warmup=min(20, steps // 5))
    ckpt = tuned.save(out / "finetuned.pt")
    after = {k: measure(tuned, sets[k]) for k in ("regions_heldout", "default_heldout")}
    result = {
        "model": str(model_path), "finetuned": str(ckpt), "regions_file": str(regions), "scene": str(scene),
        "mix": mix, "steps": steps, "seed": seed,
        "datasets": {k: {"folder": str(v), "seed": seed * 10 + SEEDS[k], "samples": counts[k]} for k, v in sets.items()},
        "before": before, "after": after, "training": {k: v for k, v in summary.items() if k != "history"},
    }
    ra, rb = before["regions_heldout"], after["regions_heldout"]
    result["region_failure_rate"] = {"before": ra["failure_rate"], "after": rb["failure_rate"],
                                     "relative_drop": 1 - rb["failure_rate"] / ra["failure_rate"] if ra["failure_rate"] else None}
    da, db = before["default_heldout"], after["default_heldout"]
    result["default_error"] = {"before": 1 - da["oks"], "after": 1 - db["oks"],
                               "relative_change": ((1 - db["oks"]) / (1 - da["oks"]) - 1) if da["oks"] < 1 else None}
    if search_budget:
        from examiner.report import compare, write_report
        from examiner.search.context import Validation
        from examiner.search.run import run_search

        log(f"fresh search on the fine-tuned model ({search_budget} queries)")
        fresh = run_search(f"torch:{ckpt}", failures["space"], failures["strategy"], search_budget, out / "search_after",
                           failures.get("agents", 4), failures["seed"], tensorboard=False,
                           validation=Validation(**failures.get("validation", {})))  # the same region test
        write_report(out / "search_after")
        result["search"] = {"regions_before": len(failures["regions"]), "regions_after": len(fresh["regions"]),
                            "budget": search_budget}
        result["compare"] = str(compare(regions.parent, out / "search_after", out / "compare.html"))
    result["seconds"] = round(time.perf_counter() - t0, 1)
    write_atomic(out / "finetune.json", json_bytes(result))
    (out / "finetune.md").write_text(table_markdown(result))
    return result


def table_markdown(r: dict) -> str:
    lines = ["| measure (held-out) | before | after |", "| --- | --- | --- |"]
    fr = r["region_failure_rate"]
    lines.append(f"| failure rate inside the regions | {fr['before']:.3f} | {fr['after']:.3f} |")
    for g, v in r["before"]["regions_heldout"]["per_region"].items():
        a = r["after"]["regions_heldout"]["per_region"].get(g, {})
        lines.append(f"| ... region {g} ({v['samples']} samples) | {v['failure_rate']:.3f} | {a.get('failure_rate', float('nan')):.3f} |")
    b, a = r["before"]["default_heldout"], r["after"]["default_heldout"]
    lines.append(f"| default scene: OKS | {b['oks']:.4f} | {a['oks']:.4f} |")
    lines.append(f"| default scene: PCK@0.1 | {b['pck@0.1']:.4f} | {a['pck@0.1']:.4f} |")
    if "search" in r:
        lines.append(f"| regions found by a search ({r['search']['budget']} queries) | {r['search']['regions_before']} | "
                     f"{r['search']['regions_after']} |")
    return "\n".join(lines) + "\n"
