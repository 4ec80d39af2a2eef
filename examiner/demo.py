"""``examiner demo``: the whole story on a real model in a few minutes on a laptop CPU - a small
search against BlazePose over a few pose and camera dims with the default strategy
(``examiner.search.DEFAULT_STRATEGY``), then the report."""

from __future__ import annotations

from pathlib import Path

DEMO_SPACE = """# The demo's search space: both arms and the camera around a clothed person.
description: BlazePose demo - arm raises and bends, seen from around the person
image: {width: 256, height: 256}
body: {backend: anny}
search: [pose.left_shoulder.abduct, pose.right_shoulder.abduct, pose.left_elbow.flex, camera.yaw, camera.pitch]
failure: {metric: oks, threshold: 0.5}
dims:
  pose.left_shoulder.abduct: [-20, 170]
  pose.right_shoulder.abduct: [-20, 170]
  pose.left_elbow.flex: [0, 145]
  camera.yaw: [-180, 180]
  camera.pitch: [-50, 75]
fixed:
  camera.distance: 3.2
  garment.top.class: t-shirt
  garment.bottom.class: pant
  background.kind: gradient
"""


def run_demo(out: str | Path, budget: int, agents: int = 4, seed: int = 0, model: str = "mediapipe",
             progress=None, strategy: str | None = None) -> tuple[dict, Path]:
    from examiner.report import write_report
    from examiner.search import DEFAULT_STRATEGY
    from examiner.search.context import Validation
    from examiner.search.run import run_search

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    space = out / "demo_space.yaml"
    space.write_text(DEMO_SPACE)
    run = out / "search"
    if run.exists():  # the demo starts afresh each time
        import shutil

        shutil.rmtree(run)
    # a smaller validation sample keeps the demo short; searches default to 32
    result = run_search(model, space, strategy or DEFAULT_STRATEGY, budget, run, agents, seed,
                        validation=Validation(16, 0.5), progress=progress)
    html, _ = write_report(run)
    return result, html
