"""Values to plain data (JSON) and back, for the store: reading an entry builds values, it never runs code.

The store used to keep pickles; unpickling runs whatever code the file names, so anyone who could write a
build's cache (a shared CI cache, a downloaded artifact) could run code on the next build. Plain data names
no code: a `Codec` turns a value into lists, dicts, strings, numbers, booleans and None, and back. What is not
plain JSON is written as a small tagged object, `{"@": tag, ...}`:

  tuple                  {"@": "tuple", "v": [items]}
  dict with keys that    {"@": "dict", "v": [[key, value], ...]}   (JSON object keys are strings only)
  are not all strings
  numpy array            {"@": "ndarray", "dtype": "float64", "shape": [...], "v": [flat items]}
  dataclass instance     {"@": "<module>.<name>", "v": {field: value}}  only of the types the codec was given

Decoding looks a dataclass up among the types the codec was given (never by importing what the data names)
and sets its fields as they were written, without calling its __init__ (as unpickling did), so the value read
back is the value stored. Anything else (an unknown tag, a missing or extra field, a number where a list
belongs) is a `PlainError`, which the store treats as an unreadable entry.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable

import numpy as np

TAG = "@"
_ARRAY_KINDS = {"b", "i", "u", "f"}  # numpy dtype kinds a plain list can hold exactly


class PlainError(ValueError):
    """Data that is not the plain form of a value this codec knows."""


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


class Codec:
    """Plain data to and from values made of builtins, numpy arrays and the dataclasses in `types`."""

    def __init__(self, types: Iterable[type] = ()):
        self.types = {_name(cls): cls for cls in types}
        bad = [name for name, cls in self.types.items() if not dataclasses.is_dataclass(cls)]
        if bad:
            raise TypeError(f"not dataclasses: {', '.join(bad)}")

    # complexity: one branch per kind of value, read as a table
    def encode(self, value: object) -> object:
        """The plain form of `value`; TypeError for anything it could not read back as the same value: a
        type the codec was not given, or a subclass of a builtin (a NamedTuple, an enum, a dict with more)."""
        kind = type(value)
        if value is None or kind in (bool, str, int):
            return value
        if kind is float:
            return value  # a float's repr reads back as the same float; NaN and Infinity too, in Python's json
        if isinstance(value, list) and kind is list:
            return [self.encode(v) for v in value]
        if isinstance(value, tuple) and kind is tuple:
            return {TAG: "tuple", "v": [self.encode(v) for v in value]}
        if isinstance(value, dict) and kind is dict:
            if all(type(k) is str for k in value) and TAG not in value:
                return {k: self.encode(v) for k, v in value.items()}
            return {TAG: "dict", "v": [[self.encode(k), self.encode(v)] for k, v in value.items()]}
        if isinstance(value, np.ndarray):
            return self._array(value)
        if isinstance(value, np.generic):
            return self.encode(value.item())
        name = _name(type(value))
        if self.types.get(name) is type(value):
            fields = dataclasses.fields(value)  # type: ignore[arg-type]  # a dataclass: its type is in self.types
            return {TAG: name, "v": {f.name: self.encode(getattr(value, f.name)) for f in fields}}
        raise TypeError(f"the store cannot keep a {name}: give its type to the Codec (builder.caching.plain)")

    def _array(self, value: np.ndarray) -> dict:
        if value.dtype.kind not in _ARRAY_KINDS:
            raise TypeError(f"the store keeps numeric arrays only, not {value.dtype}")
        return {TAG: "ndarray", "dtype": value.dtype.str, "shape": list(value.shape), "v": value.ravel().tolist()}

    def decode(self, data: object) -> object:
        if data is None or isinstance(data, bool | str | int | float):
            return data
        if isinstance(data, list):
            return [self.decode(v) for v in data]
        if not isinstance(data, dict):
            raise PlainError(f"not plain data: {type(data).__name__}")
        if TAG not in data:
            return {k: self.decode(v) for k, v in data.items()}
        return self._tagged(data)

    # complexity: one branch per tag, read as a table
    def _tagged(self, data: dict) -> object:
        tag, items = data[TAG], data.get("v")
        if tag == "tuple" and isinstance(items, list):
            return tuple(self.decode(v) for v in items)
        if tag == "dict" and isinstance(items, list):
            if not all(isinstance(pair, list) and len(pair) == 2 for pair in items):
                raise PlainError("a dict's items are [key, value] pairs")
            return {_hashable(self.decode(k)): self.decode(v) for k, v in items}
        if tag == "ndarray" and isinstance(items, list):
            return _decode_array(data, items)
        cls = self.types.get(tag) if isinstance(tag, str) else None
        if cls is None or not isinstance(items, dict):
            raise PlainError(f"unknown tag {tag!r}")
        names = {f.name for f in dataclasses.fields(cls)}
        if set(items) != names:
            raise PlainError(f"{tag} has fields {sorted(names)}, not {sorted(items)}")
        obj: object = object.__new__(cls)
        for name, v in items.items():
            object.__setattr__(obj, name, self.decode(v))  # as unpickling does: no __init__, frozen or not
        return obj


def _hashable(key: object) -> object:
    try:
        hash(key)
    except TypeError as exc:
        raise PlainError("a dict key must be hashable") from exc
    return key


def _decode_array(data: dict, items: list) -> np.ndarray:
    if not isinstance(data.get("dtype"), str):
        raise PlainError("an array's dtype is a name")
    try:
        dtype = np.dtype(data["dtype"])
        shape = tuple(int(n) for n in data.get("shape", []))
    except (TypeError, ValueError) as exc:
        raise PlainError("an array's dtype or shape is not valid") from exc
    if dtype.kind not in _ARRAY_KINDS or math.prod(shape) != len(items):
        raise PlainError("an array's dtype, shape and items do not agree")
    if not all(isinstance(v, bool | int | float) for v in items):
        raise PlainError("an array holds numbers only")
    try:
        return np.array(items, dtype=dtype).reshape(shape)
    except (TypeError, ValueError, OverflowError) as exc:
        raise PlainError("an array's items do not fit its dtype") from exc


PLAIN = Codec()  # builtins, tuples and numeric arrays only


def dataclasses_of(*modules) -> list[type]:
    """The dataclasses defined in `modules` (not those they import), for a Codec."""
    out = []
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == module.__name__:
                out.append(value)
    return out


class ModelCodec(Codec):
    """A pydantic model as the JSON text of its fields (those set, so that the model read back has the same
    fields set), read back by validating that text again: a stored study is checked as a new one is."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def encode(self, value: object) -> object:
        if not isinstance(value, self.model):
            raise TypeError(f"a {self.model.__name__} codec cannot keep a {type(value).__name__}")
        return value.model_dump_json(exclude_unset=True)

    def decode(self, data: object) -> object:
        if not isinstance(data, str):
            raise PlainError(f"a {self.model.__name__} is stored as its JSON text")
        return self.model.model_validate_json(data)
