"""Params in, error out: render (or, for models that read no pixels, compute the ground truth
only), ask the model under test, score it. Batched, cached by parameters, and fault tolerant:
a model that raises or returns NaN / a wrong shape is recorded as such for that query, and
evaluation goes on. Every query that renders and predicts is counted (cache hits are not)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from examiner.metrics import score_sample
from examiner.models.base import ModelUnderTest, SampleInfo
from examiner.query_pool import describe_error, predict_batch, render_truths
from examiner.search_space import SearchSpace
from synthgen.derived import geometric_factors
from synthgen.workers import one_torch_thread

#: query status: scored; the model raised; the model returned an invalid prediction; the
#: parameters could not be rendered
STATUSES = ("ok", "model_error", "bad_output", "render_error")
#: a standing person's silhouette covers about half of its box (the area used without pixels)
SILHOUETTE_FILL = 0.5


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
    #: what the image showed (``synthgen.derived``), None where it was not rendered
    derived: dict | None = None

    def to_json(self) -> str:
        d = asdict(self)
        d["error"] = None if not np.isfinite(self.error) else float(self.error)  # exact: a resume replays it
        return json.dumps(d, default=float)


def cache_key(params: dict) -> str:
    return json.dumps({k: (round(v, 9) if isinstance(v, float) else v) for k, v in sorted(params.items())})


class Evaluator:
    """Evaluates parameter dicts or normalized vectors of ``search.space`` against ``model``."""

    def __init__(self, model: ModelUnderTest, search: SearchSpace, seed: int = 0, batch_size: int = 16,
                 cache: bool = True, pool=None):
        """``pool``: a ``QueryPool`` that renders (and, for per-image models, predicts) in
        parallel; None renders here (``render_truths``: the renders of a batch overlap, and a
        per-image model predicts each image as soon as it is drawn)."""
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
        self.pool = pool
        self._next_id = 0
        #: wall seconds spent answering new queries (render, predict, score), cache hits excluded
        self.seconds = 0.0

    @property
    def renderer(self):
        if self._renderer is None:
            from synthgen.render.renderer import Renderer

            self._renderer = Renderer(self.search.config)
        return self._renderer

    # --- public ---------------------------------------------------------------------------
    def evaluate_vectors(self, vectors) -> list[Query]:
        return self.evaluate([self.space.from_vector(v) for v in np.atleast_2d(vectors)])

    def evaluate(self, params_list: list[dict], seeds: list[int] | None = None) -> list[Query]:
        """One Query per parameter dict (searched dims; others take the space's values).
        ``seeds``: a render seed per dict (the scene's random layout, e.g. clutter); default:
        the evaluator's seed for every query, as in a search."""
        out: list[Query | None] = [None] * len(params_list)
        todo, first, repeats = [], {}, []
        if seeds is not None and len(seeds) != len(params_list):
            raise ValueError(f"{len(seeds)} seeds for {len(params_list)} parameter dicts")
        for i, p in enumerate(params_list):
            full = self._full(p)
            key = cache_key(full) if seeds is None else f"{cache_key(full)}#{seeds[i]}"
            hit = self.cached(key)
            if hit is not None:
                out[i] = hit
            elif self._cache is not None and key in first:
                repeats.append((i, first[key]))  # the same point twice in one call: a cache hit
            else:
                first[key] = i
                todo.append((i, full, key, self.seed if seeds is None else int(seeds[i])))
        t0 = time.perf_counter()
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start:start + self.batch_size]
            for (i, full, key, _), q in zip(chunk, self._run(chunk)):
                out[i] = q
                if self._cache is not None:
                    self._cache[key] = q
        self.seconds += time.perf_counter() - t0
        for i, j in repeats:
            out[i] = Query(**{**asdict(out[j]), "cached": True})
        return out  # type: ignore[return-value]

    def new_queries(self, vectors) -> list[bool]:
        """Per normalized vector, whether evaluating them in one call would render and count it
        (False for cache hits and for repeats of an earlier vector in the same call)."""
        seen, out = set(), []
        for v in np.atleast_2d(vectors):
            key = self.key_of(v)
            out.append(self.cached(key) is None and not (self._cache is not None and key in seen))
            seen.add(key)
        return out

    def key_of(self, vector) -> str:
        """The cache key of a normalized vector."""
        return cache_key(self._full(self.space.from_vector(vector)))

    def cached(self, key: str) -> Query | None:
        """The cached query for a full parameter dict's key, marked as a cache hit."""
        if self._cache is None or key not in self._cache:
            return None
        return Query(**{**asdict(self._cache[key]), "cached": True})

    def remember(self, key: str, query: Query) -> None:
        """Put a query answered elsewhere (a replayed log) into the cache, and keep the ids and
        counts in step with the run that made it."""
        if self._cache is not None:
            self._cache[key] = query
        self._next_id = max(self._next_id, query.id + 1)
        self.queries_used += 1
        self.counts[query.status] += 1

    # --- internals --------------------------------------------------------------------------
    def _full(self, params: dict) -> dict:
        return self.space.fixed | self.space.validate({k: v for k, v in params.items() if k in self.space.names})

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
        if getattr(self.model, "scores_params", False):  # a landscape: error from the parameters alone
            scored = self.model.score_params([full for _, full, _, _ in chunk])
            per_query = (time.perf_counter() - t0) / len(chunk)
            return [self._new_query(full, error=float(e), failed=bool(f), graded=True, seconds=per_query)
                    for (_, full, _, _), (e, f) in zip(chunk, scored)]
        failures, preds = {}, {}
        if self.model.needs_image:
            fulls = [full for _, full, _, _ in chunk]
            seeds = [seed for _, _, _, seed in chunk]
            if self.pool is not None:
                answers = self.pool.answer(fulls, seeds)
            else:
                streamed = self.model if getattr(self.model, "per_image", False) else None
                with one_torch_thread():  # the same bytes as a pool's single-threaded workers
                    answers = render_truths(self.renderer, fulls, seeds, streamed)
            truths = [a.get("truth") for a in answers]
            images = [a.get("image") for a in answers]
            failures = {j: a["error"] for j, a in enumerate(answers) if "error" in a}
            preds = {j: a["pred"] for j, a in enumerate(answers) if "pred" in a}
        else:
            images = [None] * len(chunk)
            try:
                truths = self._keypoints_only([full for _, full, _, _ in chunk])
            except Exception as e:  # noqa: BLE001
                truths = [None] * len(chunk)
                failures = {j: ("render_error", describe_error(e)) for j in range(len(chunk))}
        ok = [j for j in range(len(chunk)) if j not in failures and j not in preds]
        if ok:
            got, errs = predict_batch(self.model, [images[j] for j in ok], [truths[j]["info"] for j in ok],
                                      self.search.config.height, self.search.config.width)
            for local, err in errs.items():
                failures[ok[local]] = err
            preds |= {ok[k]: v for k, v in got.items()}
        per_query = (time.perf_counter() - t0) / len(chunk)
        queries = []
        for j, (_, full, _, _) in enumerate(chunk):
            derived = truths[j]["info"].derived if truths[j] is not None else None
            if j in failures:
                status, message = failures[j]
                graded = status != "render_error"
                queries.append(self._new_query(full, error=1.0 if graded else float("nan"), failed=graded,
                                               graded=graded, status=status, message=message, seconds=per_query,
                                               derived=derived))
                continue
            kp, det, j3 = preds[j]
            t = truths[j]
            m = score_sample(self.rule, kp, det, t["info"].keypoints2d, t["info"].visibility, t["info"].bbox,
                             t["area"], j3, t["keypoints3d"] if j3 is not None else None)
            queries.append(self._new_query(full, error=m.pop("error"), failed=m.pop("failed"), graded=m.pop("graded"),
                                           metrics=m, seconds=per_query,
                                           keypoints=np.round(kp, 2).tolist() if det else None, derived=derived))
        return queries

    def _keypoints_only(self, fulls: list[dict]) -> list[dict]:
        """Ground truth without pixels, for models that read none (one batched body call): the
        body's keypoints, visibility 2 inside the image and 0 outside (no occlusion test), the
        box of the projected body vertices, and as the person's area (OKS's scale) half that
        box (SILHOUETTE_FILL), instead of the exact silhouette the renderer would give."""
        import torch

        from synthgen.camera import camera_from_params

        cfg = self.search.config
        params = [cfg.space.complete(f) for f in fulls]
        out = self.renderer.body(params)
        truths = []
        for b, p in enumerate(params):
            cam = camera_from_params(p, cfg.width, cfg.height)
            R, t, K = (torch.as_tensor(a, dtype=torch.float64) for a in (cam.R, cam.t, cam.K))
            v = out.vertices[b].double() @ R.T + t
            front = v[:, 2] > 1e-3
            uv = ((v[front] @ K.T)[:, :2] / v[front, 2:3]).numpy()
            lo = np.clip(uv.min(0), -0.5, [cfg.width - 0.5, cfg.height - 0.5]) if len(uv) else np.zeros(2)
            hi = np.clip(uv.max(0), -0.5, [cfg.width - 0.5, cfg.height - 0.5]) if len(uv) else np.zeros(2)
            box = np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]])
            kp_cam = out.keypoints[b].double() @ R.T + t
            kp = ((kp_cam @ K.T)[:, :2] / kp_cam[:, 2:3]).numpy()
            inside = (kp_cam[:, 2].numpy() > 0) & (kp[:, 0] >= -0.5) & (kp[:, 0] < cfg.width - 0.5) \
                & (kp[:, 1] >= -0.5) & (kp[:, 1] < cfg.height - 0.5)
            derived = geometric_factors(kp, kp_cam.numpy(), out.joints[b].double().numpy() @ cam.R.T + cam.t,
                                        cam.K, cfg.width, cfg.height, box)
            info = SampleInfo(p, kp, np.where(inside, 2, 0), box, self.seed, derived)
            truths.append({"info": info, "area": float(SILHOUETTE_FILL * box[2] * box[3]),
                           "keypoints3d": kp_cam.numpy()})
        return truths
