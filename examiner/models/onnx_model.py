"""Any ONNX keypoint model as a model under test, run through onnxruntime (optional extra:
``pip install 'pose-examiner[onnx]'``).

The model is described by a small JSON spec, ``MODEL.onnx.json`` next to it (or named directly:
``onnx:SPEC.json``, whose ``"model"`` key, or else its own name without ``.json``, gives the
model file)::

    {"input":  {"name": "image", "size": [H, W], "layout": "NCHW" | "NHWC",
                "scale": 0.00392156862745098, "mean": [m, m, m], "std": [s, s, s]},
     "output": {"name": "heatmaps", "kind": "heatmaps" | "keypoints", "order": "coco17"}}

Images are letterboxed (aspect kept, centred on black bars) to ``size`` and fed as float32
``(pixel * scale - mean) / std``. ``kind: heatmaps``: (B, 17, h, w) maps (``"layout": "NHWC"`` in
``output`` for (B, h, w, 17)), decoded as the baseline decodes its own (argmax + sub-pixel fit,
score = peak clipped to [0, 1]; ``"activation": "sigmoid"`` for logit maps). ``kind: keypoints``:
(B, 17, 3) x, y, score (or (B, 17, 2), score 1) in input-image pixels. Both are mapped back to
the original image. ``order`` is ``coco17`` or a list of 17 output indices, one per COCO keypoint.
Optional: ``input.resize`` (``letterbox`` | ``stretch``), ``detect_threshold`` (default 0.1)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from examiner.models.base import N_KEYPOINTS, ModelUnderTest, Prediction
from examiner.models.baseline import decode_prediction
from examiner.models.keypoint_geometry import Letterbox, letterbox
from synthgen.errors import ConfigError, ModelFileError, ParamError, SynthgenError

INSTALL_HINT = "onnx: models need onnxruntime, an optional extra: pip install 'pose-examiner[onnx]'"
LAYOUTS = ("NCHW", "NHWC")
KINDS = ("heatmaps", "keypoints")


def spec_paths(path: str | Path) -> tuple[Path, Path]:
    """(model file, spec file) named by the ``onnx:PATH`` argument."""
    path = Path(path)
    if path.suffix == ".json":
        return None, path  # the model file is read from the spec
    return path, path.with_name(path.name + ".json")


def _num_list(value, key: str, n: int, where: str) -> list[float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value] * n
    if (not isinstance(value, list) or len(value) != n
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise ParamError(key, f"must be a number or a list of {n} numbers, got {value!r}", where)
    return [float(v) for v in value]


def parse_spec(data, where: str) -> dict:
    """Validated spec with defaults filled in; a missing or invalid key raises ParamError naming
    the key and the file."""
    if not isinstance(data, dict):
        raise ParamError("(top level)", "must be a JSON object with 'input' and 'output'", where)
    spec = {}
    for section in ("input", "output"):
        if section not in data:
            raise ParamError(section, "missing", where)
        if not isinstance(data[section], dict):
            raise ParamError(section, "must be an object", where)
    inp, out = data["input"], data["output"]
    unknown = set(data) - {"input", "output", "model", "detect_threshold", "name"}
    if unknown:
        raise ParamError(sorted(unknown)[0], "unknown key (expected input, output, model, detect_threshold)", where)

    if "size" not in inp:
        raise ParamError("input.size", "missing (the network's input [height, width])", where)
    size = inp["size"]
    if isinstance(size, int) and not isinstance(size, bool):
        size = [size, size]
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                                              for v in size)):
        raise ParamError("input.size", f"must be [height, width] in positive integers, got {inp['size']!r}", where)
    layout = inp.get("layout", "NCHW")
    if layout not in LAYOUTS:
        raise ParamError("input.layout", f"must be one of {', '.join(LAYOUTS)}, got {layout!r}", where)
    scale = inp.get("scale", 1 / 255)
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or scale <= 0:
        raise ParamError("input.scale", f"must be a positive number, got {scale!r}", where)
    std = _num_list(inp.get("std", 1.0), "input.std", 3, where)
    if min(std) <= 0:
        raise ParamError("input.std", f"must be positive, got {std}", where)
    resize = inp.get("resize", "letterbox")
    if resize not in ("letterbox", "stretch"):
        raise ParamError("input.resize", f"must be letterbox or stretch, got {resize!r}", where)
    for key, value in (("input.name", inp.get("name")), ("output.name", out.get("name"))):
        if value is not None and not isinstance(value, str):
            raise ParamError(key, f"must be a string, got {value!r}", where)
    spec["input"] = {"name": inp.get("name"), "size": [int(v) for v in size], "layout": layout, "scale": float(scale),
                     "mean": _num_list(inp.get("mean", 0.0), "input.mean", 3, where), "std": std, "resize": resize}

    if "kind" not in out:
        raise ParamError("output.kind", f"missing (one of {', '.join(KINDS)})", where)
    if out["kind"] not in KINDS:
        raise ParamError("output.kind", f"must be one of {', '.join(KINDS)}, got {out['kind']!r}", where)
    order = out.get("order", "coco17")
    if order == "coco17":
        order = list(range(N_KEYPOINTS))
    elif not (isinstance(order, list) and len(order) == N_KEYPOINTS
              and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in order)):
        raise ParamError("output.order", f"must be 'coco17' or a list of {N_KEYPOINTS} output indices, got {order!r}",
                         where)
    out_layout = out.get("layout", "NCHW")
    if out_layout not in LAYOUTS:
        raise ParamError("output.layout", f"must be one of {', '.join(LAYOUTS)}, got {out_layout!r}", where)
    activation = out.get("activation", "none")
    if activation not in ("none", "sigmoid"):
        raise ParamError("output.activation", f"must be none or sigmoid, got {activation!r}", where)
    spec["output"] = {"name": out.get("name"), "kind": out["kind"], "order": order, "layout": out_layout,
                      "activation": activation}
    thr = data.get("detect_threshold", 0.1)
    if not isinstance(thr, (int, float)) or isinstance(thr, bool) or not 0 <= thr <= 1:
        raise ParamError("detect_threshold", f"must be a number in [0, 1], got {thr!r}", where)
    spec["detect_threshold"] = float(thr)
    model = data.get("model")
    if model is not None and not isinstance(model, str):
        raise ParamError("model", f"must be a path string, got {model!r}", where)
    spec["model"] = model
    return spec


def read_spec(spec_path: Path) -> dict:
    if not spec_path.is_file():
        raise ConfigError(str(spec_path), "missing: an onnx: model needs a JSON spec of its input and output "
                                          "(see examiner/models/onnx_model.py)")
    try:
        data = json.loads(spec_path.read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(str(spec_path), f"not valid JSON ({e})") from None
    return parse_spec(data, str(spec_path))


def write_spec(path: Path, spec: dict) -> Path:
    path = Path(path)
    path.write_text(json.dumps(spec, indent=2) + "\n")
    return path


class OnnxModel(ModelUnderTest):
    """An ONNX keypoint model described by a JSON spec (see the module docstring)."""

    has_3d = False
    needs_image = True

    def __init__(self, path: str | Path, threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise SynthgenError(INSTALL_HINT) from None
        model_path, spec_path = spec_paths(path)
        self.spec = read_spec(spec_path)
        if model_path is None:
            if self.spec["model"]:
                model_path = spec_path.parent / self.spec["model"]
            else:
                model_path = spec_path.with_suffix("")
        self.path, self.spec_path = Path(model_path), spec_path
        if not self.path.is_file():
            raise ModelFileError(f"{self.path}: no such ONNX model file")
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:
            raise ModelFileError(f"{self.path}: onnxruntime cannot load it ({type(e).__name__}: {e})") from None
        where = str(spec_path)
        inputs = [i.name for i in self.session.get_inputs()]
        outputs = [o.name for o in self.session.get_outputs()]
        self.input_name = self.spec["input"]["name"] or inputs[0]
        self.output_name = self.spec["output"]["name"] or outputs[0]
        if self.input_name not in inputs:
            raise ParamError("input.name", f"{self.input_name!r} is not an input of {self.path.name} "
                                           f"(it has {', '.join(inputs)})", where)
        if self.output_name not in outputs:
            raise ParamError("output.name", f"{self.output_name!r} is not an output of {self.path.name} "
                                            f"(it has {', '.join(outputs)})", where)
        self.name = f"onnx:{self.path}"

    def preprocess(self, images: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        inp = self.spec["input"]
        h, w = inp["size"]
        if inp["resize"] == "letterbox":
            pixels, lb = letterbox(images, h, w)
        else:
            import torch
            import torch.nn.functional as F

            x = torch.from_numpy(np.array(images, dtype=np.float32)).permute(0, 3, 1, 2)
            x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
            pixels = x.clamp(0, 255).permute(0, 2, 3, 1).numpy()
            lb = Letterbox(w / images.shape[2], h / images.shape[1], 0.0, 0.0)
        mean, std = np.asarray(inp["mean"], np.float32), np.asarray(inp["std"], np.float32)
        x = (pixels * np.float32(inp["scale"]) - mean) / std
        if inp["layout"] == "NCHW":
            x = x.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(x, dtype=np.float32), lb

    def raw(self, images: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        x, lb = self.preprocess(images)
        try:
            (y,) = self.session.run([self.output_name], {self.input_name: x})
        except Exception as e:
            shape = ", ".join(map(str, x.shape))
            raise SynthgenError(f"{self.path}: onnxruntime failed on a ({shape}) input: {e}") from None
        return np.asarray(y), lb

    def predict(self, images, infos=None, batch_size: int = 32) -> Prediction:
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ParamError("images", f"expected (B, H, W, 3) RGB, got shape {images.shape}")
        parts = [self._predict(images[i:i + batch_size]) for i in range(0, len(images), batch_size)]
        return Prediction.concat(parts) if parts else Prediction.missed(0)

    def _predict(self, images: np.ndarray) -> Prediction:
        out, where = self.spec["output"], str(self.spec_path)
        y, lb = self.raw(images)
        h, w = self.spec["input"]["size"]
        order = out["order"]
        if out["kind"] == "heatmaps":
            if y.ndim != 4:
                raise ParamError("output.kind", f"heatmaps must be 4-D, the model returned shape {y.shape}", where)
            if out["layout"] == "NHWC":
                y = y.transpose(0, 3, 1, 2)
            if max(order) >= y.shape[1]:
                raise ParamError("output.order", f"index {max(order)} but the model has {y.shape[1]} heatmaps", where)
            y = y[:, order].astype(np.float64)
            if out["activation"] == "sigmoid":
                y = 1.0 / (1.0 + np.exp(-y))
            return decode_prediction(y, lb, h, w, self.spec["detect_threshold"])
        if y.ndim != 3 or y.shape[2] not in (2, 3):
            raise ParamError("output.kind", f"keypoints must be (B, K, 3) or (B, K, 2), the model returned {y.shape}",
                             where)
        if max(order) >= y.shape[1]:
            raise ParamError("output.order", f"index {max(order)} but the model has {y.shape[1]} keypoints", where)
        y = y[:, order].astype(np.float64)
        scores = y[..., 2] if y.shape[2] == 3 else np.ones(y.shape[:2])
        if out["activation"] == "sigmoid":
            scores = 1.0 / (1.0 + np.exp(-scores))
        scores = np.clip(np.nan_to_num(scores, nan=0.0), 0.0, 1.0)
        return Prediction(lb.to_image(y[..., :2]), scores, scores.max(axis=1) >= self.spec["detect_threshold"])

    def close(self) -> None:
        self.session = None


def export_baseline(model, out: str | Path, opset: int = 17) -> tuple[Path, Path]:
    """Export a ``TorchBaseline`` to ONNX (dynamic batch) and write its spec next to it;
    returns (model path, spec path)."""
    import torch

    try:
        import onnx  # noqa: F401  (the exporter needs it)
    except ImportError:
        raise SynthgenError("export-onnx needs onnx, an optional extra: pip install 'pose-examiner[onnx]'") from None
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cfg = model.config
    s = cfg.input_size
    model.net.eval()
    dummy = torch.zeros(1, 3, s, s)
    tmp = out.with_name(f".tmp-{out.name}")
    try:
        # the TorchScript exporter: the dynamo one needs onnxscript, which is not a dependency
        torch.onnx.export(model.net, (dummy,), str(tmp), input_names=["image"], output_names=["heatmaps"],
                          dynamic_axes={"image": {0: "batch"}, "heatmaps": {0: "batch"}}, opset_version=opset,
                          dynamo=False)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    spec = {"input": {"name": "image", "size": [s, s], "layout": "NCHW", "scale": 1 / 255, "mean": list(cfg.mean),
                      "std": list(cfg.std)},
            "output": {"name": "heatmaps", "kind": "heatmaps", "order": "coco17"},
            "detect_threshold": cfg.detect_threshold}
    spec_path = write_spec(out.with_name(out.name + ".json"), spec)
    return out, spec_path
