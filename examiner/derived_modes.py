"""Failure modes in what the image shows (``synthgen.derived``: person height in pixels,
occlusion, foreshortening, facing angle, ...) beside the modes in scene parameters.

Derived factors are observed, not set, so their modes come from uniform queries (``examiner
map``): each factor is scaled to [-1, 1] over the range the queries showed, the map's box
finder runs on them as on the parameters (proposed on one half, every bound checked and every
rate measured on the other), and each scene-parameter mode is matched with the derived mode
whose failing queries overlap its own the most. A mode then reads both ways, e.g. "camera
distance 5.9-8 m, body height 0-0.4, age 0.3-0.46" and "person height under 45 px", and the
one that explains more of the failures with fewer factors is named."""

from __future__ import annotations

import numpy as np

from examiner.labels import describe, describe_range, rate_sentence
from synthgen.derived import FACTORS, label  # noqa: F401 - FACTORS: the map reads it here

BINS = 5
MATCH = 0.3  # least overlap (Jaccard of the failing queries) for a derived mode to describe a scene mode


def factor_matrix(derived: list[dict | None]) -> tuple[np.ndarray, list[str]]:
    """(values (n, m), names) of the factors every query has (rendered ones have all; models
    that read no pixels get the geometric ones); (n, 0) when some query has none."""
    if not derived or any(d is None for d in derived):
        return np.zeros((len(derived), 0)), []
    names = [k for k in FACTORS if all(d.get(k) is not None for d in derived)]
    return np.array([[d[k] for k in names] for d in derived], dtype=np.float64).reshape(len(derived), -1), names


class FactorScale:
    """Each factor's observed [low, high] <-> [-1, 1]."""

    def __init__(self, F: np.ndarray):
        self.low, self.high = F.min(0), F.max(0)
        self.span = np.where(self.high > self.low, self.high - self.low, 1.0)

    def normalize(self, F: np.ndarray) -> np.ndarray:
        return np.clip(2.0 * (F - self.low) / self.span - 1.0, -1.0, 1.0)

    def value(self, d: int, x: float) -> float:
        return float(self.low[d] + (x + 1.0) / 2.0 * self.span[d])


def sensitivity(F: np.ndarray, y: np.ndarray, names: list[str]) -> list[dict]:
    """Per factor, the failure rate in each fifth of the queries ordered by it (quantile bins:
    observed factors are not uniform); sorted by the spread, like the map's parameter table."""
    out = []
    for j, name in enumerate(names):
        edges = np.unique(np.quantile(F[:, j], np.linspace(0, 1, BINS + 1)))
        if len(edges) < 2:
            continue
        idx = np.clip(np.searchsorted(edges, F[:, j], side="right") - 1, 0, len(edges) - 2)
        rates = [float(y[idx == b].mean()) if (idx == b).any() else None for b in range(len(edges) - 1)]
        seen = [r for r in rates if r is not None]
        out.append({"name": name, "label": label(name), "kind": "derived",
                    "bins": [f"{edges[b]:.3g}..{edges[b + 1]:.3g}" for b in range(len(edges) - 1)],
                    "failure_rate": [None if r is None else round(r, 4) for r in rates],
                    "spread": round(max(seen) - min(seen), 4) if seen else 0.0})
    return sorted(out, key=lambda s: -s["spread"])


def restricted(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return (hi - lo) < 2.0 - 1e-9


def describe_mode(lo: np.ndarray, hi: np.ndarray, names: list[str], scale: FactorScale) -> dict:
    """{name: [low, high]} of the restricted factors, in their units."""
    return {names[d]: [round(scale.value(d, lo[d]), 4), round(scale.value(d, hi[d]), 4)]
            for d in np.nonzero(restricted(lo, hi))[0]}


def plain(bounds: dict, factors: dict) -> list[str]:
    """'person height under 45 px' for each bound (``factors``: name -> {low, high} observed)."""
    out = []
    for name, (lo, hi) in bounds.items():
        unit = FACTORS[name][0]
        words = label(name).rsplit(" (", 1)[0]
        seen = factors.get(name, {})
        fmt = (lambda v: f"{v:.0f}") if max(abs(lo), abs(hi)) >= 10 else (lambda v: f"{v:.2g}")
        u = f" {unit}" if unit else ""
        if lo <= seen.get("low", lo):
            out.append(f"{words} under {fmt(hi)}{u}")
        elif hi >= seen.get("high", hi):
            out.append(f"{words} above {fmt(lo)}{u}")
        else:
            out.append(describe_range(words, lo, hi, unit))
    return out


def match(scene_inside: list[np.ndarray], derived_inside: list[np.ndarray], y: np.ndarray) -> list[tuple[int, float] | None]:
    """Per scene mode, (the derived mode whose failing queries overlap its own most, Jaccard),
    or None under ``MATCH``; ``*_inside``: boolean masks over the same queries."""
    out = []
    for a in scene_inside:
        best = None
        for j, b in enumerate(derived_inside):
            union = ((a | b) & y).sum()
            score = float(((a & b) & y).sum() / union) if union else 0.0
            if score >= MATCH and (best is None or score > best[1]):
                best = (j, round(score, 4))
        out.append(best)
    return out


def verdict(scene_stats: dict, derived_stats: dict) -> str:
    """Which description explains more of the failures with fewer factors."""
    ns, nd = len(scene_stats.get("restricted", [])), len(derived_stats.get("restricted", []))
    cs, cd = scene_stats.get("coverage") or 0.0, derived_stats.get("coverage") or 0.0
    if nd < ns and cd >= 0.9 * cs:
        return "derived"  # fewer factors, about as many failures or more
    if ns < nd and cs >= 0.9 * cd:
        return "scene"
    if nd == ns:
        return "derived" if cd > cs * 1.1 else "scene" if cs > cd * 1.1 else "either"
    return "either"  # one is simpler, the other explains clearly more


def ranked_sensitivity(result: dict) -> list[dict]:
    """A map's scene parameters and derived factors in one ranking by spread: rows of
    {label, kind ('scene' | 'image'), rates ('5% 41% ...'), spread (percentage points)}."""
    rows = [("scene", describe(s["name"]), s) for s in result.get("sensitivity", [])]
    rows += [("image", s["label"], s) for s in (result.get("derived") or {}).get("sensitivity", [])]
    rows.sort(key=lambda r: -r[2]["spread"])
    return [{"label": name, "kind": kind, "spread": round(100 * s["spread"]),
             "rates": " ".join("-" if v is None else f"{100 * v:.0f}%" for v in s["failure_rate"])}
            for kind, name, s in rows]


def image_sentence(region: dict, result: dict) -> str | None:
    """'In what the image shows: person height under 40 px, fails 99% [...] (the simpler
    description)' for a scene mode a derived mode describes; None otherwise."""
    link, derived = region.get("derived"), result.get("derived")
    if not link or not derived:
        return None
    mode = next(m for m in derived["modes"] if m["id"] == link["mode"])
    which = {"derived": "; the simpler description", "scene": "; the parameters describe it more simply",
             "either": ""}[link["verdict"]]
    return (f"In what the image shows: {'; '.join(plain(mode['bounds'], derived['factors']))}: {rate_sentence(mode)} "
            f"({len(mode['restricted'])} factor{'s' * (len(mode['restricted']) != 1)} against "
            f"{len(region.get('restricted', []))}; {100 * link['overlap']:.0f}% of the failures shared{which}).")

