"""`ChatOpenAI` for OpenAI-compatible servers that stream tool calls off-spec.

OpenAI sends a tool call's ``id`` and ``name`` in its first streamed delta only.
llama-cpp-python's server repeats both in every delta; LangChain concatenates
the repeats ("VerdictVerdictVerdict..."), so a streamed forced tool call, and
with it streamed structured output, comes back empty. This subclass drops the
repeats before LangChain merges them; a conformant stream is left unchanged.

It also sends a reply's token cap as ``max_tokens``, the name every compatible
server knows, not OpenAI's newer ``max_completion_tokens``, which llama-cpp-python
ignores. And for a server that decodes forced tool calls under a grammar, each
tool's schema is first put in the shape llama.cpp's converter enforces
faithfully (`prepare_schema`): sent raw, Ponder's plan schema compiles to a
grammar that admits endless invalid JSON, and the demo model writes to the cap.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from langchain_core.outputs import ChatGenerationChunk
from langchain_openai import ChatOpenAI
from pydantic import Field, PrivateAttr

from agent.models._grammar import prepare_schema

__all__ = ["ChatOpenAICompatible"]

_REMEMBERED_CALLS = 4096


class ChatOpenAICompatible(ChatOpenAI):
    """`ChatOpenAI` that tolerates repeated tool-call ids and names in streamed deltas."""

    constrained_tool_calls: bool = Field(
        default=False,
        description="the server decodes a forced tool call under a grammar built from the "
        "tool's JSON schema, as llama.cpp's servers do; Ponder then sends plan schemas "
        "whose only possible output is a valid DAG",
    )
    _seen: OrderedDict[str, None] = PrivateAttr(default_factory=OrderedDict)
    _seen_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def _get_request_payload(
        self, input_: Any, *, stop: list[str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        payload: dict[str, Any] = super()._get_request_payload(input_, stop=stop, **kwargs)
        # langchain-openai sends OpenAI's newer max_completion_tokens; llama-cpp-python's
        # server knows only max_tokens and would otherwise write until the context is full.
        if "max_completion_tokens" in payload and "max_tokens" not in payload:
            payload["max_tokens"] = payload.pop("max_completion_tokens")
        if self.constrained_tool_calls:
            for spec in payload.get("tools") or []:
                function = spec.get("function") if isinstance(spec, dict) else None
                if isinstance(function, dict) and isinstance(function.get("parameters"), dict):
                    function["parameters"] = prepare_schema(function["parameters"])
        return payload

    def _convert_chunk_to_generation_chunk(
        self,
        chunk: dict[str, Any],
        default_chunk_class: type,
        base_generation_info: dict[str, Any] | None,
    ) -> ChatGenerationChunk | None:
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            calls = delta.get("tool_calls") or []
            if calls:
                delta.pop("function_call", None)  # a legacy duplicate of the same call
            for call in calls:
                if call.get("id") and self._repeat(call["id"]):
                    call["id"] = None
                    if isinstance(call.get("function"), dict):
                        call["function"]["name"] = None
        result: ChatGenerationChunk | None = super()._convert_chunk_to_generation_chunk(
            chunk, default_chunk_class, base_generation_info
        )
        return result

    def _repeat(self, ident: str) -> bool:
        """Whether `ident` was seen before; ids are unique per reply, so streams can share this."""
        with self._seen_lock:
            if ident in self._seen:
                self._seen.move_to_end(ident)
                return True
            self._seen[ident] = None
            if len(self._seen) > _REMEMBERED_CALLS:
                self._seen.popitem(last=False)
            return False
