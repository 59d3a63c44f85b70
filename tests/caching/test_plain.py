"""The store keeps plain data: every stored value reads back as the value stored, and reading runs no code."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from conftest import ROOT

from builder.analysis import run as analysis_run
from builder.caching.plain import PLAIN, Codec, ModelCodec, PlainError
from builder.caching.store import FORMAT, Store
from builder.contract import Study
from builder.ingest.loader import load


@dataclasses.dataclass(frozen=True, slots=True)
class _Point:
    x: float
    label: str
    tags: tuple = ()


def test_builtins_tuples_arrays_and_odd_keys_read_back_as_they_were():
    value = {
        "a": [1, 2.5, float("nan"), float("inf"), -0.0, None, True, "é"],
        "t": (1, (2, 3)),
        "keys": {1: "one", ("a", 2): "pair"},
        "@": "a key that looks like a tag",
        "arr": np.array([[1.0, np.nan], [3.0, 4.0]]),
        "bools": np.array([True, False]),
    }
    back = PLAIN.decode(json.loads(json.dumps(PLAIN.encode(value))))
    assert isinstance(back["t"], tuple) and back["t"] == (1, (2, 3))
    assert back["keys"] == {1: "one", ("a", 2): "pair"} and back["@"] == value["@"]
    assert back["arr"].dtype == np.float64 and np.array_equal(back["arr"], value["arr"], equal_nan=True)
    assert back["bools"].dtype == bool and back["bools"].tolist() == [True, False]
    assert repr(back["a"][1:5]) == repr(value["a"][1:5])  # nan, inf and the sign of zero survive


def test_dataclasses_are_kept_only_when_the_codec_knows_them():
    codec = Codec([_Point])
    point = _Point(0.1, "x", ("a",))
    assert codec.decode(json.loads(json.dumps(codec.encode(point)))) == point
    with pytest.raises(TypeError, match="cannot keep"):
        PLAIN.encode(point)
    with pytest.raises(PlainError, match="unknown tag"):
        PLAIN.decode(codec.encode(point))


def test_subclasses_of_builtins_are_refused_rather_than_read_back_as_something_else():
    import enum
    from typing import NamedTuple

    class Pair(NamedTuple):
        a: int
        b: int

    class Colour(enum.Enum):
        RED = 1

    class Bigger(dict):
        pass

    for value in (Pair(1, 2), Colour.RED, Bigger(a=1), [Pair(1, 2)]):
        with pytest.raises(TypeError, match="cannot keep"):
            PLAIN.encode(value)


@pytest.mark.parametrize(
    "data",
    [
        {"@": "os.system", "v": {"command": "id"}},  # a name of code is only ever a tag, never imported
        {"@": "builtins.eval", "v": "1"},
        {"@": "ndarray", "dtype": "O", "shape": [1], "v": [1]},
        {"@": "ndarray", "dtype": "float64", "shape": [3], "v": [1.0]},
        {"@": "ndarray", "dtype": "float64", "shape": [1], "v": ["x"]},
        {"@": "dict", "v": [[1]]},
        {"@": "dict", "v": [[[1], 2]]},
        {"@": f"{__name__}._Point", "v": {"x": 1.0}},  # a field missing
    ],
)
def test_anything_else_is_refused(data):
    with pytest.raises(PlainError):
        Codec([_Point]).decode(data)


@pytest.fixture(scope="module")
def review_data():
    return load(ROOT / "data")


def test_every_stored_analysis_reads_back_as_it_was_fitted(review_data, tmp_path):
    """The values the build keeps, as the build keeps them: through the store and back, the same plain data
    and the same numbers."""
    store = Store(tmp_path)
    first = analysis_run.run_all(review_data, store)
    codec = analysis_run._codec()
    entries = sorted((tmp_path / "analyses").glob("*.json"))
    assert len(entries) == len(review_data.review.analyses)
    again = Store(tmp_path)
    second = analysis_run.run_all(review_data, again)
    assert again.hits == len(entries) and again.misses == 0
    for a, b in zip(first, second, strict=True):
        for name in ("fit", "fixed_first", "notes", "followups", "small_study", "subgroups"):
            plain = [json.dumps(codec.encode(getattr(r, name))) for r in (a, b)]  # as text: NaN equals NaN
            assert plain[0] == plain[1], (a.spec.id, name)
        assert [(r.yi, r.vi, r.corrected, r.weight) for r in a.rows] == [
            (r.yi, r.vi, r.corrected, r.weight) for r in b.rows
        ]


def test_a_study_reads_back_equal_with_the_same_fields_set(review_data):
    codec = ModelCodec(Study)
    for study in review_data.studies.values():
        back = codec.decode(json.loads(json.dumps(codec.encode(study))))
        assert back == study and back.model_fields_set == study.model_fields_set


def test_an_entry_is_two_lines_of_json_with_its_format_kind_key_and_digest(tmp_path):
    store = Store(tmp_path)
    store.put("fits", "k1", {"estimate": (0.25, None)})
    head, body = (tmp_path / "fits/k1.json").read_bytes().split(b"\n")
    header = json.loads(head)
    assert header["format"] == FORMAT and header["kind"] == "fits" and header["key"] == "k1"
    assert json.loads(body) == {"estimate": {"@": "tuple", "v": [0.25, None]}}
    assert Store(tmp_path).get("fits", "k1") == {"estimate": (0.25, None)}
