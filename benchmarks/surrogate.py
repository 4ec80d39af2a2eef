"""Which surrogate kind (``examiner/search/surrogate.py``) predicts a failure landscape best from
a search-like history: on ``realistic`` landscapes over ``scenes/search_all.yaml``, each kind is
fitted to n queries (half uniform over [-1, 1]^D, half Gaussian, sd 0.15, around failing points
of the uniform half, clipped: a search's history is non-uniform like that) and scored on 2,000
fresh uniform points against the failures observed there: Brier score, ROC AUC, accuracy of the
level set (p >= 0.5 vs failed), mean sd, sd on misclassified / on correct points (above 1: the
sd points at where it is wrong), fit and predict seconds; mean and sd over the landscapes.
A side table tunes the forest (min_leaf x max_features) at one n on the first 5 landscapes.

    python benchmarks/surrogate.py [--landscapes 10] [--first-landscape 0] [--sizes 150 300 600 1200]
                                   [--gp-max-n 600] [--grid-n 600] [--space scenes/search_all.yaml]
                                   [--json benchmarks/results/surrogate.json]

GP runs above --gp-max-n only if its fit + predict takes under --gp-seconds (20) on the first
landscape; what is skipped is printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from report import print_table, report

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

METRICS = ("brier", "auc", "acc", "mean_sd", "sd_ratio", "fit_s", "predict_s")
GRID = [(leaf, mf) for leaf in (1, 3, 5) for mf in (0.33, 0.5, 1.0)]


def failures(evaluator, X: np.ndarray) -> np.ndarray:
    return np.array([q.failed for q in evaluator.evaluate_vectors(X)], dtype=bool)


def history(evaluator, rng: np.random.Generator, n: int, D: int) -> tuple[np.ndarray, np.ndarray]:
    """n queries: half uniform, half concentrated around the uniform half's failures."""
    U = rng.uniform(-1, 1, (n // 2, D))
    fu = failures(evaluator, U)
    centres = U[fu] if fu.any() else U
    C = np.clip(centres[rng.integers(0, len(centres), n - len(U))] + rng.normal(0, 0.15, (n - len(U), D)), -1, 1)
    return np.vstack([U, C]), np.concatenate([fu, failures(evaluator, C)])


def score(config, X, y, Xt, yt, seed: int) -> dict:
    from sklearn.metrics import roc_auc_score

    from examiner.search.surrogate import Surrogate

    t0 = time.perf_counter()
    s = Surrogate(config, seed=seed).fit(X, y)
    t1 = time.perf_counter()
    p, sd = s.predict(Xt)
    t2 = time.perf_counter()
    wrong = (p >= 0.5) != yt
    return {"brier": float(np.mean((p - yt) ** 2)),
            "auc": float(roc_auc_score(yt, p)) if 0 < yt.sum() < len(yt) else float("nan"),
            "acc": float(1 - wrong.mean()), "mean_sd": float(sd.mean()),
            "sd_ratio": float(sd[wrong].mean() / max(sd[~wrong].mean(), 1e-12)) if wrong.any() and (~wrong).any()
            else float("nan"),
            "fit_s": t1 - t0, "predict_s": t2 - t1}


def summarize(runs: list[dict], keys: tuple[str, ...]) -> list[dict]:
    rows = []
    for group in dict.fromkeys(tuple(r[k] for k in keys) for r in runs):
        mine = [r for r in runs if tuple(r[k] for k in keys) == group]
        row = dict(zip(keys, group)) | {"landscapes": len(mine)}
        for m in METRICS:
            values = [r[m] for r in mine if np.isfinite(r[m])]
            row[m] = statistics.mean(values) if values else float("nan")
            row[m + "_sd"] = statistics.pstdev(values) if values else float("nan")
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--landscapes", type=int, default=10)
    ap.add_argument("--first-landscape", type=int, default=0)
    ap.add_argument("--sizes", type=int, nargs="+", default=[150, 300, 600, 1200])
    ap.add_argument("--test", type=int, default=2000, help="uniform test points per landscape")
    ap.add_argument("--gp-max-n", type=int, default=600)
    ap.add_argument("--gp-seconds", type=float, default=20.0)
    ap.add_argument("--grid-n", type=int, default=600, help="n of the forest's side table (0: none)")
    ap.add_argument("--grid-landscapes", type=int, default=5)
    ap.add_argument("--space", default="scenes/search_all.yaml")
    ap.add_argument("--json", default="benchmarks/results/surrogate.json")
    args = ap.parse_args()

    from examiner.evaluate import Evaluator
    from examiner.landscape import landscape, write_landscape
    from examiner.models.planted import PlantedModel
    from examiner.search.surrogate import KINDS, SurrogateConfig
    from examiner.search_space import SearchSpace

    search = SearchSpace.from_yaml(args.space)
    D = len(search.space.names)
    seeds = range(args.first_landscape, args.first_landscape + args.landscapes)
    runs, grid_runs, skipped, rates = [], [], [], []
    gp_sizes = {n for n in args.sizes if n <= args.gp_max_n}
    for i, k in enumerate(seeds):
        with tempfile.TemporaryDirectory() as tmp:
            doc = landscape(search.space, "realistic", k)
            model = PlantedModel.from_yaml(write_landscape(doc, Path(tmp) / "l.yaml"))
        evaluator = Evaluator(model, search, seed=k, cache=False)
        Xt = np.random.default_rng([k, 1]).uniform(-1, 1, (args.test, D))
        yt = failures(evaluator, Xt)
        rates.append(float(yt.mean()))
        for n in args.sizes:
            X, y = history(evaluator, np.random.default_rng([k, 2, n]), n, D)
            for kind in KINDS:
                if kind == "gp" and n not in gp_sizes:
                    if i > 0:
                        continue
                    r = score(SurrogateConfig(kind=kind), X, y, Xt, yt, k)  # on the first landscape: fast enough?
                    if r["fit_s"] + r["predict_s"] >= args.gp_seconds:
                        skipped.append(f"gp at n={n}: {r['fit_s'] + r['predict_s']:.1f} s on landscape {k}")
                        continue
                    gp_sizes.add(n)
                    print(f"# gp at n={n} above --gp-max-n runs: {r['fit_s'] + r['predict_s']:.1f} s on landscape {k}, "
                          f"under --gp-seconds {args.gp_seconds:g}", file=sys.stderr)
                else:
                    r = score(SurrogateConfig(kind=kind), X, y, Xt, yt, k)
                runs.append({"kind": kind, "n": n, "landscape": k, "train_fail_rate": float(y.mean()), **r})
            if n == args.grid_n and i < args.grid_landscapes:
                for leaf, mf in GRID:
                    cfg = SurrogateConfig(kind="forest", min_leaf=leaf, max_features=mf)
                    grid_runs.append({"min_leaf": leaf, "max_features": mf, "landscape": k,
                                      **score(cfg, X, y, Xt, yt, k)})
        print(f"# landscape {k}: test failure rate {yt.mean():.3f}", file=sys.stderr, flush=True)
    for s in skipped:
        print(f"# skipped {s}")

    rows = sorted(summarize(runs, ("kind", "n")), key=lambda r: (r["n"], KINDS.index(r["kind"])))
    grid_rows = summarize(grid_runs, ("min_leaf", "max_features"))
    cols = [(m, h, f) for m, h, f in (("brier", "Brier", ".4f"), ("auc", "AUC", ".3f"), ("acc", "acc", ".3f"),
                                       ("mean_sd", "mean sd", ".3f"), ("sd_ratio", "sd wrong/ok", ".2f"),
                                       ("fit_s", "fit s", ".2f"), ("predict_s", "predict s", ".2f"))]
    spread = ("brier", "auc", "acc", "fit_s")  # the others get no sd column
    cols = [c for m, h, f in cols for c in ((m, h, f), *([(m + "_sd", "sd", f)] if m in spread else []))]
    sizes = " ".join(map(str, args.sizes))
    command = (f"python benchmarks/surrogate.py --landscapes {args.landscapes} "
               f"--first-landscape {args.first_landscape} --sizes {sizes} --test {args.test} "
               f"--gp-max-n {args.gp_max_n} --gp-seconds {args.gp_seconds:g} "
               f"--grid-n {args.grid_n} --grid-landscapes {args.grid_landscapes} --space {args.space}")
    report(f"surrogate kinds on {args.landscapes} realistic landscapes (seeds {seeds.start}..{seeds.stop - 1}), "
           f"{args.test} uniform test points each, test failure rate {statistics.mean(rates):.3f}", command,
           [("kind", "kind", ""), ("n", "n", "d"), *cols], rows, args.json, skipped=skipped, grid=grid_rows,
           runs=runs, grid_runs=grid_runs)
    if grid_rows:
        print(f"# forest at n={args.grid_n}, {SurrogateConfig().trees} trees, min_leaf x max_features, "
              f"on {grid_rows[0]['landscapes']} landscapes")
        print_table([("min_leaf", "min_leaf", "d"), ("max_features", "max_feat", ".2f"), *cols[:6], *cols[8:10]],
                    grid_rows)


if __name__ == "__main__":
    main()
