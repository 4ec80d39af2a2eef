"""Body models behind one interface: ``get_body_model('anny')`` (default, free) or
``get_body_model('smpl', path=...)`` / ``'smplx'`` (the user's own model files)."""

from __future__ import annotations

import functools
import os

from synthgen.body.base import BodyModel, BodyOutput

BACKENDS = ("anny", "smpl", "smplx")


@functools.lru_cache(maxsize=None)
def _cached(backend: str, path: str | None, gender: str) -> BodyModel:
    if backend == "anny":
        from synthgen.body.anny_body import AnnyBody

        return AnnyBody()
    from synthgen.body.smpl_body import SmplBody

    return SmplBody(path, model_type=backend, gender=gender)


def get_body_model(backend: str = "anny", path: str | os.PathLike | None = None, gender: str = "neutral") -> BodyModel:
    """The body model of ``backend``, built once per process and reused."""
    from synthgen.errors import ParamError

    if backend not in BACKENDS:
        raise ParamError("body.backend", f"unknown backend '{backend}' (choose {', '.join(BACKENDS)})")
    return _cached(backend, None if path is None else str(path), gender)


__all__ = ["BACKENDS", "BodyModel", "BodyOutput", "get_body_model"]
