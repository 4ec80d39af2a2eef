"""YAML loading that remembers the line of every mapping key, for errors that point at it."""

from __future__ import annotations

from pathlib import Path

import yaml

from synthgen.errors import ConfigError


def load_yaml_with_lines(path: str | Path) -> tuple[object, dict[tuple, int]]:
    """Parse ``path`` safely. Returns the data and ``{key path tuple: 1-based line}``."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(str(path), f"cannot read file: {e.strerror or e}") from e
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ConfigError(str(path), f"invalid YAML: {getattr(e, 'problem', e)}",
                          line=mark.line + 1 if mark else None) from e
    lines: dict[tuple, int] = {}
    constructor = yaml.SafeLoader("")

    def convert(node, keypath: tuple):
        if isinstance(node, yaml.MappingNode):
            out = {}
            for knode, vnode in node.value:
                key = constructor.construct_object(knode, deep=True)
                if key in out:
                    raise ConfigError(str(path), f"key '{key}' appears twice", line=knode.start_mark.line + 1)
                lines[keypath + (key,)] = knode.start_mark.line + 1
                out[key] = convert(vnode, keypath + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [convert(v, keypath + (i,)) for i, v in enumerate(node.value)]
        return constructor.construct_object(node, deep=True)

    data = convert(root, ()) if root is not None else None
    return data, lines
