"""``synthgen generate``: plan shards, keep the finished ones of an earlier run, render the rest
on local worker processes or Ray, keep the manifest current after every shard, and merge the
COCO annotations when the last shard lands."""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import shutil
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from synthgen.dataset import manifest
from synthgen.dataset.coco import coco_document
from synthgen.dataset.files import json_bytes, sha256_bytes, sha256_file, write_atomic
from synthgen.dataset.shards import FORMATS, ShardJob, check_shard, write_shard
from synthgen.errors import ParamError, SynthgenError
from synthgen.workers import init_worker, ray_session, set_thread_env

MERGED_COCO = "coco.json"


@dataclass
class Summary:
    out: Path
    n: int
    shards: int
    kept: int  # shards found finished from an earlier run
    rendered: int  # samples rendered by this run
    annotations: int
    seconds: float
    backend: str
    #: draws per rendered sample (1 unless a region bounds derived factors: rejection sampling)
    draws: int = 0
    #: {mode id: (accepted, draws)} of the probe before the run, for modes in derived factors
    probe: dict | None = None

    @property
    def acceptance(self) -> float | None:
        return self.rendered / self.draws if self.draws and self.draws != self.rendered else None

    @property
    def rate(self) -> float:
        return self.rendered / self.seconds if self.seconds > 0 else 0.0


def parse_formats(text: str) -> tuple[str, ...]:
    names = [f.strip() for f in text.split(",") if f.strip()]
    for f in names:
        if f not in FORMATS:
            raise ParamError("--format", f"unknown format {f!r} (choose from {', '.join(FORMATS)})")
    if not names:
        raise ParamError("--format", "name at least one format")
    return tuple(f for f in FORMATS if f in names)


def generate(scene: str | Path, n: int, out: str | Path, seed: int = 0, workers: int = 1,
             ray_address: str | None = None, size: int | None = None, formats: str = "coco,densepose,dense",
             shard_size: int = 64, dp_points: int = 100, progress=None, regions: str | Path | None = None,
             derived: bool = False) -> Summary:
    """Write (or finish) a dataset of ``n`` samples of ``scene`` in ``out``. ``progress`` is
    an object with ``start(total, done)`` and ``advance(k)`` (the CLI passes a progress bar)."""
    from synthgen.scene import SceneConfig

    scene = Path(scene)
    if not scene.is_file():
        raise ParamError("--scene", f"no such file: {scene}")
    for name, value, low in (("-n", n, 1), ("--workers", workers, 1), ("--shard-size", shard_size, 1),
                             ("--seed", seed, 0), ("--dp-points", dp_points, 1)):
        if value < low:
            raise ParamError(name, f"must be at least {low}, got {value}")
    fmts = parse_formats(formats)
    config = SceneConfig.from_yaml(scene, size)  # every problem of the scene file surfaces here
    if regions is not None:
        from synthgen.dataset.regions import load_regions

        if not Path(regions).is_file():
            raise ParamError("--from-regions", f"no such file: {regions}")
        loaded = load_regions(regions, derived)
        for r in loaded:  # values and joint limits checked before anything is written
            for end in (0, -1):
                config.space.validate({k: v[end] for k, v in r["bounds"].items()}, strict=False, where=str(regions))
    elif derived:
        raise ParamError("--derived", "draws from the modes in derived factors of a --from-regions file; give one")
    root = Path(out)
    identity = {"scene_sha256": sha256_file(scene), "seed": seed, "width": config.width, "height": config.height,
                "formats": list(fmts), "shard_size": shard_size, "dp_points": dp_points,
                "regions_sha256": sha256_file(regions) if regions is not None else None,
                "regions_kind": "derived" if derived else None}
    existing = manifest.load(root) if root.is_dir() else None
    if existing is None and root.is_dir() and any(root.iterdir()):
        raise SynthgenError(f"{root}: not empty and holds no {manifest.MANIFEST}; choose an empty or new --out")
    if existing is not None:
        manifest.check_same_run(existing, identity, root, n)

    probed = None
    if regions is not None and any(r["derived"] for r in loaded):
        from synthgen.dataset.regions import probe
        from synthgen.dataset.shards import renderer_for

        free = tuple(sorted({name for r in loaded for name in r["bounds"]}))
        scene_config, renderer = renderer_for(str(scene.resolve()), size, free)
        probed = probe(scene_config, renderer, loaded, seed)  # a mode out of reach fails here, before anything is written
    n_shards = math.ceil(n / shard_size)
    jobs = [ShardJob(str(root.resolve()), k, k * shard_size, min(shard_size, n - k * shard_size),
                     str(scene.resolve()), size, seed, fmts, dp_points,
                     str(Path(regions).resolve()) if regions is not None else None, derived) for k in range(n_shards)]
    root.mkdir(parents=True, exist_ok=True)
    shards = _keep_finished(root, jobs)
    write_atomic(root / "scene.yaml", scene.read_bytes())
    manifest.write(root, identity, scene.name, n, shards, n_shards)
    todo = [j for j in jobs if j.index not in shards]
    if progress:
        progress.start(n, sum(s["count"] for s in shards.values()))
    t0 = time.perf_counter()
    backend = f"ray ({ray_address})" if ray_address else f"{workers} local worker{'s' * (workers > 1)}"
    kept = len(shards)

    def landed(record: dict) -> None:
        shards[record["index"]] = record
        manifest.write(root, identity, scene.name, n, shards, n_shards)

    if todo:
        if ray_address:
            _run_ray(todo, ray_address, workers, landed, progress)
        else:
            _run_local(todo, workers, landed, progress)
    merged = _merge_coco(root, jobs) if ("coco" in fmts or "densepose" in fmts) else {}
    manifest.write(root, identity, scene.name, n, shards, n_shards, merged)
    rendered = sum(j.count for j in todo)
    draws = sum(shards[j.index].get("draws", j.count) for j in todo)
    return Summary(root, n, n_shards, kept, rendered, sum(s["annotations"] for s in shards.values()),
                   time.perf_counter() - t0, backend, draws, probed)


def _keep_finished(root: Path, jobs: list[ShardJob]) -> dict[int, dict]:
    """Shards of an earlier run that are whole; partial ones and temporaries are removed."""
    folder = root / "shards"
    kept = {}
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.name.startswith(".tmp-"):
                shutil.rmtree(entry, ignore_errors=True)
        for job in jobs:
            path = root / job.name
            if path.exists():
                record = check_shard(root, job.index, job.start, job.count)
                if record is None:
                    shutil.rmtree(path)
                else:
                    kept[job.index] = record
    return kept


def _merge_coco(root: Path, jobs: list[ShardJob]) -> dict:
    """One COCO file for the whole dataset (image file names are relative to the folder)."""
    images, annotations = [], []
    for job in jobs:
        doc = json.loads((root / job.name / "coco.json").read_text())
        images += doc["images"]
        annotations += doc["annotations"]
    data = json_bytes(coco_document(images, annotations, "synthgen dataset"))
    write_atomic(root / MERGED_COCO, data)
    return {MERGED_COCO: sha256_bytes(data)}


# --- local worker processes ---------------------------------------------------------------------
_QUEUE = None


def _init_worker(queue, parent_pid: int) -> None:
    global _QUEUE
    init_worker(parent_pid)
    _QUEUE = queue


def _local_shard(job: ShardJob) -> dict:
    return write_shard(job, progress=lambda k: _QUEUE.put(k))


def _run_local(todo: list[ShardJob], workers: int, landed, progress) -> None:
    set_thread_env()
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=ctx, initializer=_init_worker,
                             initargs=(queue, os.getpid())) as pool:
        pending = {pool.submit(_local_shard, job) for job in todo}
        try:
            while pending:
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                _drain(queue, progress)
                for fut in done:
                    landed(fut.result())
            _drain(queue, progress)
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise


def _drain(queue, progress) -> None:
    import queue as queue_mod

    while True:
        try:
            k = queue.get_nowait()
        except queue_mod.Empty:
            return
        if progress:
            progress.advance(k)


# --- Ray ------------------------------------------------------------------------------------------
def _ray_shard(job: ShardJob) -> dict:
    return write_shard(job)


def _run_ray(todo: list[ShardJob], address: str, workers: int, landed, progress) -> None:
    with ray_session(address, workers) as ray:
        task = ray.remote(num_cpus=1, max_retries=2)(_ray_shard)
        refs = {task.remote(job): job for job in todo}
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1, timeout=0.5)
            for ref in done:
                job = refs.pop(ref)
                landed(ray.get(ref))
                if progress:
                    progress.advance(job.count)
