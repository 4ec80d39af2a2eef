"""How much can ``marl``'s agents' choice matter? Before a policy is trained to pick, measure
what picking can change: ``marl``'s own environment (``AcquisitionEnv``: the same surrogate,
candidates, uniform share and mode finder) run with fixed picking rules in place of the policy,
beside the shipped policy (frozen) picking in the same environment, on planted realistic
landscapes (``score: direct``, no render). If every rule, good or silly, recalls about as many
planted modes, a policy over this action is unlikely to do much better, however it is trained.
One rule reads the planted landscape: it picks inside the modes no known mode covers yet,
the most likely new failures there are - what the environment's reward for failures outside
known modes pays for. It is a check of that reward, not a ceiling.

"vs uniform" is the mean difference in recall from the uniform choice on the same landscapes
and seeds, with its standard error. It also prints where each search's queries went: drawn
uniformly over the whole space (the base sample and the uniform share), the agents' picks, and
the queries drawn inside proposed boxes to confirm them (validation, relaxation tests, merges),
and how many proposals were refused.

    python benchmarks/marl_leverage.py [--first 100] [--landscapes 10] [--seeds 3] [--budget 600] [--jobs 2]
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from report import check_searches, report, search_options

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from examiner.search.acquisition_env import FEATURES, AcquisitionEnv  # noqa: E402
from examiner.search.strategy import Strategy  # noqa: E402

COL = {name: i for i, name in enumerate(FEATURES)}
POLICY = "shipped policy (frozen)"
TRUTH = "inside unfound planted modes"
#: rule -> (what it picks among an agent's candidates, its score of each candidate from their
#: ``acquisition_env.FEATURES`` rows; None: not a score)
RULES = {
    "uniform choice": ("any candidate, uniformly at random", None),
    "straddle": ("the highest straddle score (lse's)", lambda f: f[:, COL["straddle"]]),
    "most likely to fail": ("the highest predicted failure probability", lambda f: f[:, COL["failure probability"]]),
    "farthest from queries": ("the largest distance to earlier queries", lambda f: f[:, COL["distance to queries"]]),
    "near unexplained failures": ("the most likely to fail of those drawn near unexplained failures",
                                  lambda f: f[:, COL["failure probability"]]
                                  + 2.0 * f[:, COL["near an unexplained failure"]]),
    POLICY: ("the pretrained policy's pick (assets/policies/marl.zip), no updates", None),
    TRUTH: ("a candidate inside a planted mode no known mode covers, the one with the fewest failing queries "
            "so far (reads the planted landscape: what the reward for new failures pays most for)", None),
}


class RuleSearch(Strategy):
    """marl's environment, with ``rule`` picking for every agent; keeps the search's context
    and environment for the benchmark to read."""

    def __init__(self, rule: str, agents: int, planted=None):
        super().__init__(agents)
        self.rule = self.name = rule
        self.planted = planted  # the planted model (``TRUTH`` reads it)

    def run(self, ctx) -> None:
        self.ctx = ctx
        self.env = env = AcquisitionEnv(lambda: ctx, self.agents, owner="marl")
        rng = np.random.default_rng([ctx.seed, 5])
        score = RULES[self.rule][1]
        policy = None
        if self.rule == POLICY:
            import torch
            from stable_baselines3 import PPO

            from examiner.search.marl import POLICY_FILE

            torch.manual_seed(ctx.seed)
            policy = PPO.load(POLICY_FILE, device="cpu")
        obs, _ = env.reset()
        while True:
            if policy is not None:
                picks, _ = policy.predict(np.stack([obs[a] for a in env.agents]), deterministic=False)
            elif self.rule == TRUTH:
                picks = self.truth_picks(ctx, env, rng)
            else:
                rows = [obs[a].reshape(-1, len(FEATURES)) for a in env.agents]
                picks = [rng.integers(len(f)) if score is None else np.argmax(score(f)) for f in rows]
            obs, *_ = env.step(dict(zip(env.agents, (int(p) for p in picks))))
            if not env.agents:  # fewer than K queries left: the rest go one by one
                obs, _ = env.reset()

    def truth_picks(self, ctx, env, rng) -> list[int]:
        """Per agent, a candidate inside the planted mode with the fewest failing queries so far
        among those its candidates reach outside known modes (else any candidate)."""
        from examiner.search.proposer import known_mask
        from examiner.search.scoring import membership

        X, y = ctx.queried_failed()
        failing = membership(self.planted, ctx.space, X)[y].sum(0) if len(X) else np.zeros(len(self.planted.regions))
        picks = []
        for k in range(len(env.agents)):
            C = env._cands[k]
            inside = membership(self.planted, ctx.space, C) & ~known_mask(ctx, C)[:, None]
            if not inside.any():
                picks.append(int(rng.integers(len(C))))
                continue
            score = np.where(inside, -failing[None, :], -np.inf).max(1)
            picks.append(int(rng.choice(np.flatnonzero(score == score.max()))))
        return picks


def one_search(rule: str, landscape_seed: int, seed: int, budget: int, agents: int) -> dict:
    """Recall and precision of one search, and where its queries went."""
    from examiner.landscape import landscape, write_landscape
    from examiner.models import load_model
    from examiner.search.run import run_search
    from examiner.search.scoring import score_run
    from examiner.search_space import SearchSpace
    from synthgen.workers import one_torch_thread

    space = ROOT / "scenes" / "search_all.yaml"
    search = SearchSpace.from_yaml(space)
    with tempfile.TemporaryDirectory() as tmp, one_torch_thread():
        path = write_landscape(landscape(search.space, "realistic", landscape_seed), Path(tmp) / "planted.yaml")
        planted = load_model(f"planted:{path}")
        strategy = RuleSearch(rule, agents, planted)
        result = run_search(f"planted:{path}", space, f"rule: {rule}", budget, Path(tmp) / "run", agents, seed,
                            model_obj=planted, tensorboard=False, strategy_obj=strategy)
        score = score_run(result, planted, search.space, seed)
    _, _, support, _ = strategy.ctx.blind()
    whole = (support[:, 0] == -1.0).all(1) & (support[:, 1] == 1.0).all(1)
    picked = np.isnan(support[:, 0, 0])
    used = max(1, len(support))
    return {"recall": score["recall"], "precision": score["precision"], "uniform": whole.sum() / used,
            "picks": picked.sum() / used, "confirming": (~whole & ~picked).sum() / used,
            "refused": len(strategy.env.finder.tried), "modes": len(result["regions"])}


def paired(recall: list[float], reference: list[dict] | None) -> dict:
    """The mean difference from the uniform choice's recall on the same (landscape, seed) and
    its standard error."""
    if not reference:
        return {"vs_uniform": float("nan"), "vs_uniform_se": float("nan")}
    diff = [a - b["recall"] for a, b in zip(recall, reference)]
    se = statistics.stdev(diff) / len(diff) ** 0.5 if len(diff) > 1 else float("nan")
    return {"vs_uniform": statistics.mean(diff), "vs_uniform_se": se}


def main() -> None:
    ap = argparse.ArgumentParser()
    search_options(ap, 100, "first realistic landscape (100-109: the held-out ones)", 10, 3,
                   "searches run at once, one per process", "benchmarks/results/marl_leverage.json")
    ap.add_argument("--rules", nargs="+", default=list(RULES), choices=list(RULES))
    args = ap.parse_args()
    check_searches(ap, args)
    tasks = [(rule, k, s) for rule in args.rules for s in range(args.seeds)
             for k in range(args.first, args.first + args.landscapes)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(one_search, rule, k, s, args.budget, args.agents) for rule, k, s in tasks]
        done = [f.result() for f in futures]
    rows = []
    by_rule = {rule: [d for (r, _, _), d in zip(tasks, done) if r == rule] for rule in args.rules}
    for rule, runs in by_rule.items():
        recall = [d["recall"] for d in runs]
        mean = {k: statistics.mean(d[k] for d in runs) for k in ("uniform", "picks", "confirming", "refused", "modes")}
        rows.append({"rule": rule, "choice": RULES[rule][0], "recall": statistics.mean(recall),
                     "recall_sd": statistics.pstdev(recall),
                     "precision": statistics.mean(d["precision"] or 0.0 for d in runs), **mean, "runs": len(runs),
                     "recall_per_run": recall, **paired(recall, by_rule.get("uniform choice"))})
    command = ("python benchmarks/marl_leverage.py " + f"--first {args.first} --landscapes {args.landscapes} "
               f"--seeds {args.seeds} --budget {args.budget}")
    if args.rules != list(RULES):
        command += " --rules " + " ".join(shlex.quote(r) for r in args.rules)
    report(f"marl's environment with fixed picking rules: realistic landscapes {args.first}-"
           f"{args.first + args.landscapes - 1} over scenes/search_all.yaml, {args.budget} queries, {args.seeds} seeds "
           f"({time.perf_counter() - t0:.0f} s)", command,
           [("rule", "rule", "s"), ("recall", "recall", ".3f"), ("recall_sd", "sd", ".3f"),
            ("vs_uniform", "vs uniform", "+.3f"), ("vs_uniform_se", "se", ".3f"), ("precision", "precision", ".3f"),
            ("modes", "modes", ".1f"), ("uniform", "uniform", ".0%"), ("picks", "picks", ".0%"),
            ("confirming", "confirming", ".0%"), ("refused", "refused", ".1f")],
           rows, args.json, landscapes=[args.first, args.first + args.landscapes - 1], seeds=args.seeds,
           budget=args.budget)


if __name__ == "__main__":
    main()
