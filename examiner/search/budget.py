"""What ends a search: its query budget is used up. ``SearchContext.evaluate_vectors`` raises
``BudgetExhausted`` after evaluating what still fits; a strategy's run ends with it, and so does
the measuring of moved boxes when a search ends (``faces.final_box``)."""


class BudgetExhausted(Exception):
    """The query budget is used up."""
