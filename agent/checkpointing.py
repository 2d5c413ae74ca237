"""Which types a Ponder checkpoint may hold, so strict msgpack can refuse all others.

A checkpoint is data read back from disk: with an allowlist, a tampered one that
names any other class is refused instead of that class being imported and
built. Pass `checkpoint_allowlist()` to your own saver's ``with_allowlist`` when
you embed Ponder's graphs under a parent graph's checkpointer.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from pydantic import BaseModel
from typing_extensions import is_typeddict  # knows typing's and typing_extensions' TypedDicts

__all__ = ["checkpoint_allowlist", "checkpoint_serde"]


def _pydantic_types(tp: Any, found: set[type[BaseModel]]) -> None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if tp in found:
            return
        found.add(tp)
        for field in tp.model_fields.values():
            _pydantic_types(field.annotation, found)
        return
    if is_typeddict(tp):
        for hint in typing.get_type_hints(tp, include_extras=True).values():
            _pydantic_types(hint, found)
        return
    for arg in typing.get_args(tp):
        if not isinstance(arg, (str, int, float, bool, types.NoneType)):
            _pydantic_types(arg, found)


def checkpoint_allowlist() -> list[tuple[str, str]]:
    """(module, class) of every type Ponder's state can hold."""
    from agent.state import ResearchState

    found: set[type[BaseModel]] = set()
    _pydantic_types(ResearchState, found)
    return sorted((t.__module__, t.__name__) for t in found)


def checkpoint_serde() -> JsonPlusSerializer:
    """A serializer that revives only Ponder's state types (strict msgpack)."""
    return JsonPlusSerializer(allowed_msgpack_modules=checkpoint_allowlist())
