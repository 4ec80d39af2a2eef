"""What one examiner query costs with each model adapter, and how hard each scene preset is for a
real model.

Throughput: queries/s through the Evaluator (render + predict + score, as a search or
``examiner eval`` spends them) on studio samples, at batch 1 and 16, and the share of a query's
wall time that is the model's own: its ``predict`` on the same images timed again alone, one
call after another, with nothing rendering ("model ms alone"). The rest is what rendering and
scoring add to a query. With a model that predicts each image on its own (BlazePose), it
predicts on a thread of its own while the next images are drawn, posed, dressed and labelled,
so its time inside a run ("model ms in run") is longer than alone: the two share the cores.
Adapters: ``mediapipe`` (BlazePose), ``torch`` (the heatmap baseline: ``--torch CKPT``, or else
an untrained network of the default config - the weights do not change its speed), ``onnx``
(that network exported, when onnx and onnxruntime are installed).
Realism: BlazePose on each scene preset (``examiner eval``, ``-n`` samples each, seed 0):
detection rate, failure rate (OKS < 0.5 or no person), PCK@0.1 of the box (a miss scores 0, and
on detections only) and mean OKS. Each scene's worst examples go to ``--out/SCENE/worst.png``.

    python benchmarks/evaluate.py [--queries 32] [--repeats 3] [-n 128] [--torch CKPT]
        [--scenes studio,full,outdoor,occlusion,extreme] [--out out/bench_evaluate]
        [--json benchmarks/results/evaluate.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

from report import print_table, report

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from examiner.models.base import ModelUnderTest  # noqa: E402

BATCHES = (1, 16)
WARMUP = 2  # queries per run before the clock starts (first render, first model call)


class Timed(ModelUnderTest):
    """A model under test that adds up the seconds spent in its ``predict`` and keeps what it was
    given (``alone`` times the same calls again with nothing else running); ``whole_batches``:
    the Evaluator hands it each batch once every image is rendered, as for a model whose
    predictions depend on the batch, instead of each image as soon as it is drawn."""

    def __init__(self, inner: ModelUnderTest, whole_batches: bool = False):
        self.inner, self.name, self.seconds = inner, inner.name, 0.0
        self.needs_image, self.has_3d = inner.needs_image, inner.has_3d
        self.per_image = inner.per_image and not whole_batches
        self.calls: list = []

    def predict(self, images, infos=None):
        self.calls.append((images, infos))
        t0 = time.perf_counter()
        try:
            return self.inner.predict(images, infos)
        finally:
            self.seconds += time.perf_counter() - t0

    def alone(self) -> float:
        """Seconds the model takes for the calls kept, one after another, without rendering."""
        t0 = time.perf_counter()
        for images, infos in self.calls:
            self.inner.predict(images, infos)
        return time.perf_counter() - t0

    def close(self) -> None:
        self.inner.close()


def adapters(torch_ckpt: str | None, tmp: Path) -> list[tuple[str, ModelUnderTest]]:
    from examiner.models import load_model
    from examiner.models.baseline import TorchBaseline

    out = [("mediapipe", load_model("mediapipe"))]
    baseline = TorchBaseline.load(torch_ckpt) if torch_ckpt else TorchBaseline()
    out.append(("torch" if torch_ckpt else "torch (untrained)", baseline))
    if not all(importlib.util.find_spec(m) for m in ("onnx", "onnxruntime")):
        print("# onnx: skipped (pip install 'pose-examiner[onnx]' to measure it)")
        return out
    from examiner.models.onnx_model import OnnxModel, export_baseline

    path, _ = export_baseline(baseline, tmp / "baseline.onnx")
    out.append(("onnx", OnnxModel(path)))
    return out


def throughput(models: list[tuple[str, ModelUnderTest]], queries: int, repeats: int) -> list[dict]:
    """Every (adapter, batch) timed ``repeats`` times, the runs interleaved (so a slow spell of
    the machine falls on all of them alike); the rows give the mean."""
    from examiner.evaluate import Evaluator
    from examiner.scene_eval import draw_params, scene_spaces

    draw_space, search = scene_spaces("scenes/studio.yaml")
    params, seeds = draw_params(draw_space, WARMUP + queries, seed=0)
    runs = [(name, model, batch, False) for name, model in models for batch in BATCHES]
    # a per-image model's images predicted as they are drawn (above), and after the whole batch
    runs += [(f"{name} (whole batches)", model, BATCHES[-1], True) for name, model in models if model.per_image]
    seconds = {i: [] for i in range(len(runs))}
    for _ in range(repeats):
        for i, (name, model, batch, whole_batches) in enumerate(runs):
            timed = Timed(model, whole_batches)
            evaluator = Evaluator(timed, search, seed=0, batch_size=batch, cache=False)
            evaluator.evaluate(params[:WARMUP], seeds[:WARMUP])
            timed.seconds, timed.calls = 0.0, []
            t0 = time.perf_counter()
            for start in range(WARMUP, WARMUP + queries, batch):
                end = min(start + batch, WARMUP + queries)
                evaluator.evaluate(params[start:end], seeds[start:end])
            seconds[i].append((time.perf_counter() - t0, timed.seconds, timed.alone()))
            print(f"# {name} at batch {batch}: {queries / seconds[i][-1][0]:.2f} queries/s", flush=True)
    rows = []
    for i, (name, _, batch, _) in enumerate(runs):
        total, model_s, alone_s = (sum(t[k] for t in seconds[i]) / repeats for k in range(3))
        rows.append({"adapter": name, "batch": batch, "queries": queries, "repeats": repeats,
                     "queries_per_s": queries / total, "ms_per_query": 1000 * total / queries,
                     "model_ms": 1000 * alone_s / queries, "model_ms_in_run": 1000 * model_s / queries,
                     "model_share": alone_s / total, "render_share": 1 - alone_s / total})
    return rows


def realism(scenes: list[str], n: int, out: Path) -> list[dict]:
    from examiner.models import load_model
    from examiner.scene_eval import run_eval

    model = load_model("mediapipe")
    rows = []
    try:
        for scene in scenes:
            s = run_eval("mediapipe", f"scenes/{scene}.yaml", n, out / scene, seed=0, model_obj=model)
            pck, oks = s["metrics"].get("pck_bbox", {}), s["metrics"].get("oks", {})
            rows.append({"scene": scene, "samples": s["samples"], "graded": s["graded"],
                         "detection_rate": s["detection_rate"]["rate"], "failure_rate": s["failure_rate"]["rate"],
                         "pck": pck.get("all", 0.0), "pck_detected": pck.get("detected", {}).get("mean", float("nan")),
                         "oks": oks.get("all", 0.0), "seconds": s["seconds"]})
            print(f"# {scene}: detection {s['detection_rate']['rate']:.2f} in {s['seconds']:.0f} s", flush=True)
    finally:
        model.close()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=32, help="timed queries per adapter and batch size")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs of each (interleaved); the table gives the mean")
    ap.add_argument("-n", type=int, default=128, help="samples per scene preset")
    ap.add_argument("--torch", default=None, help="baseline checkpoint (default: an untrained network)")
    ap.add_argument("--scenes", default="studio,full,outdoor,occlusion,extreme")
    ap.add_argument("--out", default="out/bench_evaluate")
    ap.add_argument("--json", default="benchmarks/results/evaluate.json")
    args = ap.parse_args()
    if args.repeats < 1:
        ap.error(f"--repeats must be at least 1, got {args.repeats}")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        models = adapters(args.torch, Path(tmp))
        try:
            speed = throughput(models, args.queries, args.repeats)
        finally:
            for _, m in models:
                m.close()
    scenes = [s.strip() for s in args.scenes.split(",") if s.strip()]
    real = realism(scenes, args.n, Path(args.out))
    command = " ".join(["python benchmarks/evaluate.py", *sys.argv[1:]])
    report(f"examiner queries/s per adapter ({args.queries} studio queries, render + predict + score; mean of {args.repeats} runs)", command,
           [("adapter", "adapter", ""), ("batch", "batch", "d"), ("queries_per_s", "queries/s", ".2f"),
            ("ms_per_query", "ms/query", ".0f"), ("model_ms", "model ms alone", ".1f"),
            ("model_ms_in_run", "model ms in run", ".1f"),
            ("render_share", "render+score", ".0%"), ("model_share", "model", ".0%")],
           speed, args.json, realism=real, seconds=round(time.perf_counter() - t0, 1))
    print(f"# BlazePose on each scene preset ({args.n} samples each, seed 0; PCK@0.1 of the box, a miss scores 0)")
    print_table([("scene", "scene", ""), ("graded", "graded", "d"), ("detection_rate", "detected", ".2f"),
                 ("failure_rate", "failed", ".2f"), ("pck", "PCK@0.1", ".3f"),
                 ("pck_detected", "PCK@0.1 det", ".3f"), ("oks", "mean OKS", ".3f"), ("seconds", "seconds", ".0f")],
                real)


if __name__ == "__main__":
    main()
