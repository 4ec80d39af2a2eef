"""Body models behind one interface: ``get_body_model('anny')`` (default, free) or
``get_body_model('smpl', path=...)`` / ``'smplx'`` (the user's own model files)."""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from synthgen.body.base import BodyModel

BACKENDS = ("anny", "smpl", "smplx")


@functools.lru_cache(maxsize=None)
def _cached(backend: str, path: str | None, gender: str) -> "BodyModel":
    if backend == "anny":
        from synthgen.body.anny_body import AnnyBody

        return AnnyBody()
    from synthgen.body.smpl_body import SmplBody

    return SmplBody(path, model_type=backend, gender=gender)


def get_body_model(backend: str = "anny", path: str | os.PathLike | None = None, gender: str = "neutral") -> "BodyModel":
    """The body model of ``backend``, built once per process and reused."""
    from synthgen.errors import ParamError

    if backend not in BACKENDS:
        raise ParamError("body.backend", f"unknown backend '{backend}' (choose {', '.join(BACKENDS)})")
    return _cached(backend, None if path is None else str(path), gender)


def __getattr__(name: str):
    # the interface loads on first use, so that the data modules of this package (skeleton,
    # joint_limits: the pose vocabulary the catalog reads) import without torch or a body
    if name in ("BodyModel", "BodyOutput"):
        from synthgen.body import base

        return getattr(base, name)
    raise AttributeError(f"module 'synthgen.body' has no attribute {name!r}")


__all__ = ["BACKENDS", "BodyModel", "BodyOutput", "get_body_model"]
