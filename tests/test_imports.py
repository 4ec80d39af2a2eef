"""The module layering: no import circles (function-level imports included), and the
parameter vocabulary (catalog, space) below the bodies."""

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _import_graph() -> nx.DiGraph:
    modules = {}
    for pkg in ("synthgen", "examiner"):
        for path in (ROOT / pkg).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    graph = nx.DiGraph()
    for name, path in modules.items():
        graph.add_node(name)
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            graph.add_edges_from((name, t) for t in targets if t in modules and t != name)
    return graph


def test_no_import_circles():
    graph = _import_graph()
    assert len(graph) > 50
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, "import circles: " + "; ".join(" -> ".join(c) for c in cycles[:5])


def test_the_vocabulary_imports_no_body_model():
    code = ("import sys, synthgen.space, synthgen.catalog, synthgen.pose_files; "
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('synthgen.body.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "['synthgen.body.joint_limits', 'synthgen.body.skeleton']"


def test_a_shape_prior_without_its_sampler_is_a_clear_error():
    from synthgen.errors import ConfigError
    from synthgen.space import ParamSpace

    space = ParamSpace.of(["shape.height", "camera.yaw"], shape_prior="anny")
    with pytest.raises(ConfigError, match="shape_prior"):
        space.sample(0)
    # a scene gives the sampler
    from synthgen.scene import SceneConfig

    config = SceneConfig.from_yaml(ROOT / "scenes" / "studio.yaml")
    assert config.space.shape_prior == "anny" and config.space.shape_sampler is not None
    assert config.space.sample(3) == config.space.sample(3)
