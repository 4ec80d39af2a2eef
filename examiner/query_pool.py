"""Parallel evaluation for searches: N local processes (``--workers N``) or Ray actors (``--ray
[ADDRESS]``), each holding a renderer of the search's scene and, for a model whose predictions
do not depend on the rest of the batch (``ModelUnderTest.per_image``) and that loads from its
spec, a copy of the model. Every other model predicts in the search's own process, on the same
batches as without workers.

Results do not depend on the worker count: a query renders from its parameters and the search
seed alone (byte-identical in any process, see ``synthgen.render.gl``), answers come back in
the order asked, and the search decides what to ask next only from answers."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np

from examiner.models.base import ModelOutputError, ModelUnderTest, Prediction, SampleInfo
from synthgen.derived import derived_factors
from synthgen.errors import ParamError, SynthgenError
from synthgen.workers import init_worker, ray_session, set_thread_env


# --- one query's work, the same in the search's process and in a worker ---------------------------
def render_truths(renderer, fulls: list[dict], seeds: list[int], model: ModelUnderTest | None = None) -> list[dict]:
    """Per full parameter dict: {'truth': ground truth for scoring, 'image': RGB}, or
    {'error': ('render_error', message)} for a point that cannot render (it is recorded). The
    renders overlap (``Renderer.render_many``). With a ``model`` (one that predicts each image
    on its own, ``ModelUnderTest.per_image``), each image is also predicted ('pred', or 'error'
    for the model's failure) as soon as it is drawn, on a thread of its own and in order, while
    the next image is drawn (OpenGL) and the ones after it posed, dressed and labelled on the
    renderer's other threads (BlazePose, studio scene, batch 16, 2 cores: 17.0 queries/s,
    against 16.0 when it predicted on the caller's thread between two draws)."""
    import torch

    answers, pending, threads = [], [], torch.get_num_threads()

    def predict(image, info):  # on the caller's number of torch threads, as the renderer's steps
        torch.set_num_threads(threads)
        return predict_batch(model, [image], [info], *image.shape[:2])

    with ThreadPoolExecutor(max_workers=1) if model is not None else contextlib.nullcontext() as predictor:
        for s, seed in zip(renderer.render_many(zip(fulls, seeds), errors=True), seeds):
            if isinstance(s, Exception):
                answers.append({"error": ("render_error", describe_error(s))})
                continue
            info = SampleInfo(s.params, s.keypoints2d.astype(np.float64), s.visibility, s.bbox, seed, derived_factors(s))
            out = {"truth": {"info": info, "area": float(s.mask_visible.sum()), "keypoints3d": s.keypoints3d},
                   "image": s.image}
            if model is not None:
                pending.append((out, predictor.submit(predict, s.image, info)))
            answers.append(out)
    for out, future in pending:
        preds, errs = future.result()
        if errs:
            out["error"] = errs[0]
        else:
            out["pred"] = preds[0]
    return answers


def predict_batch(model: ModelUnderTest, images: list, infos: list[SampleInfo], height: int,
                  width: int) -> tuple[dict, dict]:
    """{index: (keypoints, detected, joints3d)} and {index: (status, message)}; a batch that
    fails is retried image by image so that one bad image does not sink the others."""
    batch = None if not model.needs_image else np.stack(images)
    try:
        pred: Prediction = model.predict(batch, infos).check(len(infos), height, width)
    except Exception as e:  # noqa: BLE001 - the model under test may do anything
        if len(infos) > 1:
            preds, errs = {}, {}
            for k in range(len(infos)):
                p, e1 = predict_batch(model, images[k:k + 1], infos[k:k + 1], height, width)
                if p:
                    preds[k] = p[0]
                else:
                    errs[k] = e1[0]
            return preds, errs
        status = "bad_output" if isinstance(e, ModelOutputError) else "model_error"
        return {}, {0: (status, describe_error(e))}
    return {k: (pred.keypoints[k], bool(pred.detected[k]), None if pred.joints3d is None else pred.joints3d[k])
            for k in range(len(infos))}, {}


def describe_error(e: BaseException) -> str:
    import traceback

    if isinstance(e, SynthgenError):
        return str(e)
    tb = traceback.extract_tb(e.__traceback__)
    where = f" at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else ""
    return f"{type(e).__name__}: {e}{where}"


class _Worker:
    """What a process or actor holds: a renderer, and the model when it predicts there."""

    def __init__(self, config, model_spec: str | None):
        from examiner.models import load_model
        from synthgen.render.renderer import Renderer

        self.config = config
        self.renderer = Renderer(config)
        self.model = load_model(model_spec) if model_spec else None

    def answer(self, full: dict, seed: int) -> dict:
        return render_truths(self.renderer, [full], [seed], self.model)[0]


_WORKER: _Worker | None = None


def _init_local(config, model_spec: str | None, parent_pid: int) -> None:
    global _WORKER
    init_worker(parent_pid)
    _WORKER = _Worker(config, model_spec)


def _answer_local(full: dict, seed: int) -> dict:
    return _WORKER.answer(full, seed)


def pool_for(search, model: ModelUnderTest, model_spec: str | None, workers: int = 1,
             ray_address: str | None = None) -> "QueryPool | None":
    """A pool where there is parallel work (more than one worker, or Ray, and a model that
    reads pixels), else None; ``model_spec`` None: the workers only render."""
    if workers < 1:
        raise ParamError("--workers", f"expected at least 1 worker, got {workers}")
    if (workers == 1 and not ray_address) or not model.needs_image or getattr(model, "scores_params", False):
        return None
    return QueryPool(search.config, workers, model, model_spec, ray_address)


class QueryPool:
    """``answer(fulls)``: one dict per full parameter dict, in order: 'truth' and 'image', and
    'pred' where the workers predict (``predicts``), or 'error': (status, message)."""

    def __init__(self, config, workers: int, model: ModelUnderTest, model_spec: str | None = None,
                 ray_address: str | None = None):
        if workers < 1:
            raise ParamError("--workers", f"expected at least 1 worker, got {workers}")
        self.workers = workers
        self.predicts = bool(model_spec) and getattr(model, "per_image", False) and model.needs_image
        spec = model_spec if self.predicts else None
        self._stack = contextlib.ExitStack()
        self._pool = self._actors = None
        if ray_address:
            ray = self._stack.enter_context(ray_session(ray_address, workers))
            gpus = float(ray.cluster_resources().get("GPU", 0.0))
            actor = ray.remote(num_cpus=1, num_gpus=min(1.0, gpus / workers) if gpus else 0)(_Worker)
            self._actors = [actor.remote(config, spec) for _ in range(workers)]
        else:
            set_thread_env()
            self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                             initializer=_init_local, initargs=(config, spec, os.getpid()))

    def answer(self, fulls: list[dict], seeds: list[int]) -> list[dict]:
        """One answer per full parameter dict, rendered with its seed, in order."""
        if self._actors is not None:
            from ray.util import ActorPool

            return list(ActorPool(self._actors).map(lambda a, job: a.answer.remote(*job), list(zip(fulls, seeds))))
        return list(self._pool.map(_answer_local, fulls, seeds))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
        self._actors = None
        self._stack.close()
