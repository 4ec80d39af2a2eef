"""What every benchmark prints and writes: the machine, the command to reproduce, a table,
and the same rows as JSON."""

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
    """``columns``: (row key, header, format spec) per column."""
    cells = [[format(r[k], spec) for k, _, spec in columns] for r in rows]
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
