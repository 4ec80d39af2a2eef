"""Models under test, selected by a spec string:

- ``mediapipe``: BlazePose (``mediapipe==0.10.14``, bundled full model), 2D + 3D world joints;
- ``torch:PATH``: the project's trainable heatmap baseline (``examiner train-baseline``);
- ``onnx:PATH``: an ONNX keypoint model with a declared input/output spec (``PATH.json``);
- ``python:module:function``: a user's callable;
- ``planted:FILE.yaml``: ground truth except inside hidden failure regions (benchmarks).

``load_trainable`` loads a model ``examiner finetune`` can train (``torch:`` or ``python:``; the
contract is in ``examiner/models/trainable.py``)."""

from __future__ import annotations

from examiner.models.base import ModelOutputError, ModelUnderTest, Prediction, SampleInfo
from synthgen.errors import ParamError

__all__ = ["ModelOutputError", "ModelUnderTest", "Prediction", "SampleInfo", "load_model", "load_trainable",
           "SPEC_HELP"]

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


def load_trainable(spec: str):
    """The model of ``--model``: ``torch:PATH`` (the baseline) or ``python:module:name``."""
    from examiner.models.trainable import is_trainable

    kind, _, rest = spec.partition(":")
    if kind == "torch" and rest:
        from examiner.models.baseline import TorchBaseline

        return TorchBaseline.load(rest)
    if kind != "python" or not rest:
        raise ParamError("--model", f"fine-tuning needs torch:CHECKPOINT or python:module:name (a model with "
                                    f"predict and train_step), got {spec!r}")
    from examiner.models.python_model import import_attribute

    module, name, obj = import_attribute(rest, "name")
    if obj is None:
        raise ParamError("--model", f"{module} has no {name!r}")
    if isinstance(obj, type) or not is_trainable(obj):
        if not callable(obj):
            raise ParamError("--model", f"{module}.{name} is neither a trainable model nor a factory of one")
        try:
            obj = obj()
        except TypeError as e:
            raise ParamError("--model", f"{module}.{name}() must build the model with no arguments ({e})") from None
    if not is_trainable(obj):
        raise ParamError("--model", f"{module}.{name} gives a {type(obj).__name__} without callable predict and "
                                    "train_step (see examiner/models/trainable.py)")
    if not getattr(obj, "name", None) or getattr(obj, "name") == "model":
        obj.name = spec
    return obj
