"""Read YAML safely and remember the line of every key, so errors can point at it."""

from __future__ import annotations

import math
import os
import re
import stat
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


class _BadScalar(Exception):
    def __init__(self, line: int, message: str, value: str):
        self.line, self.message, self.value = line, message, value


# Numbers as YAML 1.2 writes them. YAML 1.1, which PyYAML follows, also reads 1:30 as 90 (base 60), 012 as 10
# (octal), 1_000 as 1000 and yes/no/on/off as true/false: a typo would silently become another number.
_INT_12 = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
_FLOAT_12 = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_SPECIAL_FLOAT = re.compile(r"^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$")
_BOOL_12 = re.compile(r"^(true|True|TRUE|false|False|FALSE)$")


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
            key = _scalar(key_node, file)
            if not isinstance(key, (str, int)):
                got = {yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list"}.get(type(key_node), repr(key))
                problems.append(
                    Problem(
                        file,
                        key_node.start_mark.line + 1,
                        ".".join(map(str, path)),
                        "mapping keys must be plain text",
                        got,
                    )
                )
                continue
            key = key_node.value if isinstance(key, bool) else str(key)  # 'true: 1' names 'true', not 'True'
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
    return _scalar(node, file)


_constructor = yaml.SafeLoader(stream="")
# libyaml's parser, when PyYAML was built with it, is several times faster than the pure-Python one and gives
# the same nodes and marks; both are "safe" (plain data only).
_PARSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _plain(node: yaml.ScalarNode):
    """A plain (unquoted) scalar read with YAML 1.2's rules for numbers and booleans, or _BadScalar for a
    number YAML 1.1 and 1.2 read differently."""
    text, tag, line = node.value, node.tag, node.start_mark.line + 1
    if tag == "tag:yaml.org,2002:bool" and not _BOOL_12.match(text):
        return text  # yes, no, on, off: words in YAML 1.2
    if tag == "tag:yaml.org,2002:int" and not _INT_12.match(text):
        raise _BadScalar(
            line,
            "not a plain decimal number: YAML reads a leading zero as octal, ':' as base 60, '_' as a separator "
            "and 0x as hexadecimal; write the number in plain digits, or quote it if it is text",
            text,
        )
    if tag == "tag:yaml.org,2002:float" and not (_FLOAT_12.match(text) or _SPECIAL_FLOAT.match(text)):
        raise _BadScalar(line, "not a plain decimal number (':' and '_' are read differently by YAML versions)", text)
    if tag == "tag:yaml.org,2002:str" and _FLOAT_12.match(text):
        return float(text)  # 1e5: a number in YAML 1.2, text in 1.1
    if tag == "tag:yaml.org,2002:timestamp":
        try:
            return _constructor.construct_object(node, deep=False)
        except ValueError as exc:
            raise _BadScalar(line, f"not a valid date ({exc})", text) from None
    return _constructor.construct_object(node, deep=False)


def _scalar(node: yaml.Node, file: str = ""):
    if not isinstance(node, yaml.ScalarNode):
        return None
    if not node.style and node.tag.startswith("tag:yaml.org,2002:"):
        value = _plain(node)
    else:
        value = _constructor.construct_object(node, deep=False)
    if isinstance(value, float) and not math.isfinite(value):
        return value  # kept so that validation can say "not finite" with the line
    if isinstance(value, (bytes, set)):  # !!binary, !!set: no field holds them, and pydantic would coerce bytes
        raise _BadScalar(
            node.start_mark.line + 1, f"YAML tag {node.tag.rsplit(':', 1)[-1]!r} is not supported", node.value
        )
    return value


def _name(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name


def read_file(path: Path, root: Path) -> tuple[bytes | None, Problem | None]:
    """The bytes of `path`, or the problem that stops it being read. Only a regular file of at most
    MAX_FILE_BYTES inside `root` (after following links) is read: never a folder, a device or a FIFO (which
    would block forever), nor a link to anything outside the project."""
    name = _name(path, root)
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # missing, or a loop of links
        return None, Problem(name, None, "", f"cannot read file: {getattr(exc, 'strerror', None) or exc}")
    if not real.is_relative_to(root.resolve()):
        return None, Problem(name, None, "", "is a link to something outside the project; copy the file instead")
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        return None, Problem(name, None, "", f"cannot read file: {exc.strerror}")
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            what = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file (a device, FIFO or socket)"
            return None, Problem(name, None, "", f"is {what}; expected a YAML file")
        chunks, total = [], 0
        while chunk := os.read(fd, 1 << 16):
            total += len(chunk)
            if total > MAX_FILE_BYTES:
                return None, Problem(name, None, "", f"file is over {MAX_FILE_BYTES:,} bytes, the limit")
            chunks.append(chunk)
    except OSError as exc:
        return None, Problem(name, None, "", f"cannot read file: {exc.strerror}")
    finally:
        os.close(fd)
    return b"".join(chunks), None


def _compose(raw: bytes, name: str) -> tuple[yaml.Node | None, Problem | None]:
    """The YAML node tree of a file's bytes, or the problem that stops it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, Problem(name, None, "", f"file is not UTF-8 text ({exc.reason} at byte {exc.start})")
    try:
        node = yaml.compose(text, Loader=_PARSER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        return None, Problem(name, line, "", f"YAML syntax error: {exc.problem or exc.context}")
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (NUL, other control characters)
        line = text.count("\n", 0, exc.position) + 1
        what = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
        return None, Problem(
            name, line, "", f"contains the control character {what}, which YAML does not allow; remove it"
        )
    except yaml.YAMLError as exc:
        return None, Problem(name, None, "", f"YAML error: {exc}")
    if node is None:
        return None, Problem(name, 1, "", "file is empty; expected a mapping of fields")
    return node, None


def load_yaml(path: Path, root: Path, raw: bytes | None = None) -> tuple[Located | None, list[Problem]]:
    """Parse one YAML file (`raw`: its bytes, if already read with read_file); return its data with line
    numbers, or the problems that stopped it."""
    name = _name(path, root)
    if raw is None:
        raw, problem = read_file(path, root)
        if raw is None:
            return None, [problem] if problem is not None else []
    node, problem = _compose(raw, name)
    if node is None:
        return None, [problem] if problem is not None else []
    problems: list[Problem] = []
    lines: dict = {}
    try:
        data = _convert(node, (), lines, [MAX_NODES], problems, name)
    except _BadScalar as exc:
        return None, [Problem(name, exc.line, _field_at(lines, exc.line), exc.message, repr(exc.value))]
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
    if data is None:  # a file with only '---' or '~'
        return None, [Problem(name, 1, "", "file is empty; expected a mapping of fields")]
    if not isinstance(data, dict):
        return None, [Problem(name, 1, "", "expected a mapping of fields at the top level", type(data).__name__)]
    return Located(data, lines), problems


def _field_at(lines: dict, line: int) -> str:
    """The dotted path of the deepest field that starts on `line` (for a problem found while parsing)."""
    paths = [p for p, n in lines.items() if n == line]
    if not paths:
        return ""
    best = max(paths, key=len)
    out = ""
    for part in best:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
