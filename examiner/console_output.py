"""What the ``examiner`` commands show on the terminal: progress bars and result tables."""

from __future__ import annotations

from rich.console import Console

console = Console()


class GenerateProgress:
    """generate()'s progress protocol on a rich progress bar."""

    def __init__(self, progress, label: str):
        self.progress, self.label, self.task = progress, label, None

    def start(self, total: int, done: int) -> None:
        self.task = self.progress.add_task(self.label, total=total, completed=done)

    def advance(self, k: int) -> None:
        self.progress.advance(self.task, k)


def pck_table(title: str, result: dict):
    from rich.table import Table

    table = Table(title=title)
    for col in ("images", "keypoints", "PCK@0.05", "PCK@0.1", "PCK@0.2", "mean error (px)", "detected"):
        table.add_column(col, justify="right")
    table.add_row(str(result["images"]), str(result["keypoints"]), f"{result['pck@0.05']:.3f}",
                  f"{result['pck@0.1']:.3f}", f"{result['pck@0.2']:.3f}", f"{result['mean_error_px']:.2f}",
                  f"{result['detected']:.3f}")
    return table


class SearchProgress:
    """A progress bar: queries used of the budget, failures, validated regions."""

    def __init__(self, budget: int, label: str = "searching"):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TextColumn("queries"),
                            TextColumn("{task.fields[state]}"), TimeElapsedColumn(), console=console)
        self.task = self.bar.add_task("queries", total=budget, state="")

    def __call__(self, ctx) -> None:
        self.bar.update(self.task, completed=ctx.used,
                        state=f"{ctx.failures} failures, {len(ctx.registry)} validated regions")


def print_modes(result: dict, title: str) -> None:
    """Each failure mode of a search or map result in its fewest words, as a table."""
    from rich.table import Table

    from examiner.labels import rate_sentence
    from examiner.report import WITHDRAWN, plain_summary, withdrawn_sentence

    table = Table("mode", "where (every other dim: any)", "how often", title=title)
    for r in result["regions"]:
        table.add_row(str(r["id"]), "; ".join(plain_summary(r, result["searched_dims"])), rate_sentence(r))
    console.print(table)
    for r in result.get("withdrawn", []):
        console.print(f"{WITHDRAWN}: {withdrawn_sentence(r, result['searched_dims'])}")
    if "overhead_seconds" in result:  # a search's own run (not a map, not a file read back)
        console.print(overhead_sentence(result))


def overhead_sentence(result: dict) -> str:
    """Where a search's wall time went: answering queries, or the search's own work."""
    total = max(result["seconds"], 1e-9)
    return (f"search overhead (strategy, surrogate, policy, describing the modes): {result['overhead_seconds']:.1f} s, "
            f"{100 * result['overhead_seconds'] / total:.0f}% of {result['seconds']:.0f} s; "
            f"answering queries (render, model, score): {result['evaluating_seconds']:.1f} s")


def print_sensitivity(result: dict, rows: int = 20) -> None:
    """A map's scene parameters and derived factors in one ranking of how much each matters."""
    from rich.table import Table

    from examiner.derived_modes import ranked_sensitivity

    ranked = ranked_sensitivity(result)
    table = Table("factor", "kind", "failure rate per fifth (scene: of its range; image: of the queries)", "spread",
                  title=f"what matters: {result['map']['samples']} uniform queries, base rate "
                        f"{100 * result['base_rate']:.0f}%" + (f" (top {rows})" if len(ranked) > rows else ""))
    for r in ranked[:rows]:
        table.add_row(r["label"], r["kind"], r["rates"], str(r["spread"]))
    console.print(table)


def print_derived_modes(result: dict) -> None:
    """The map's modes in what the image shows, each with the scene modes it describes."""
    from rich.table import Table

    from examiner.derived_modes import plain
    from examiner.labels import rate_sentence

    derived = result.get("derived")
    if not derived or not derived["modes"]:
        return
    table = Table("mode", "in what the image shows", "how often", "describes scene modes",
                  title=f"{len(derived['modes'])} failure modes in derived factors")
    for m in derived["modes"]:
        described = [f"{r['id']} ({r['derived']['verdict']} is simpler)" if r["derived"]["verdict"] != "either"
                     else f"{r['id']}" for r in result["regions"] if (r.get("derived") or {}).get("mode") == m["id"]]
        table.add_row(m["id"], "; ".join(plain(m["bounds"], derived["factors"])), rate_sentence(m),
                      ", ".join(described) or "-")
    console.print(table)

