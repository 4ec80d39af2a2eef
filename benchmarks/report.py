"""What every benchmark prints and writes: the machine, the command to reproduce, a table,
and the same rows as JSON; and the check of the options the benchmarks of planted searches share."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path


def machine() -> str:
    import torch

    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"torch {torch.__version__}, {torch.get_num_threads()} threads")


def print_table(columns: list[tuple[str, str, str]], rows: list[dict]) -> None:
    """``columns``: (row key, header, format spec) per column; a NaN prints as ``-`` (not measured:
    a strategy paired with itself, a standard error from one seed)."""
    cells = [["-" if isinstance(r[k], float) and r[k] != r[k] else format(r[k], spec) for k, _, spec in columns]
             for r in rows]
    widths = [max([len(h), 10] + [len(c[i]) for c in cells]) for i, (_, h, _) in enumerate(columns)]
    print(" ".join(f"{h:>{w}}" for (_, h, _), w in zip(columns, widths)))
    for c in cells:
        print(" ".join(f"{v:>{w}}" for v, w in zip(c, widths)))


def report(title: str, command: str, columns: list[tuple[str, str, str]], rows: list[dict],
           json_path: str, **extra) -> None:
    """``columns``: (row key, header, format spec) per column."""
    where = machine()
    print(f"# {title} ({where})")
    print(f"# reproduce: {command}")
    print_table(columns, rows)
    out = Path(json_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": where, "command": command, **extra, "rows": rows}, indent=2))
    print(f"# wrote {out}")


def search_options(ap, first: int, first_help: str, landscapes: int, seeds: int, jobs_help: str,
                   json_path: str) -> None:
    """The options the benchmarks of planted searches share: ``--first``, ``--landscapes``,
    ``--seeds``, ``--budget``, ``--agents``, ``--jobs`` and ``--json`` (checked by ``check_searches``)."""
    ap.add_argument("--first", type=int, default=first, help=first_help)
    ap.add_argument("--landscapes", type=int, default=landscapes)
    ap.add_argument("--seeds", type=int, default=seeds)
    ap.add_argument("--budget", type=int, default=600)
    ap.add_argument("--agents", type=int, default=4)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help=jobs_help)
    ap.add_argument("--json", default=json_path)


def check_searches(ap, args) -> None:
    """Refuses (``ap.error``: the message, exit 2) a planted-search benchmark's ``--landscapes``,
    ``--seeds``, ``--budget``, ``--agents`` or ``--jobs`` under its least value."""
    for name, value, least in (("--landscapes", args.landscapes, 1), ("--seeds", args.seeds, 1),
                               ("--budget", args.budget, 64), ("--agents", args.agents, 1), ("--jobs", args.jobs, 1)):
        if value < least:
            ap.error(f"{name} must be at least {least}, got {value}")
