"""Typed configuration that rejects unknown keys: the one check every from_dict shares."""
from __future__ import annotations

import dataclasses
from typing import Any


def unknown_keys(cls: type, data: dict[str, Any]) -> list[str]:
    """The keys of ``data`` that are not fields of the dataclass ``cls``, sorted (empty when none)."""
    return sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
