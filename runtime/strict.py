"""Typed configuration that rejects unknown keys (``strict_kwargs`` and its field conversions), and the
bounded JSON reader every document goes through."""
from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

Coerce = Callable[[Any], Any]  # a parsed JSON value -> the field's value; raises on a wrong one


class FieldProblem(Exception):
    """What is wrong with one field ("must be a string"); ``strict_kwargs`` names the document and
    the field. Not a ValueError, so it is reported as it is, not as a "malformed" document."""


def unknown_keys(cls: type, data: dict[str, Any]) -> list[str]:
    """The keys of ``data`` that are not fields of the dataclass ``cls``, sorted (empty when none)."""
    return sorted(set(data) - {f.name for f in dataclasses.fields(cls)})


def strict_kwargs(cls: type, data: Any, *, what: str, error: type[Exception], coerce: Mapping[str, Coerce],
                  article: str = "a ") -> dict[str, Any]:
    """The keyword arguments of the dataclass ``cls`` from a parsed JSON object: the one reader of
    the model metadata, the model spec and the training config, so each rejects alike.

    ``data`` must be an object with no key that is not a field. Each field named in ``coerce`` that
    is present goes through its function, in the mapping's order (so the first bad field is the one
    reported). Every failure is an ``error`` whose message names the document (``what``):
    ``unknown <what> keys: ...``, ``<what> field '<name>' <problem>`` for a FieldProblem, and
    ``malformed <what>: ...`` for a value the conversion itself rejects. The dataclass's own
    ``__post_init__`` then checks the values: one validator per concept.
    """
    if not isinstance(data, dict):
        raise error(f"{article}{what} must be a JSON object, got {type(data).__name__}")
    unknown = unknown_keys(cls, data)
    if unknown:
        raise error(f"unknown {what} keys: {', '.join(unknown)}")
    kwargs = dict(data)
    for name, convert in coerce.items():
        if name not in kwargs:
            continue
        try:
            kwargs[name] = convert(kwargs[name])
        except FieldProblem as problem:
            raise error(f"{what} field {name!r} {problem}") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise error(f"malformed {what}: {exc}") from None
    return kwargs


def float_tuple(values: Any) -> tuple[float, ...]:
    """A JSON list of numbers as a tuple of floats (score bins)."""
    return tuple(float(v) for v in values)


def optional(convert: Coerce) -> Coerce:
    """``convert``, letting null (None: "not set") through unchanged."""
    return lambda value: None if value is None else convert(value)


def of_kind(kind: type | tuple[type, ...], problem: str) -> Coerce:
    """A check that passes a value of ``kind`` through unchanged and raises FieldProblem(problem)
    for any other."""
    def check(value: Any) -> Any:
        if not isinstance(value, kind):
            raise FieldProblem(problem)
        return value
    return check


MAX_JSON_DEPTH = 64  # every document nima-edge reads nests a few levels; deeper is hostile or broken
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def parse_json(document: str | bytes, max_bytes: int, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` bounded in size and nesting; raises ValueError with a one-line reason.

    Python's parser recurses per level, so a document nested a thousand deep ends in a
    RecursionError; the depth is measured first, on the brackets outside strings.
    """
    if len(document) > max_bytes:
        raise ValueError(f"JSON document is {len(document)} bytes, over the {max_bytes}-byte limit")
    text = document.decode("utf-8") if isinstance(document, (bytes, bytearray)) else document
    depth = deepest = 0
    for match in _JSON_BRACKET.finditer(_JSON_STRING.sub('""', text)):
        depth += 1 if match.group() in "[{" else -1
        deepest = max(deepest, depth)
        if deepest > max_depth:
            raise ValueError(f"JSON nested deeper than {max_depth} levels")
    return json.loads(text)
