"""The shape of builder/: layers that import only downwards, no private names borrowed across modules, and
no function so branching that it needs a map (radon's cyclomatic complexity above 15) without a reason."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from radon.complexity import cc_visit

PACKAGE = ROOT / "builder"
MAX_COMPLEXITY = 15
SOURCES = sorted(PACKAGE.rglob("*.py"))


def _justified(lines: list[str], lineno: int) -> bool:
    """A def may exceed the limit when a comment on its line or just above it starts with 'complexity:'."""
    window = lines[max(0, lineno - 3) : lineno]
    return any("# complexity:" in line for line in window)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_function_above_the_complexity_limit_without_a_reason(path: Path):
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    too_complex = []
    for block in cc_visit(text):
        for item in [block, *getattr(block, "methods", [])]:
            if type(item).__name__ == "Class":
                continue
            if item.complexity > MAX_COMPLEXITY and not _justified(lines, item.lineno):
                too_complex.append(f"{item.name} (line {item.lineno}): {item.complexity}")
    assert not too_complex, f"above {MAX_COMPLEXITY} without a '# complexity:' comment: {too_complex}"


def test_the_limit_is_enforced():
    """The check above can fail: a function of 16 branches is reported, and a reason lets it pass."""
    body = "".join(f"    if x == {i}:\n        return {i}\n" for i in range(16))
    source = "def f(x):\n" + body + "    return -1\n"
    (block,) = cc_visit(source)
    assert block.complexity == 17
    assert not _justified(source.splitlines(), block.lineno)
    assert _justified(["# complexity: a flat table of cases", *source.splitlines()], block.lineno + 1)


def test_no_private_name_is_imported_from_another_module():
    """A leading underscore means 'this module's own': importing it elsewhere hides a missing interface."""
    borrowed = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        borrowed.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.module}.{alias.name}")
    assert not borrowed


def test_layers_import_only_downwards():
    """The import contracts of pyproject.toml ([tool.importlinter]) hold: a cycle can never come back."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run([str(lint_imports)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout
