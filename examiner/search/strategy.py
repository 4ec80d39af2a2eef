"""The interface every search strategy implements. A strategy asks the shared SearchContext to
evaluate batches of points (``ctx.evaluate_vectors``: the one place queries are counted) and
is told their results; it grows and validates regions through the same context. It runs
until the budget is used up (``BudgetExhausted``), and is deterministic for ``ctx.seed``."""

from __future__ import annotations

import abc

from examiner.search.boundary import Growth
from examiner.search.context import SearchContext


class Strategy(abc.ABC):
    name: str = "strategy"
    default_growth = Growth()

    def __init__(self, agents: int = 4, growth: Growth | None = None):
        self.agents = agents
        self.growth = growth or self.default_growth

    @abc.abstractmethod
    def run(self, ctx: SearchContext) -> None:
        """Search until ``ctx`` raises BudgetExhausted."""
