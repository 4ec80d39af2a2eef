"""Failure search: regions (boxes in the named space), and strategies that share one
evaluator, one query budget and one region registry (``SearchContext``)."""

from __future__ import annotations

STRATEGIES = ("random", "cmaes", "poseexaminer", "bo", "tpe", "lse", "marl")
#: marl's ablation: the same network untrained, and pretrained but frozen (``marl.VARIANTS``)
MARL_ABLATION = ("marl-untrained", "marl-frozen")
#: the strategy ``examiner search`` and ``examiner demo`` use unless told: none measured on the
#: held-out realistic landscapes is ahead of it (``assets/policies/README.md``: over 12 seeds
#: ``marl`` recalls 0.615 at 600 queries, ``lse`` 0.613, the untrained network 0.603; at 1500
#: ``marl`` 0.925 over 2 seeds); on landscapes 400-409 ``lse`` is
#: ahead in two of three families (``marl.py``)
DEFAULT_STRATEGY = "marl"


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
