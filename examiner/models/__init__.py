"""Models under test, selected by a spec string:

- ``mediapipe``: BlazePose (``mediapipe==0.10.14``, bundled full model), 2D + 3D world joints;
- ``torch:PATH``: the project's trainable heatmap baseline (``examiner train-baseline``);
- ``onnx:PATH``: an ONNX keypoint model with a declared input/output spec (``PATH.json``);
- ``python:module:function``: a user's callable;
- ``planted:FILE.yaml``: ground truth except inside hidden failure regions (benchmarks)."""

from __future__ import annotations

from examiner.models.base import ModelOutputError, ModelUnderTest, Prediction, SampleInfo
from synthgen.errors import ParamError

__all__ = ["ModelOutputError", "ModelUnderTest", "Prediction", "SampleInfo", "load_model", "SPEC_HELP"]

SPEC_HELP = "mediapipe | torch:PATH | onnx:PATH | python:module:function | planted:FILE.yaml"


def load_model(spec: str) -> ModelUnderTest:
    """The model named by ``spec`` (see the module docstring)."""
    kind, _, rest = spec.partition(":")
    if kind == "mediapipe" and not rest:
        from examiner.models.blazepose import BlazePose

        return BlazePose()
    if kind == "torch" and rest:
        from examiner.models.baseline import TorchBaseline

        return TorchBaseline.load(rest)
    if kind == "onnx" and rest:
        from examiner.models.onnx_model import OnnxModel

        return OnnxModel(rest)
    if kind == "python" and rest:
        from examiner.models.python_model import PythonModel

        return PythonModel(rest)
    if kind == "planted" and rest:
        from examiner.models.planted import PlantedModel

        return PlantedModel.from_yaml(rest)
    raise ParamError("--model", f"unknown model spec {spec!r} (expected {SPEC_HELP})")
