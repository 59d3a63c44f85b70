"""Read YAML safely and remember the line of every key, so errors can point at it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from builder.errors import Problem

MAX_FILE_BYTES = 2_000_000  # a study file is a few KB; refuse anything absurd before parsing
MAX_NODES = 200_000  # bounds alias expansion ("billion laughs") and huge documents

Path_ = tuple[str | int, ...]


@dataclass
class Located:
    """Plain Python data from a YAML file plus the line (1-based) of each path in it."""

    data: object
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int | None:
        """The line of the deepest existing prefix of `path` (a missing field points at its parent)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None


class _TooBig(Exception):
    pass


def _convert(node: yaml.Node, path: Path_, lines: dict, budget: list[int], problems: list, file: str):
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooBig()
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                problems.append(
                    Problem(
                        file,
                        key_node.start_mark.line + 1,
                        ".".join(map(str, path)),
                        "YAML merge keys ('<<') are not supported; write the fields out",
                    )
                )
                continue
            key = _scalar(key_node)
            if not isinstance(key, (str, int)):
                problems.append(
                    Problem(
                        file,
                        key_node.start_mark.line + 1,
                        ".".join(map(str, path)),
                        "mapping keys must be plain text",
                        repr(key),
                    )
                )
                continue
            key = str(key)
            if key in out:
                problems.append(
                    Problem(
                        file,
                        key_node.start_mark.line + 1,
                        ".".join(map(str, path + (key,))),
                        "duplicate key: this field is given twice",
                    )
                )
            lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = _convert(value_node, path + (key,), lines, budget, problems, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(v, path + (i,), lines, budget, problems, file) for i, v in enumerate(node.value)]
    return _scalar(node)


_constructor = yaml.SafeLoader(stream="")
# libyaml's parser, when PyYAML was built with it, is several times faster than the pure-Python one and gives
# the same nodes and marks; both are "safe" (plain data only).
_PARSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _scalar(node: yaml.Node):
    if not isinstance(node, yaml.ScalarNode):
        return None
    value = _constructor.construct_object(node, deep=False)
    if isinstance(value, float) and not math.isfinite(value):
        return value  # kept so that validation can say "not finite" with the line
    return value


def load_yaml(path: Path, root: Path) -> tuple[Located | None, list[Problem]]:
    """Parse one YAML file; return its data with line numbers, or the problems that stopped it."""
    name = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
    try:
        size = path.stat().st_size
    except OSError as exc:
        return None, [Problem(name, None, "", f"cannot read file: {exc.strerror}")]
    if size > MAX_FILE_BYTES:
        return None, [Problem(name, None, "", f"file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,}")]
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(name, None, "", f"file is not UTF-8 text ({exc.reason} at byte {exc.start})")]
    try:
        node = yaml.compose(text, Loader=_PARSER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        return None, [Problem(name, line, "", f"YAML syntax error: {exc.problem or exc.context}")]
    except yaml.YAMLError as exc:
        return None, [Problem(name, None, "", f"YAML error: {exc}")]
    if node is None:
        return None, [Problem(name, 1, "", "file is empty; expected a mapping of fields")]
    problems: list[Problem] = []
    lines: dict = {}
    try:
        data = _convert(node, (), lines, [MAX_NODES], problems, name)
    except _TooBig:
        return None, [
            Problem(
                name,
                None,
                "",
                f"document expands to more than {MAX_NODES:,} values "
                "(too large, or an alias bomb); refusing to load it",
            )
        ]
    except yaml.constructor.ConstructorError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        return None, [Problem(name, line, "", f"YAML error: {exc.problem}")]
    if not isinstance(data, dict):
        return None, [Problem(name, 1, "", "expected a mapping of fields at the top level", type(data).__name__)]
    return Located(data, lines), problems
