"""Before / after on held-out images, with 95% intervals: what ``examiner finetune`` and
``benchmarks/finetune.py`` print. Several fine-tuned models of one starting model (one per
training seed) are compared on the same held-out images: the mean over seeds, its interval
(a paired bootstrap over the images, every model at once) and the sd over seeds."""

from __future__ import annotations

import numpy as np

from examiner.dataset_eval import FolderScores
from examiner.intervals import RESOLUTION, mean_interval, needed_images, relative_change, resolution_warning

#: key: (label, held-out set, per-image values, resolution key or None)
MEASURES = {
    "modes_failure_rate": ("failure rate inside the modes", "regions_heldout", lambda s: s.failed, "modes"),
    "default_error": ("default scene error 1 - OKS", "default_heldout", lambda s: 1.0 - s.oks, "default"),
    "default_pck": ("default scene PCK@0.1", "default_heldout", lambda s: s.pck, None),
    "space_failure_rate": ("failure rate over the whole search space", "space_heldout", lambda s: s.failed, "modes"),
}


def compare(before: dict[str, FolderScores], afters: list[dict[str, FolderScores]], seed: int = 0) -> dict:
    """Every measure before and after (mean over ``afters``), with intervals and relative change."""
    out = {}
    for key, (label, name, values, res) in MEASURES.items():
        for a in afters:
            if not np.array_equal(a[name].index, before[name].index):
                raise ValueError(f"{name}: before and after were scored on different images")
        b, a = values(before[name]), [values(x[name]) for x in afters]
        per_seed = [float(np.mean(x)) for x in a]
        row = {"label": label, "set": name, "images": len(b), "before": mean_interval(b, seed),
               "after": mean_interval(a, seed), "change": relative_change(b, a, seed), "after_per_seed": per_seed,
               "after_sd": float(np.std(per_seed, ddof=1)) if len(a) > 1 else None}
        if res:
            row["resolution"] = RESOLUTION[res]
            row["needed_images"] = needed_images(len(b), row["change"], RESOLUTION[res])
        out[key] = row
    rb = before["regions_heldout"]
    out["per_mode"] = {}
    for g in sorted(set(rb.region.tolist()) - {""}):
        inside = rb.region == g
        out["per_mode"][str(g)] = {
            "images": int(inside.sum()), "before": mean_interval(rb.failed[inside], seed),
            "after": mean_interval([x["regions_heldout"].failed[inside] for x in afters], seed),
            "after_per_seed": [float(x["regions_heldout"].failed[inside].mean()) for x in afters]}
    return out


def warnings(comparison: dict) -> list[str]:
    """One line per comparison whose held-out set is too small to resolve it."""
    out = []
    for key in MEASURES:
        row = comparison[key]
        if "resolution" in row:
            w = resolution_warning(row["label"], row["images"], row["change"], row["resolution"])
            if w:
                out.append(w)
    return out


def _ci(v: list[float], digits: int, percent: bool = False) -> str:
    if v is None or not np.isfinite(v[0]):
        return "-"
    if percent:
        return f"{100 * v[0]:+.1f}% [{100 * v[1]:+.1f}, {100 * v[2]:+.1f}]"
    return f"{v[0]:.{digits}f} [{v[1]:.{digits}f}, {v[2]:.{digits}f}]"


def table_markdown(comparison: dict, seeds: int = 1, regions: list[dict] | None = None,
                   searched_dims: list[dict] | None = None, search: dict | None = None) -> str:
    """The before / after table. ``regions`` (failures.json's) label the per-mode rows with
    their bounds and the rate the search measured; ``search`` adds the fresh search's count."""
    after = "after [95% CI]" if seeds == 1 else f"after: mean of {seeds} seeds [95% CI] (sd)"
    lines = [f"| measure (held-out) | images | before [95% CI] | {after} | relative change [95% CI] |",
             "| --- | --- | --- | --- | --- |"]
    for key in MEASURES:
        r = comparison[key]
        digits = 4 if key != "modes_failure_rate" else 3
        sd = f" (sd {r['after_sd']:.{digits}f})" if r["after_sd"] is not None else ""
        lines.append(f"| {r['label']} | {r['images']} | {_ci(r['before'], digits)} | {_ci(r['after'], digits)}{sd} | "
                     f"{_ci(r['change'], 1, percent=True)} |")
        if key == "modes_failure_rate":
            lines += _mode_rows(comparison["per_mode"], regions, searched_dims)
    if search:
        per_seed = search["regions_after"]
        after_text = ", ".join(map(str, per_seed)) + (f" (mean {np.mean(per_seed):.2f})" if len(per_seed) > 1 else "")
        lines.append(f"| modes found by a fresh search ({search['budget']} queries) | - | {search['regions_before']} | "
                     f"{after_text} | - |")
    return "\n".join(lines) + "\n"


def _mode_rows(per_mode: dict, regions: list[dict] | None, searched_dims: list[dict] | None) -> list[str]:
    from examiner.report import plain_summary

    by_id = {str(r.get("id", k)): r for k, r in enumerate(regions or [])}
    rows = []
    for g, m in per_mode.items():
        r = by_id.get(g)
        where = "; ".join(plain_summary(r, searched_dims)) if r and searched_dims else f"mode {g}"
        searched = ""
        if r and r.get("failure_rate") is not None:
            searched = f"; the search measured {r['failure_rate']:.2f}"
            if r.get("interval"):
                searched += f" [{r['interval'][0]:.2f}, {r['interval'][1]:.2f}]"
        rows.append(f"| ... mode {g}: {where}{searched} | {m['images']} | {_ci(m['before'], 3)} | {_ci(m['after'], 3)} "
                    f"| - |")
    return rows
