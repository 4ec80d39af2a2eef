"""Which samples a dataset holds, by identity: sample i of a run is a function of the scene file,
the run seed and i alone (``shards.sample_seeds``), so a dataset is the sample range
``(scene file hash, seed, 0 .. n-1)``. Two datasets of the same scene file and seed share
samples (a failure-region dataset too: inside its boxes it moves only the boxed dims and keeps
every other value of the same (seed, i)), whatever else differs.

A model's training record is a list of such ranges (``to_dict``), so a held-out set can be
checked against everything the model was trained on, not only against the sets of one run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from synthgen.dataset import manifest
from synthgen.dataset.files import sha256_file


@dataclass(frozen=True)
class SampleRange:
    """Samples 0 .. n - 1 of the run (scene file hash, seed); ``n`` None: every index."""

    scene_sha256: str
    seed: int
    n: int | None
    label: str  # what the set is, for messages (a folder, or 'baseline training set')

    @classmethod
    def of_folder(cls, folder: str | Path, label: str | None = None) -> "SampleRange | None":
        """The range a synthgen dataset folder holds (from its manifest); None without one."""
        data = manifest.load(Path(folder))
        if data is None or "scene_sha256" not in data:
            return None
        return cls(data["scene_sha256"], int(data["seed"]), int(data["n"]), label or str(folder))

    @classmethod
    def planned(cls, scene: str | Path, seed: int, n: int | None, label: str) -> "SampleRange":
        """The range ``synthgen generate --scene SCENE --seed SEED -n N`` writes."""
        return cls(sha256_file(Path(scene)), int(seed), n, label)

    def overlaps(self, other: "SampleRange") -> bool:
        """True when the two ranges share a sample id (both start at index 0)."""
        empty = self.n == 0 or other.n == 0
        return not empty and self.scene_sha256 == other.scene_sha256 and self.seed == other.seed

    def to_dict(self) -> dict:
        return {"scene_sha256": self.scene_sha256, "seed": self.seed, "n": self.n, "label": self.label}

    @classmethod
    def from_dict(cls, d: dict) -> "SampleRange":
        return cls(str(d["scene_sha256"]), int(d["seed"]), None if d.get("n") is None else int(d["n"]),
                   str(d.get("label", "?")))

    def describe(self) -> str:
        count = "every index" if self.n is None else f"samples 0-{self.n - 1}"
        return f"{self.label} (scene {self.scene_sha256[:12]}, seed {self.seed}, {count})"


def first_overlap(trained: list[SampleRange], heldout: list[SampleRange]) -> tuple[SampleRange, SampleRange] | None:
    """The first (held-out, trained) pair that shares a sample id, or None."""
    for h in heldout:
        for t in trained:
            if h.overlaps(t):
                return h, t
    return None
