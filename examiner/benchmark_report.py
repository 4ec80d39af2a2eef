"""The report of an ``examiner benchmark`` folder: every strategy's summary (mean ± sd), the
search progress, and each run's own report (``examiner.report``) linked."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from examiner.report import _IMAGE_CHECK, CSS, _figure_png, _img, write_report


def _progress_plot(benchmark: dict) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    budget = benchmark["budget"]
    for strategy in dict.fromkeys(r["strategy"] for r in benchmark["runs"]):
        runs = [r for r in benchmark["runs"] if r["strategy"] == strategy]
        grid = np.linspace(0, budget, 101)
        counts = np.mean([[sum(c <= g for c in r["found_at"]) for g in grid] for r in runs], axis=0)
        ax.plot(grid, counts, label=strategy)
    ax.set_xlabel("queries")
    ax.set_ylabel("validated regions (mean over seeds)")
    ax.set_title("Search progress")
    ax.legend()
    return _figure_png(fig)



def plus_minus(summary: dict, metric: str) -> str:
    """'mean ± sd' of a benchmark metric ('-' where no run defined it)."""
    if summary.get(metric) is None:
        return "-"
    return f"{summary[metric]:.2f} ± {summary[metric + '_sd']:.2f}"


def paired_sentences(benchmark: dict) -> list[str]:
    """Each strategy's recall against the best one's, paired on the same landscapes and seeds."""
    paired = benchmark.get("paired")
    if not paired:
        return []
    out = []
    for a in paired["against"]:
        se = "-" if a["se"] is None else f"{a['se']:.3f}"
        out.append(f"{a['strategy']}: {a['difference']:+.3f} {paired['metric']} against {paired['best']} "
                   f"(paired over {a['runs']} runs, standard error {se})")
    return out


def write_benchmark_report(folder: Path) -> tuple[Path, Path]:
    """A benchmark folder's ``report.html`` and ``report.md``: the summary table, the progress
    plot, and every run's own report linked."""
    bench = json.loads((folder / "benchmark.json").read_text())
    png = _progress_plot(bench)
    (folder / "report_files").mkdir(exist_ok=True)
    (folder / "report_files" / "progress.png").write_bytes(png)
    planted = bench.get("planted_regions") is not None
    head = ["strategy", "regions", "regions / 1000 queries", "first region at"] + (
        ["recall", "precision", "IoU", "spurious dims"] if planted else [])
    rows = []
    for s in bench["summary"]:
        row = [s["strategy"], f"{s['regions']:.2f} ± {s['regions_sd']:.2f}", f"{s['regions_per_1000']:.2f}",
               "-" if s["first_region_at"] is None else f"{s['first_region_at']:.0f}"]
        if planted:
            row += [plus_minus(s, m) for m in ("recall", "precision", "iou", "spurious_dims")]
        rows.append(row)
    for run in sorted(p for p in folder.iterdir() if (p / "failures.json").is_file()):
        write_report(run)
    links = "".join(f"<li><a href='{p.name}/report.html'>{p.name}</a></li>"
                    for p in sorted(folder.iterdir()) if (p / "report.html").is_file())
    page = ["<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Search benchmark</title>",
            f"<style>{CSS}</style></head><body><h1>Search benchmark</h1>",
            f"<p class='muted'>{html.escape(bench['model'] or bench['family'] + ' landscapes')} on {html.escape(bench['space'])}: budget {bench['budget']} "
            f"queries, {bench['seeds']} seeds{', %d planted regions' % bench['planted_regions'] if planted else ''}.</p>",
            "<table class='summary'><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows) + "</table>",
            "".join(f"<p>{html.escape(line)}</p>" for line in paired_sentences(bench)),
            f"<h2>Progress</h2>{_img('progress.png', png, 'validated regions vs queries')}",
            f"<h2>Runs</h2><ul>{links}</ul>", _IMAGE_CHECK, "</body></html>"]
    (folder / "report.html").write_text("\n".join(page))
    md = ["# Search benchmark", "", "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    md += ["| " + " | ".join(r) + " |" for r in rows] + [""] + [f"- {line}" for line in paired_sentences(bench)]
    md += ["", "![progress](report_files/progress.png)", ""]
    (folder / "report.md").write_text("\n".join(md))
    return folder / "report.html", folder / "report.md"
