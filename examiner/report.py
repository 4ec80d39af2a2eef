"""``examiner report DIR`` and ``examiner compare DIR_A DIR_B``: a search's failures.json and
queries.jsonl turned into a page a person reads - a summary, one card per region (its bounds
as bars over each searched dim's full range in plain words, its failure rate, example images
with the ground-truth and predicted skeletons), and plots - as ``report.html`` (self-contained:
images embedded, no network) and ``report.md`` (images beside it in ``report_files/``)."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np

from examiner.derived_modes import image_sentence, ranked_sensitivity
from examiner.labels import describe, describe_range, rate_sentence
from synthgen.errors import SynthgenError

GT_COLOUR, PRED_COLOUR = (40, 200, 60), (230, 40, 40)
EXAMPLES_PER_REGION = 4
NARROW = 0.9  # a dim counts as narrowed when the box spans less than this share of its range

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1100px;color:#222}
h1{margin-bottom:4px} .muted{color:#666} table{border-collapse:collapse} td,th{padding:4px 10px;text-align:left}
.summary td:first-child{color:#555} .card{border:1px solid #ddd;border-radius:8px;padding:16px;margin:18px 0}
.card h2{margin:0 0 6px 0;font-size:20px} .rate{font-weight:600;color:#b00}
.bars td{padding:2px 8px;font-size:13px} .narrow{font-weight:600} img{max-width:100%}
.examples img{width:200px;margin-right:6px;border:1px solid #ccc} .legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 10px}
"""


def _load(folder: Path) -> tuple[dict, list[dict], dict]:
    f = folder / "failures.json"
    if not f.is_file():
        raise SynthgenError(f"{folder}: no failures.json (run examiner search --out {folder} first)")
    failures = json.loads(f.read_text())
    queries = []
    qpath = folder / "queries.jsonl"
    if qpath.is_file():
        queries = [json.loads(line)["query"] for line in qpath.read_text().splitlines() if line.strip()]
    run = json.loads((folder / "run.json").read_text()) if (folder / "run.json").is_file() else {}
    return failures, queries, run


def _png(image) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    (image if isinstance(image, Image.Image) else Image.fromarray(image)).save(buf, format="PNG")
    return buf.getvalue()


def _figure_png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def draw_skeletons(image: np.ndarray, gt: np.ndarray, vis: np.ndarray, pred: np.ndarray | None) -> np.ndarray:
    """The image, scaled up to about 256 px, with the ground truth's labelled keypoints (green) and
    the prediction (red, when there is one) drawn as skeletons."""
    from PIL import Image, ImageDraw

    from synthgen.body.skeleton import COCO_SKELETON

    scale = max(1, 256 // image.shape[0])
    im = Image.fromarray(image).resize((image.shape[1] * scale, image.shape[0] * scale), Image.NEAREST)
    d = ImageDraw.Draw(im)

    def draw(kp, ok, colour):
        p = (np.asarray(kp) + 0.5) * scale
        for a, b in COCO_SKELETON:
            if ok[a - 1] and ok[b - 1]:
                d.line([tuple(p[a - 1]), tuple(p[b - 1])], fill=colour, width=2)
        for (x, y), o in zip(p, ok):
            if o:
                d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)

    draw(gt, vis > 0, GT_COLOUR)
    if pred is not None:
        draw(pred, np.ones(len(pred), bool), PRED_COLOUR)
    return np.asarray(im)


class _Renderer:
    """Re-renders example queries of a search (the same scene, seed and parameters)."""

    def __init__(self, failures: dict, run: dict):
        from examiner.search_space import SearchSpace

        self.search = SearchSpace.from_yaml(failures["space"], run.get("size"))
        self.seed = failures.get("seed", 0)
        self._r = None

    def __call__(self, params: dict):
        if self._r is None:
            from synthgen.render.renderer import Renderer

            self._r = Renderer(self.search.config)
        return self._r.render(self.search.space.fixed | params, self.seed)


def _restricted(region: dict, dims: list[dict]) -> list[dict]:
    """The dims a region bounds, most important first (older files: every narrowed dim)."""
    by_name = {d["name"]: d for d in dims}
    if "restricted" in region:
        return [by_name[n] for n in region["restricted"]]
    out = []
    for d in dims:
        b = region["bounds"][d["name"]]
        if ("low" not in d and len(b) < len(d["choices"])) or (
                "low" in d and (b[1] - b[0]) < NARROW * (d["high"] - d["low"])):
            out.append(d)
    return out


def _bars_svg(region: dict, dims: list[dict]) -> str:
    """One bar per restricted dim (categorical dims: one cell per choice); free dims are 'any'."""
    rows = []
    restricted = _restricted(region, dims)
    for d in restricted:
        label = html.escape(describe(d["name"]))
        if "low" not in d:
            chosen = region["bounds"][d["name"]]
            k = len(d["choices"])
            cells = "".join(f"<rect x='{300 * i / k:.1f}' y='1' width='{300 / k - 2:.1f}' height='12' "
                            f"fill='{'#d33' if c in chosen else '#eee'}'/>" for i, c in enumerate(d["choices"]))
            rng = f"{', '.join(map(str, chosen))} (of {', '.join(map(str, d['choices']))})"
            rows.append(f"<tr class='narrow'><td>{label}</td><td><svg width='300' height='14' role='img' "
                        f"aria-label='{label} {html.escape(rng)}'>{cells}</svg></td><td>{html.escape(rng)}</td></tr>")
            continue
        lo, hi = region["bounds"][d["name"]]
        span = d["high"] - d["low"]
        x0, x1 = (lo - d["low"]) / span, (hi - d["low"]) / span
        rng = f"{lo:.3g}-{hi:.3g} {d.get('unit', '')} (of {d['low']:.3g}-{d['high']:.3g})"
        rows.append(
            f"<tr class='narrow'><td>{label}</td><td><svg width='300' height='14' "
            f"role='img' aria-label='{label} {html.escape(rng)}'><rect x='0' y='3' width='300' height='8' fill='#eee'/>"
            f"<rect x='{300 * x0:.1f}' y='1' width='{max(2.0, 300 * (x1 - x0)):.1f}' height='12' fill='#d33'/>"
            f"</svg></td><td>{html.escape(rng)}</td></tr>")
    free = [describe(d["name"]) for d in dims if d not in restricted]
    if free:
        rows.append(f"<tr><td colspan='3' class='muted'>any: {html.escape(', '.join(free))}</td></tr>")
    return "<table class='bars'>" + "".join(rows) + "</table>"


def plain_summary(region: dict, dims: list[dict]) -> list[str]:
    out = []
    for d in _restricted(region, dims):
        if "low" not in d:
            out.append(f"{describe(d['name'])}: {', '.join(map(str, region['bounds'][d['name']]))}")
            continue
        lo, hi = region["bounds"][d["name"]]
        out.append(describe_range(d["name"], lo, hi, d.get("unit", "")))
    return out or ["anywhere in the searched space"]


def _plots(failures: dict, queries: list[dict]) -> dict[str, bytes]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    every = failures["searched_dims"]
    dims = [d for d in every if "low" in d]
    graded = [q for q in queries if q.get("graded")]
    plots = {}
    if not graded or not every:
        return plots
    failed = np.array([q["failed"] for q in graded])
    cols = min(4, len(every))
    rows = int(np.ceil(len(every) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    for ax, d in zip(axes.ravel(), every):
        if "low" in d:
            values = np.array([q["params"][d["name"]] for q in graded], dtype=float)
            bins = np.linspace(d["low"], d["high"], 16)
            ax.hist(values, bins=bins, color="#bbb", label="all queries")
            ax.hist(values[failed], bins=bins, color="#d33", alpha=0.8, label="failures")
        else:  # a categorical dim: one bar per choice
            values = [q["params"][d["name"]] for q in graded]
            at = np.arange(len(d["choices"]))
            ax.bar(at, [sum(v == c for v in values) for c in d["choices"]], color="#bbb")
            ax.bar(at, [sum(v == c and f for v, f in zip(values, failed)) for c in d["choices"]], color="#d33", alpha=0.8)
            ax.set_xticks(at, [str(c) for c in d["choices"]])
        ax.set_title(describe(d["name"]), fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(every):]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=7)
    fig.suptitle("Where failures fall, per searched dim (counts)", fontsize=11)
    plots["per_dim.png"] = _figure_png(fig)
    X = np.array([[q["params"][d["name"]] for d in dims] for q in graded], dtype=float).reshape(len(graded), len(dims))
    if len(dims) >= 2 and failed.any() and (~failed).any():
        sd = X.std(0) + 1e-9
        sep = np.abs(X[failed].mean(0) - X[~failed].mean(0)) / sd
        a, b = np.argsort(-sep)[:2]
        fig, ax = plt.subplots(figsize=(5.5, 4.5))
        ax.scatter(X[~failed, a], X[~failed, b], s=6, c="#999", label="passed")
        ax.scatter(X[failed, a], X[failed, b], s=8, c="#d33", label="failed")
        ax.set_xlabel(f"{describe(dims[a]['name'])} ({dims[a].get('unit', '')})")
        ax.set_ylabel(f"{describe(dims[b]['name'])} ({dims[b].get('unit', '')})")
        ax.set_title("The two dims that separate failures most")
        ax.legend(fontsize=8)
        plots["scatter.png"] = _figure_png(fig)
    return plots


def write_report(folder: str | Path, examples: int = EXAMPLES_PER_REGION) -> tuple[Path, Path]:
    """Writes ``report.html`` and ``report.md`` into ``folder`` (a search's --out; a benchmark
    folder's report is ``examiner.benchmark_report``'s)."""
    folder = Path(folder)
    failures, queries, run = _load(folder)
    by_id = {q["id"]: q for q in queries}
    files = folder / "report_files"
    files.mkdir(exist_ok=True)
    images: dict[str, bytes] = {}
    renderer = _Renderer(failures, run) if failures["regions"] else None
    cards = []
    for region in failures["regions"]:
        shots = []
        for qid in region["examples"][:examples]:
            q = by_id.get(qid)
            if q is None:
                continue
            s = renderer(q["params"])
            pred = None if q.get("keypoints") is None else np.array(q["keypoints"])
            name = f"region{region['id']}_query{qid}.png"
            images[name] = _png(draw_skeletons(s.image, s.keypoints2d, s.visibility, pred))
            caption = "no person found" if pred is None else f"OKS {q['metrics'].get('oks', float('nan')):.2f}"
            shots.append((name, caption))
        cards.append((region, shots))
    images |= _plots(failures, queries)
    for name, data in images.items():
        (files / name).write_bytes(data)
    html_path = folder / "report.html"
    md_path = folder / "report.md"
    html_path.write_text(_html(failures, cards, images))
    md_path.write_text(_markdown(failures, cards, images))
    return html_path, md_path


WITHDRAWN = "withdrawn (confirmed during the search, refuted by the points drawn in it since)"


def withdrawn_sentence(region: dict, searched_dims: list[dict]) -> str:
    """A withdrawn mode (failures.json's ``withdrawn``) as its fewest words and its rates."""
    return f"{'; '.join(plain_summary(region, searched_dims))}: {rate_sentence(region)}"


def _summary_rows(f: dict) -> list[tuple[str, str]]:
    return [("model", f.get("model_name", f["model"])), ("search space", f["space"]),
            ("strategy", f"{f['strategy']} ({f.get('agents', 1)} agents, seed {f['seed']})"),
            ("queries used", f"{f['queries_used']} of {f['budget']}"),
            ("failure modes found", str(len(f["regions"]))),
            *[(WITHDRAWN, withdrawn_sentence(r, f["searched_dims"])) for r in f.get("withdrawn", [])],
            ("base rate (uniform queries)", "-" if f.get("base_rate") is None
             else f"{100 * f['base_rate']:.1f}% of {f.get('base_samples', '?')}"),
            ("failure rate over all queries (the search's, not the space's)", f"{100 * f.get('failure_rate', 0):.1f}%"),
            ("first region after", "-" if f.get("first_region_at_query") is None else f"{f['first_region_at_query']} queries"),
            ("query outcomes", ", ".join(f"{k}: {v}" for k, v in f.get("query_status", {}).items() if v))]


def _img(name: str, data: bytes, alt: str) -> str:
    return f"<img src='data:image/png;base64,{base64.b64encode(data).decode()}' alt='{html.escape(alt)}'>"


def _html(f: dict, cards: list, images: dict) -> str:
    dims = f["searched_dims"]
    out = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>",
           f"<title>Failure report: {html.escape(f.get('model_name', f['model']))}</title><style>{CSS}</style></head><body>",
           f"<h1>Where {html.escape(f.get('model_name', f['model']))} fails</h1>",
           "<p class='muted'>Each region is a box in the searched parameter space inside which the model fails "
           "on most samples drawn at random (validated after the search). Bars show the dims that define it, over "
           "their full range; every other dim is 'any': the mode holds whatever its value.</p>",
           "<table class='summary'>" + "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
                                               for k, v in _summary_rows(f)) + "</table>"]
    if not cards:
        out.append("<p><b>No validated failure region was found within the budget.</b></p>")
    for region, shots in cards:
        words = plain_summary(region, dims)
        out.append(f"<div class='card' id='region-{region['id']}'><h2>Region {region['id']}: "
                   + html.escape("; ".join(words)) + "</h2>")
        out.append(f"<p><span class='rate'>{html.escape(rate_sentence(region))}</span> "
                   f"({region['validated_samples']} random samples inside it); it covers "
                   f"{100 * region['volume']:.2g}% of the searched space; found by {html.escape(region.get('owner', ''))} "
                   f"after {region.get('found_at_query', '?')} queries.</p>")
        if image_sentence(region, f):
            out.append(f"<p>{html.escape(image_sentence(region, f))}</p>")
        out.append(_bars_svg(region, dims))
        if shots:
            out.append("<p class='legend'>Examples:<span style='background:#28c83c'></span>ground truth"
                       "<span style='background:#e62828'></span>model's prediction</p><div class='examples'>")
            for name, caption in shots:
                out.append(f"<figure style='display:inline-block;margin:0 6px 0 0'>{_img(name, images[name], caption)}"
                           f"<figcaption class='muted'>{html.escape(caption)}</figcaption></figure>")
            out.append("</div>")
        out.append("</div>")
    if f.get("sensitivity"):
        out.append("<h2>What matters most</h2><p class='muted'>Failure rate in each fifth of a dim's range (each "
                   "choice of a categorical dim; for what the image shows, each fifth of the queries ordered by it) "
                   "over the uniform queries, sorted by how much it varies.</p><table class='summary'><tr><th>factor"
                   "</th><th>kind</th><th>failure rate per fifth (choice)</th><th>spread</th></tr>")
        out += [f"<tr><td>{html.escape(r['label'])}</td><td>{r['kind']}</td><td>{r['rates']}</td><td>{r['spread']}"
                "</td></tr>" for r in ranked_sensitivity(f)] + ["</table>"]
    for name, title in (("per_dim.png", "Failures per searched dim"), ("scatter.png", "Failures in two dims")):
        if name in images:
            out.append(f"<h2>{title}</h2>{_img(name, images[name], title)}")
    out.append(_IMAGE_CHECK + "</body></html>")
    return "\n".join(out)


#: marks the page when every image has loaded (the browser test reads it)
_IMAGE_CHECK = """<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute('data-images', ok + '/' + imgs.length);
});
</script>"""


def _markdown(f: dict, cards: list, images: dict) -> str:
    dims = f["searched_dims"]
    out = [f"# Where {f.get('model_name', f['model'])} fails", ""]
    out += [f"- **{k}**: {v}" for k, v in _summary_rows(f)] + [""]
    for region, shots in cards:
        out += [f"## Region {region['id']}: " + "; ".join(plain_summary(region, dims)), "",
                f"{rate_sentence(region).capitalize()} ({region['validated_samples']} random samples inside it, "
                f"{100 * region['volume']:.2g}% of the searched space).", "",
                *([image_sentence(region, f), ""] if image_sentence(region, f) else []),
                "| dim | region | full range |", "| --- | --- | --- |"]
        restricted = _restricted(region, dims)
        for d in restricted:
            b = region["bounds"][d["name"]]
            if "low" in d:
                out.append(f"| {describe(d['name'])} | {b[0]:.3g} - {b[1]:.3g} {d.get('unit', '')} | "
                           f"{d['low']:.3g} - {d['high']:.3g} |")
            else:
                out.append(f"| {describe(d['name'])} | {', '.join(map(str, b))} | {', '.join(map(str, d['choices']))} |")
        free = [describe(d["name"]) for d in dims if d not in restricted]
        out += ([f"| any: {', '.join(free)} | | |"] if free else []) + [""]
        out += [f"![{c}](report_files/{n})" for n, c in shots] + [""]
    if f.get("sensitivity"):
        out += ["## What matters most", "", "| factor | kind | failure rate per fifth (choice) | spread |",
                "| --- | --- | --- | --- |"]
        out += [f"| {r['label']} | {r['kind']} | {r['rates']} | {r['spread']} |" for r in ranked_sensitivity(f)] + [""]
    for name in ("per_dim.png", "scatter.png"):
        if name in images:
            out += [f"![{name}](report_files/{name})", ""]
    return "\n".join(out)


def compare(a: str | Path, b: str | Path, out: str | Path) -> Path:
    """Two searches side by side (two models, or before / after fine-tuning)."""
    fa, _, _ = _load(Path(a))
    fb, _, _ = _load(Path(b))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ra, rb = dict(_summary_rows(fa)), dict(_summary_rows(fb))

    def regions(f):
        return "".join(f"<li>fails {100 * r['failure_rate']:.0f}%: "
                       f"{html.escape('; '.join(plain_summary(r, f['searched_dims'])))}</li>" for r in f["regions"]) \
            or "<li>none</li>"

    page = ["<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Comparison</title>",
            f"<style>{CSS}</style></head><body><h1>Comparison</h1>",
            f"<table class='summary'><tr><th></th><th>{html.escape(str(a))}</th><th>{html.escape(str(b))}</th></tr>"
            + "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(ra[k])}</td><td>{html.escape(rb[k])}</td></tr>"
                      for k in ra) + "</table>",
            f"<table><tr><td style='vertical-align:top'><h2>{html.escape(str(a))}</h2><ul>{regions(fa)}</ul></td>"
            f"<td style='vertical-align:top'><h2>{html.escape(str(b))}</h2><ul>{regions(fb)}</ul></td></tr></table>",
            _IMAGE_CHECK, "</body></html>"]
    out.write_text("\n".join(page))
    return out
