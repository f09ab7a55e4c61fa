"""Typed configuration that rejects unknown keys, and the bounded JSON reader every document goes through."""
from __future__ import annotations

import dataclasses
import json
import re
from typing import Any


def unknown_keys(cls: type, data: dict[str, Any]) -> list[str]:
    """The keys of ``data`` that are not fields of the dataclass ``cls``, sorted (empty when none)."""
    return sorted(set(data) - {f.name for f in dataclasses.fields(cls)})


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
