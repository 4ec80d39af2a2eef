"""A model on a rendered synthgen dataset folder: per-image scores (``score_folder``: the rows
that before / after comparisons bootstrap over) and pooled PCK per keypoint (``evaluate_pck``:
the baseline's held-out report)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from examiner.metrics import FailureRule, score_sample
from examiner.models.base import N_KEYPOINTS, ModelUnderTest
from examiner.models.python_model import to_prediction
from examiner.models.training_data import load_image, read_coco

PCK_THRESHOLDS = (0.05, 0.1, 0.2)


@dataclass
class FolderScores:
    """One row per graded person of a dataset folder (every array has the same length N)."""

    index: np.ndarray  # (N,) the sample's index in its run
    region: np.ndarray  # (N,) id (str) of the failure region it was drawn in; '': none
    failed: np.ndarray  # (N,) bool, by the failure rule
    oks: np.ndarray  # (N,) object keypoint similarity; 0 for a person the model missed
    pck: np.ndarray  # (N,) PCK@0.1 of the bbox; 0 for a miss

    def __len__(self) -> int:
        return len(self.index)

    def summary(self) -> dict:
        def mean(a):
            return float(np.mean(a)) if len(a) else float("nan")

        return {"samples": len(self), "failure_rate": mean(self.failed), "oks": mean(self.oks),
                "error": mean(1.0 - self.oks), "pck@0.1": mean(self.pck)}

    def to_dict(self) -> dict:
        return {"index": self.index.tolist(), "region": self.region.tolist(),
                "failed": self.failed.astype(int).tolist(), "oks": np.round(self.oks, 6).tolist(),
                "pck": np.round(self.pck, 6).tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "FolderScores":
        return cls(np.asarray(d["index"], dtype=np.int64), np.asarray(d["region"], dtype=str),
                   np.asarray(d["failed"], dtype=bool), np.asarray(d["oks"], dtype=np.float64),
                   np.asarray(d["pck"], dtype=np.float64))


def score_folder(model: ModelUnderTest, folder: str | Path, rule: FailureRule = FailureRule(),
                 batch_size: int = 32) -> FolderScores:
    """Score ``model`` on every image of a synthgen dataset folder (coco.json + meta/)."""
    folder = Path(folder)
    doc = json.loads((folder / "coco.json").read_text())
    anns = {a["image_id"]: a for a in doc["annotations"]}
    images = [im for im in doc["images"] if im["id"] in anns]
    rows = []
    for start in range(0, len(images), batch_size):
        chunk = images[start:start + batch_size]
        pixels = np.stack([load_image(folder / im["file_name"]) for im in chunk])
        pred = to_prediction(model.predict(pixels), len(chunk)).check(len(chunk), pixels.shape[1], pixels.shape[2])
        for k, im in enumerate(chunk):
            a = anns[im["id"]]
            kp = np.asarray(a["keypoints"], dtype=np.float64).reshape(N_KEYPOINTS, 3)
            meta_file = folder / im["file_name"].replace("/images/", "/meta/").replace(".png", ".json")
            meta = json.loads(meta_file.read_text())
            m = score_sample(rule, pred.keypoints[k], bool(pred.detected[k]), kp[:, :2], kp[:, 2],
                             np.asarray(a["bbox"]), float(a["area"]))
            if m["graded"]:
                region = meta.get("region")
                rows.append((meta["index"], "" if region is None else str(region), m["failed"], m.get("oks", 0.0),
                             m.get("pck_bbox", 0.0)))
    cols = list(zip(*rows)) if rows else [()] * 5
    return FolderScores(np.asarray(cols[0], dtype=np.int64), np.asarray(cols[1], dtype=str),
                        np.asarray(cols[2], dtype=bool), np.asarray(cols[3], dtype=np.float64),
                        np.asarray(cols[4], dtype=np.float64))


def evaluate_pck(model: ModelUnderTest, dataset_dir: Path, batch_size: int = 64,
                 thresholds: tuple[float, ...] = PCK_THRESHOLDS) -> dict:
    """PCK@t (distance at most t x max(bbox w, h), as examiner.metrics), pooled over keypoints with
    v > 0, and the mean per-joint pixel error, on one synthgen dataset folder. A person the model
    misses counts as wrong."""
    from synthgen.body.skeleton import COCO_KEYPOINTS

    records = read_coco(Path(dataset_dir))
    dists, norms, viss = [], [], []
    for i in range(0, len(records), batch_size):
        chunk = records[i:i + batch_size]
        images = np.stack([load_image(r["file"]) for r in chunk])
        pred = model.predict(images).check(len(chunk), images.shape[1], images.shape[2])
        for r, kp, det in zip(chunk, pred.keypoints, pred.detected):
            d = np.linalg.norm(kp - r["keypoints"], axis=-1) if det else np.full(N_KEYPOINTS, np.inf)
            dists.append(d)
            norms.append(max(r["bbox"][2], r["bbox"][3], 1.0))
            viss.append(r["visibility"])
    d, nrm, v = np.array(dists), np.array(norms)[:, None], np.array(viss) > 0
    out = {"images": len(records), "keypoints": int(v.sum())}
    for t in thresholds:
        out[f"pck@{t:g}"] = float((d[v] <= t * np.broadcast_to(nrm, d.shape)[v]).mean()) if v.any() else float("nan")
    finite = np.isfinite(d) & v
    out["mean_error_px"] = float(d[finite].mean()) if finite.any() else float("nan")
    out["detected"] = float(np.isfinite(d[:, 0]).mean()) if len(d) else float("nan")
    out["per_joint_error_px"] = {name: float(d[:, j][finite[:, j]].mean()) if finite[:, j].any() else float("nan")
                                 for j, name in enumerate(COCO_KEYPOINTS)}
    out["per_joint_pck@0.1"] = {name: float((d[:, j][v[:, j]] <= 0.1 * nrm[v[:, j], 0]).mean()) if v[:, j].any()
                                else float("nan") for j, name in enumerate(COCO_KEYPOINTS)}
    return out
