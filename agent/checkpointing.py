"""Which types a Ponder checkpoint may hold, so strict msgpack can refuse all others.

A checkpoint is data read back from disk: with an allowlist, a tampered one that
names any other class is refused instead of that class being imported and
built. LangGraph's strict mode then hands back the blocked value's raw
arguments in its place, so a tampered checkpoint would still load, as garbage
(or as an attacker's string in a text field); Ponder's serializer refuses the
whole checkpoint instead, with `CheckpointError`. Pass `checkpoint_allowlist()`
to your own saver's ``with_allowlist`` when you embed Ponder's graphs under a
parent graph's checkpointer.
"""

from __future__ import annotations

import contextvars
import types
import typing
from typing import Any

from langgraph.checkpoint.serde.event_hooks import SerdeEvent, register_serde_event_listener
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from pydantic import BaseModel
from typing_extensions import is_typeddict  # knows typing's and typing_extensions' TypedDicts

from agent.errors import CheckpointError

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


# The types LangGraph refused while one `loads_typed` call runs on this thread.
_REFUSED: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "ponder_refused_types", default=None
)


def _note_refusal(event: SerdeEvent) -> None:
    refused = _REFUSED.get()
    if refused is not None and event["kind"] in ("msgpack_blocked", "msgpack_method_blocked"):
        method = event.get("method")
        refused.append(f"{event['module']}.{event['name']}" + (f".{method}" if method else ""))


register_serde_event_listener(_note_refusal)


_WRITTEN = frozenset({"msgpack", "null", "bytes", "bytearray"})  # what dumps_typed writes


class _RefusingSerializer(JsonPlusSerializer):
    """Strict msgpack that refuses a whole checkpoint naming a type outside the allowlist."""

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        if data[0] not in _WRITTEN:  # json (lc constructors) and pickle are never Ponder's
            raise CheckpointError(f"refused a checkpoint stored as {data[0][:20]!r}")
        refused: list[str] = []
        token = _REFUSED.set(refused)
        try:
            value = super().loads_typed(data)
        except (ValueError, TypeError, NotImplementedError) as exc:  # not a checkpoint we wrote
            raise CheckpointError(
                f"refused a checkpoint that cannot be read as Ponder's ({type(exc).__name__}: "
                f"{str(exc)[:200]})"
            ) from exc
        finally:
            _REFUSED.reset(token)
        if refused:
            names = ", ".join(sorted(set(refused)))
            raise CheckpointError(
                f"refused a checkpoint naming {names}, which is not one of Ponder's state types"
            )
        return value


def checkpoint_serde() -> JsonPlusSerializer:
    """A serializer that revives only Ponder's state types and refuses any other (strict)."""
    return _RefusingSerializer(allowed_msgpack_modules=checkpoint_allowlist())
