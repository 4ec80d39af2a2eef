"""Params in, error out: render (or, for models that read no pixels, compute the ground truth
only), ask the model under test, score it. Batched, cached by parameters, and fault tolerant:
a model that raises or returns NaN / a wrong shape is recorded as such for that query, and
evaluation goes on. Every query that renders and predicts is counted (cache hits are not)."""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import asdict, dataclass, field

import numpy as np

from examiner.metrics import score_sample
from examiner.models.base import ModelUnderTest, Prediction, SampleInfo
from examiner.search_space import SearchSpace
from synthgen.errors import SynthgenError

#: query status: scored; the model raised; the model returned an invalid prediction; the
#: parameters could not be rendered
STATUSES = ("ok", "model_error", "bad_output", "render_error")


@dataclass
class Query:
    id: int
    params: dict  # the searched dims, named
    error: float  # in [0, 1]; NaN when not graded
    failed: bool
    graded: bool
    status: str = "ok"
    message: str = ""
    metrics: dict = field(default_factory=dict)
    seconds: float = 0.0
    cached: bool = False
    #: the model's 2D keypoints (for reports), None if no person was found
    keypoints: list | None = None

    def to_json(self) -> str:
        d = asdict(self)
        d["error"] = None if not np.isfinite(self.error) else round(self.error, 6)
        return json.dumps(d, default=float)


def cache_key(params: dict) -> str:
    return json.dumps({k: (round(v, 9) if isinstance(v, float) else v) for k, v in sorted(params.items())})


class Evaluator:
    """Evaluates parameter dicts or normalized vectors of ``search.space`` against ``model``."""

    def __init__(self, model: ModelUnderTest, search: SearchSpace, seed: int = 0, batch_size: int = 16,
                 cache: bool = True):
        self.model = model
        self.search = search
        self.space = search.space
        self.rule = search.rule
        self.seed = seed
        self.batch_size = batch_size
        self.queries_used = 0
        self.counts = {s: 0 for s in STATUSES}
        self._cache: dict[str, Query] | None = {} if cache else None
        self._renderer = None
        self._next_id = 0

    @property
    def renderer(self):
        if self._renderer is None:
            from synthgen.render.renderer import Renderer

            self._renderer = Renderer(self.search.config)
        return self._renderer

    # --- public ---------------------------------------------------------------------------
    def evaluate_vectors(self, vectors) -> list[Query]:
        return self.evaluate([self.space.from_vector(v) for v in np.atleast_2d(vectors)])

    def evaluate(self, params_list: list[dict]) -> list[Query]:
        """One Query per parameter dict (searched dims; others take the space's values)."""
        out: list[Query | None] = [None] * len(params_list)
        todo = []
        for i, p in enumerate(params_list):
            full = self.space.fixed | self.space.validate({k: v for k, v in p.items() if k in self.space.names})
            key = cache_key(full)
            if self._cache is not None and key in self._cache:
                hit = self._cache[key]
                out[i] = Query(**{**asdict(hit), "cached": True})
            else:
                todo.append((i, full, key))
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start:start + self.batch_size]
            for (i, full, key), q in zip(chunk, self._run(chunk)):
                out[i] = q
                if self._cache is not None:
                    self._cache[key] = q
        return out  # type: ignore[return-value]

    # --- internals --------------------------------------------------------------------------
    def _searched(self, full: dict) -> dict:
        return {n: full[n] for n in self.space.names}

    def _new_query(self, full: dict, **kw) -> Query:
        q = Query(self._next_id, self._searched(full), **kw)
        self._next_id += 1
        self.queries_used += 1
        self.counts[q.status] += 1
        return q

    def _run(self, chunk) -> list[Query]:
        t0 = time.perf_counter()
        truths, images, failures = [], [], {}
        for j, (_, full, _) in enumerate(chunk):
            try:
                truth, image = self._ground_truth(full)
            except Exception as e:  # noqa: BLE001 - a parameter point that cannot render is recorded
                failures[j] = ("render_error", _describe(e))
                truth, image = None, None
            truths.append(truth)
            images.append(image)
        ok = [j for j in range(len(chunk)) if j not in failures]
        preds: dict[int, tuple] = {}
        if ok:
            preds, errs = self._predict([images[j] for j in ok], [truths[j]["info"] for j in ok])
            for local, err in errs.items():
                failures[ok[local]] = err
            preds = {ok[k]: v for k, v in preds.items()}
        per_query = (time.perf_counter() - t0) / len(chunk)
        queries = []
        for j, (_, full, _) in enumerate(chunk):
            if j in failures:
                status, message = failures[j]
                graded = status != "render_error"
                queries.append(self._new_query(full, error=1.0 if graded else float("nan"), failed=graded,
                                               graded=graded, status=status, message=message, seconds=per_query))
                continue
            kp, det, j3 = preds[j]
            t = truths[j]
            m = score_sample(self.rule, kp, det, t["info"].keypoints2d, t["info"].visibility, t["info"].bbox,
                             t["area"], j3, t["keypoints3d"] if j3 is not None else None)
            queries.append(self._new_query(full, error=m.pop("error"), failed=m.pop("failed"), graded=m.pop("graded"),
                                           metrics=m, seconds=per_query,
                                           keypoints=np.round(kp, 2).tolist() if det else None))
        return queries

    def _predict(self, images: list, infos: list[SampleInfo]) -> tuple[dict, dict]:
        """{index: (keypoints, detected, joints3d)} and {index: (status, message)}; a batch that
        fails is retried image by image so that one bad image does not sink the others."""
        from examiner.models.base import ModelOutputError

        batch = None if not self.model.needs_image else np.stack(images)
        H, W = self.search.config.height, self.search.config.width
        try:
            pred: Prediction = self.model.predict(batch, infos).check(len(infos), H, W)
        except Exception as e:  # noqa: BLE001 - the model under test may do anything
            if len(infos) > 1:
                preds, errs = {}, {}
                for k in range(len(infos)):
                    p, e1 = self._predict(images[k:k + 1], infos[k:k + 1])
                    if p:
                        preds[k] = p[0]
                    else:
                        errs[k] = e1[0]
                return preds, errs
            status = "bad_output" if isinstance(e, ModelOutputError) else "model_error"
            return {}, {0: (status, _describe(e))}
        return {k: (pred.keypoints[k], bool(pred.detected[k]), None if pred.joints3d is None else pred.joints3d[k])
                for k in range(len(infos))}, {}

    def _ground_truth(self, full: dict) -> tuple[dict, np.ndarray | None]:
        if self.model.needs_image:
            s = self.renderer.render(full, self.seed)
            info = SampleInfo(s.params, s.keypoints2d.astype(np.float64), s.visibility, s.bbox, self.seed)
            return {"info": info, "area": float(s.mask_visible.sum()), "keypoints3d": s.keypoints3d}, s.image
        return self._keypoints_only(full), None

    def _keypoints_only(self, full: dict) -> dict:
        """Ground truth without pixels (for models that read none): the body's keypoints and
        silhouette from the exact raster of the unclothed body; visibility 2 inside the image,
        0 outside (no occlusion test)."""
        import torch

        from synthgen.camera import camera_from_params
        from synthgen.render.raster import rasterize

        cfg = self.search.config
        params = cfg.space.complete(full)
        out = self.renderer.body(params)
        cam = camera_from_params(params, cfg.width, cfg.height)
        R, t, K = (torch.as_tensor(a, dtype=torch.float64) for a in (cam.R, cam.t, cam.K))
        v = out.vertices[0].double() @ R.T + t
        raster = rasterize(v, out.faces.long(), K, cfg.height, cfg.width)
        mask = (raster.face >= 0).numpy()
        kp_cam = out.keypoints[0].double() @ R.T + t
        kp = ((kp_cam @ K.T)[:, :2] / kp_cam[:, 2:3]).numpy()
        inside = (kp_cam[:, 2].numpy() > 0) & (kp[:, 0] >= -0.5) & (kp[:, 0] < cfg.width - 0.5) \
            & (kp[:, 1] >= -0.5) & (kp[:, 1] < cfg.height - 0.5)
        from synthgen.annotate import bbox_of

        info = SampleInfo(params, kp, np.where(inside, 2, 0), bbox_of(mask), self.seed)
        return {"info": info, "area": float(mask.sum()), "keypoints3d": kp_cam.numpy()}


def _describe(e: BaseException) -> str:
    if isinstance(e, SynthgenError):
        return str(e)
    tb = traceback.extract_tb(e.__traceback__)
    where = f" at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else ""
    return f"{type(e).__name__}: {e}{where}"
