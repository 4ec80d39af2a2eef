"""``python:module:function``: a user's own callable as the model under test.

The function takes ``images`` ((B, H, W, 3) uint8 RGB) and returns a Prediction, or an array
(B, 17, 3) of x, y, score per COCO-17 keypoint (a row of NaN = no person), or a dict with
``keypoints`` (B, 17, 2), ``scores`` (B, 17) and optionally ``detected`` (B,) and
``joints3d`` (B, 17, 3). A function that sets ``per_image = True`` on itself (its answer
for an image depends on that image alone) is copied into ``examiner search --workers``'
processes and predicts there."""

from __future__ import annotations

import importlib

import numpy as np

from examiner.models.base import ModelOutputError, ModelUnderTest, Prediction
from synthgen.errors import ParamError


def import_attribute(target: str, word: str = "function") -> tuple[str, str, object]:
    """(module, name, the module's attribute or None) of ``module:name`` (``--model python:...``)."""
    module, _, name = target.rpartition(":")
    if not module or not name:
        raise ParamError("--model", f"expected python:module:{word}, got python:{target}")
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise ParamError("--model", f"cannot import module {module!r} ({e})") from None
    return module, name, getattr(mod, name, None)


class PythonModel(ModelUnderTest):
    def __init__(self, target: str):
        module, func, self.fn = import_attribute(target)
        if not callable(self.fn):
            raise ParamError("--model", f"{module} has no callable {func!r}")
        self.name = f"python:{target}"
        self.per_image = bool(getattr(self.fn, "per_image", False))

    def predict(self, images: np.ndarray, infos=None) -> Prediction:
        return to_prediction(self.fn(images), len(images))


def to_prediction(out, batch: int) -> Prediction:
    if isinstance(out, Prediction):
        return out
    if isinstance(out, dict):
        if "keypoints" not in out or "scores" not in out:
            raise ModelOutputError("a dict prediction needs 'keypoints' and 'scores'")
        det = out.get("detected", np.ones(batch, dtype=bool))
        return Prediction(out["keypoints"], out["scores"], det, out.get("joints3d"))
    arr = np.asarray(out, dtype=np.float64)
    if arr.shape != (batch, 17, 3):
        raise ModelOutputError(f"expected an array of shape {(batch, 17, 3)} (x, y, score), got {arr.shape}")
    det = ~np.isnan(arr).all(axis=(1, 2))
    return Prediction(np.where(det[:, None, None], arr[..., :2], 0.0), np.where(det[:, None], arr[..., 2], 0.0), det)
