"""Failure search: regions (boxes in the named space), and strategies that share one
evaluator, one query budget and one region registry (``SearchContext``)."""

from __future__ import annotations

STRATEGIES = ("random", "cmaes", "poseexaminer", "bo", "tpe", "lse", "marl")
#: marl's ablation: the same network untrained, and pretrained but frozen (``marl.VARIANTS``)
MARL_ABLATION = ("marl-untrained", "marl-frozen")
#: the strategy ``examiner search`` and ``examiner demo`` use unless told: the best measured one.
#: On held-out realistic landscapes over ``scenes/search_all.yaml`` (100-109, 400-409, 500-509;
#: 28 search seeds, 280 searches each, 600 queries) ``lse`` recalls 0.012 more than ``marl``
#: (paired, standard error 0.009), and on BlazePose it finds more of the maps' modes
#: (``assets/policies/README.md``); ``marl``'s learning adds nothing measurable (``marl.py``)
DEFAULT_STRATEGY = "lse"


def with_ablation(names: tuple[str, ...]) -> tuple[str, ...]:
    """``names``, and where ``marl`` is among them its ablation (``examiner benchmark`` always
    runs it): the same network untrained, pretrained but frozen, and ``lse`` (the same search
    with the straddle score in place of the policy)."""
    if "marl" not in names:
        return names
    return names + tuple(a for a in (*MARL_ABLATION, "lse") if a not in names)


def make_strategy(name: str, agents: int = 4, **kw):
    from synthgen.errors import ParamError

    if name == "random":
        from examiner.search.random_search import RandomSearch as cls
    elif name in ("cmaes", "cem"):
        from examiner.search.cmaes import CmaEs as cls
    elif name == "poseexaminer":
        from examiner.search.poseexaminer import PoseExaminerSearch as cls
    elif name == "bo":
        from examiner.search.bayesopt import BayesOpt as cls
    elif name == "tpe":
        from examiner.search.tpe import TpeSearch as cls
    elif name == "lse":
        from examiner.search.lse import LevelSetSearch as cls
    elif name in ("marl",) + MARL_ABLATION:
        from examiner.search.marl import MarlSearch as cls

        return cls(agents, variant=name, tensorboard=kw.pop("tensorboard", None), **kw)
    else:
        raise ParamError("--strategy", f"unknown strategy {name!r} (one of {', '.join(STRATEGIES + MARL_ABLATION)})")
    kw.pop("tensorboard", None)
    return cls(agents, **kw)
