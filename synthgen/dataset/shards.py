"""One shard of a dataset: a fixed range of sample indices rendered and written into a folder
under a temporary name, then renamed into place, so a shard is either complete or absent.

Sample i depends only on (seed, i): its parameters, its render seed and its DensePose point
choice come from ``numpy.random.SeedSequence([seed, i])``; workers render with one torch thread,
so bytes do not depend on how many workers there are or where they run."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthgen.dataset.coco import coco_document, image_record, person_annotation
from synthgen.dataset.files import json_bytes, npz_bytes, png_bytes, sha256_bytes, sha256_file, tar_bytes
from synthgen.errors import SynthgenError
from synthgen.render.gl import renderer_name

FORMATS = ("coco", "densepose", "dense", "webdataset")
SHARD_FILE = "shard.json"


@dataclass(frozen=True)
class ShardJob:
    out: str  # dataset folder
    index: int
    start: int
    count: int
    scene: str  # scene file (absolute path)
    size: int | None
    seed: int
    formats: tuple[str, ...]
    dp_points: int = 100
    regions: str | None = None  # a failures.json: samples are drawn inside its regions
    derived: bool = False  # ... inside its map's modes in derived factors

    @property
    def name(self) -> str:
        return shard_name(self.index)


def shard_name(index: int) -> str:
    return f"shards/{index:05d}"


def sample_seeds(seed: int, index: int) -> tuple[np.random.Generator, int, np.random.Generator]:
    """(parameter rng, render seed, annotation rng) of sample ``index`` of a run with ``seed``."""
    params_ss, render_ss, ann_ss = np.random.SeedSequence([seed, index]).spawn(3)
    return np.random.default_rng(params_ss), int(render_ss.generate_state(1)[0]), np.random.default_rng(ann_ss)


_RENDERERS: dict = {}


def renderer_for(scene: str, size: int | None, free: tuple[str, ...] = ()):
    """(SceneConfig, Renderer) of a scene, built once per process. ``free`` names dims whose
    values may leave the scene's own bounds (failure regions; the catalog's limits still hold)."""
    key = (scene, size, free)
    if key not in _RENDERERS:
        from dataclasses import replace

        from synthgen.render.renderer import Renderer
        from synthgen.scene import SceneConfig

        config = SceneConfig.from_yaml(scene, size)
        space = replace(config.space, dims=tuple(d for d in config.space.dims if d.name not in free))
        _RENDERERS[key] = (config, Renderer(replace(config, space=space)))
    return _RENDERERS[key]


_REGIONS: dict = {}


def sample_params(job: ShardJob, index: int, params_rng: np.random.Generator) -> tuple[dict, dict | None]:
    """The parameters of sample ``index`` (and the failure region it was drawn in, if any)."""
    config, _ = renderer_for(job.scene, job.size)
    params = config.space.sample(params_rng)
    if job.regions is None:
        return params, None
    from synthgen.dataset.regions import in_region, load_regions

    if job.regions not in _REGIONS:
        _REGIONS[job.regions] = load_regions(job.regions, job.derived)
    regions = _REGIONS[job.regions]
    region = regions[index % len(regions)]
    return in_region(params, region, params_rng), region


def render_sample(job: ShardJob, index: int):
    """(sample, annotation rng, region id or None, draws): a region with derived bounds draws
    the parameters again until the image shows it (``regions.MAX_DRAWS`` at most)."""
    from synthgen.dataset.regions import MAX_DRAWS, shows
    from synthgen.derived import derived_factors

    params_rng, render_seed, ann_rng = sample_seeds(job.seed, index)
    for draw in range(1, MAX_DRAWS + 1):
        params, region = sample_params(job, index, params_rng)
        free = tuple(sorted({n for r in _REGIONS.get(job.regions, []) for n in r["bounds"]}))
        _, renderer = renderer_for(job.scene, job.size, free)
        sample = renderer.render(params, render_seed)
        if region is None or not region["derived"] or shows(derived_factors(sample), region["derived"]):
            return sample, ann_rng, None if region is None else region["id"], draw
    raise SynthgenError(f"sample {index}: none of {MAX_DRAWS} draws showed mode {region['id']} "
                        f"({region['derived']}); widen the mode or use a scene that reaches it more often")


def render_samples(job: ShardJob):
    """``render_sample`` of each index of the shard, in order. Without failure regions the
    parameters of every sample are known beforehand, so the renders overlap
    (``Renderer.render_many``)."""
    indices = range(job.start, job.start + job.count)
    if job.regions is not None:
        yield from (render_sample(job, i) for i in indices)
        return
    _, renderer = renderer_for(job.scene, job.size)
    seeds = [sample_seeds(job.seed, i) for i in indices]
    jobs = ((sample_params(job, i, rng)[0], render_seed) for i, (rng, render_seed, _) in zip(indices, seeds))
    for sample, (_, _, ann_rng) in zip(renderer.render_many(jobs), seeds):
        yield sample, ann_rng, None, 1


def write_shard(job: ShardJob, progress=None) -> dict:
    """Render and write one shard; returns its record for the manifest. ``progress(k)`` is
    called after each sample."""
    import torch

    torch.set_num_threads(1)
    root = Path(job.out)
    final = root / job.name
    tmp = final.with_name(f".tmp-{final.name}-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    written: dict[str, str] = {}

    def put(rel: str, data: bytes) -> None:
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written[rel] = sha256_bytes(data)

    images, annotations, members, draws = [], [], [], 0
    for i, (sample, ann_rng, region, n_draws) in zip(range(job.start, job.start + job.count), render_samples(job)):
        draws += n_draws
        key = f"{i:08d}"
        image_file = f"{job.name}/images/{key}.png"
        image_png = png_bytes(sample.image)
        put(f"images/{key}.png", image_png)
        ann = None
        if "coco" in job.formats or "densepose" in job.formats:
            images.append(image_record(i + 1, image_file, sample.size[0], sample.size[1], i))
            ann = person_annotation(sample, i + 1, i + 1, "densepose" in job.formats, ann_rng, job.dp_points)
            if ann is not None:
                annotations.append(ann)
        meta = {"index": i, "image": image_file} | ({"region": region} if region is not None else {}) | sample.meta()
        meta_json = json_bytes(meta)
        put(f"meta/{key}.json", meta_json)
        dense = {}
        if "dense" in job.formats:
            depth_mm = np.clip(np.round(sample.depth * 1000.0), 0, 65535).astype(np.uint16)
            dense = {"iuv.png": png_bytes(sample.iuv()), "depth.png": png_bytes(depth_mm),
                     "objects.png": png_bytes(sample.objects)}
            for suffix, data in dense.items():
                put(f"dense/{key}_{suffix}", data)
            put(f"dense/{key}_labels.npz", npz_bytes(**sample.label_arrays()))
        if "webdataset" in job.formats:
            members += [(f"{key}.png", image_png), (f"{key}.json", json_bytes(meta | {"annotation": ann}))]
            members += [(f"{key}.{suffix}", data) for suffix, data in dense.items()]
        if progress:
            progress(1)
    if images:
        put("coco.json", json_bytes(coco_document(images, annotations, f"synthgen shard {job.index}")))
    if members:
        put("wds.tar", tar_bytes(members))
    record = {"index": job.index, "start": job.start, "count": job.count, "annotations": len(annotations),
              "draws": draws, "rgb_renderer": renderer_name(), "files": dict(sorted(written.items()))}
    shard_json = json_bytes(record)
    (tmp / SHARD_FILE).write_bytes(shard_json)
    try:
        os.rename(tmp, final)
    except OSError:  # an earlier run finished it meanwhile: keep that copy if it is whole
        shutil.rmtree(tmp, ignore_errors=True)
        if check_shard(root, job.index, job.start, job.count) is None:
            raise
    return summary(record, sha256_bytes(shard_json))


def summary(record: dict, shard_sha: str) -> dict:
    """What the manifest keeps of a shard."""
    return {"index": record["index"], "start": record["start"], "count": record["count"],
            "annotations": record["annotations"], "files": len(record["files"]),
            "draws": record.get("draws", record["count"]), "rgb_renderer": record.get("rgb_renderer"),
            "sha256": shard_sha}


def check_shard(root: Path, index: int, start: int, count: int) -> dict | None:
    """The manifest record of a finished shard folder if it is whole (its files match the
    checksums of its shard.json and it covers [start, start + count)), else None."""
    import json

    folder = Path(root) / shard_name(index)
    try:
        data = (folder / SHARD_FILE).read_bytes()
        record = json.loads(data)
        if (record["index"], record["start"], record["count"]) != (index, start, count):
            return None
        for rel, digest in record["files"].items():
            if sha256_file(folder / rel) != digest:
                return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return summary(record, sha256_bytes(data))
