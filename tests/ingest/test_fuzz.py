"""Fuzzing the loader: any study file, valid or broken, is either accepted or reported as problems,
never a crash with a traceback; and nothing non-finite reaches the published numbers."""

from __future__ import annotations

import copy
import json
import math
import shutil

import pytest
import yaml
from conftest import ROOT, TODAY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.errors import DataError, Problem
from builder.ingest.loader import load

BASE = yaml.safe_load((ROOT / "data/studies/shu-2020.yaml").read_text(encoding="utf-8"))

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.lists(st.integers(0, 5), max_size=3),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=2),
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


PATHS = [p for p in _paths(BASE) if p]


@st.composite
def mutated(draw):
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(PATHS))
        parent = doc
        try:
            for part in path[:-1]:
                parent = parent[part]
            action = draw(st.sampled_from(["replace", "delete", "extra"]))
            if action == "replace":
                parent[path[-1]] = draw(values)
            elif action == "delete" and isinstance(parent, dict):
                parent.pop(path[-1], None)
            elif isinstance(parent, dict):
                parent[draw(st.text(min_size=1, max_size=10))] = draw(values)
        except (KeyError, IndexError, TypeError):
            continue
    return doc


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(ROOT / "data", root / "data")
    return root / "data"


def _check(data_dir, text: str):
    (data_dir / "studies/shu-2020.yaml").write_text(text, encoding="utf-8")
    try:
        load(data_dir, today=TODAY)
    except DataError as exc:
        assert exc.problems and all(isinstance(p, Problem) and p.file and p.message for p in exc.problems)
        assert all(str(p) for p in exc.problems)


@settings(max_examples=30, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=mutated())
def test_mutated_study_files_never_crash_the_loader(data_dir, doc):
    _check(data_dir, yaml.safe_dump(doc, allow_unicode=True))


@settings(max_examples=30, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.text(max_size=200), at=st.integers(0, 4000))
def test_garbage_in_the_text_never_crashes_the_loader(data_dir, junk, at):
    text = (ROOT / "data/studies/shu-2020.yaml").read_text(encoding="utf-8")
    _check(data_dir, text[:at] + junk + text[at:])


def test_published_numbers_are_all_finite(built):
    doc = json.loads((built / "site/results.json").read_text(encoding="utf-8"))

    def walk(node):
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, float):
            assert math.isfinite(node)

    walk(doc)
    for page in (built / "site").rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert ">nan<" not in text.lower() and ">inf<" not in text.lower() and "NaN" not in text.replace("NaN;", "")
