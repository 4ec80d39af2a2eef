"""``examiner pretrain``: train marl's shared policy across a landscape family (``search/pretrain.py``)."""

from __future__ import annotations

import json

import typer

from examiner.console_output import console


def pretrain(space: str = typer.Option("scenes/search_all.yaml", help="Search space the landscapes are drawn over."),
             out: str = typer.Option(..., help="Policy file to write (.zip; marl's --policy)."),
             family: str = typer.Option("realistic", help="Landscape family: realistic | boxes."),
             landscapes: int = typer.Option(50, help="Landscapes to train on, cycled (seeds from --first-landscape)."),
             first_landscape: int = typer.Option(1000, help="Seed of the first landscape (keep the ones you judge "
                                                            "on apart)."),
             budget: int = typer.Option(600, help="Queries per training search (episode)."),
             timesteps: int = typer.Option(40_000, help="Agent steps of PPO in all."),
             agents: int = typer.Option(4, help="Agents sharing the policy."),
             seed: int = typer.Option(0, help="Training seed.")):
    """Pretrain the policy marl's agents share (a neural acquisition function, MetaBO-style) with
    PPO across planted landscapes; a search fine-tunes it online."""
    from examiner.search.pretrain import pretrain as run

    with console.status("pretraining...") as status:
        result = run(space, out, family, landscapes, first_landscape, budget, timesteps, agents, seed,
                     progress=lambda n, modes: status.update(f"pretraining: episode {n}, {modes} modes found"))
    modes = result["modes_per_episode"]
    tail = modes[-10:]
    console.print(f"{result['episodes']} episodes in {result['seconds']:.0f} s; modes per episode: first 10 "
                  f"{sum(modes[:10]) / max(1, len(modes[:10])):.2f}, last 10 {sum(tail) / max(1, len(tail)):.2f}")
    console.print(f"wrote {out}")
    console.print_json(json.dumps({k: v for k, v in result.items() if k != "modes_per_episode"}))
