"""What the model is writing right now, read off LangChain's callbacks.

A local model can spend tens of seconds on one planning call, and the graph
emits its typed events only when the call is over. The live view therefore
also listens to the model's own token stream (any LangChain chat model reports
it through callbacks) to show which node is calling, how long it has been
thinking, how many tokens it has written and the plan's reasoning so far.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk, GenerationChunk, LLMResult
from langchain_core.utils.json import parse_partial_json

__all__ = ["ModelActivity", "ModelCall"]


@dataclass(frozen=True)
class ModelCall:
    """One model call in flight, as the view shows it."""

    node: str
    started: float
    tokens: int
    reasoning: str


class _Call:
    def __init__(self, node: str) -> None:
        self.node = node
        self.started = time.monotonic()
        self.tokens = 0
        self.pieces: list[str] = []
        self.last_chunk: object = None


class ModelActivity(BaseCallbackHandler):
    """Counts the streamed tokens of every model call of a run; thread-safe."""

    run_inline = True  # called on the node's own thread: no executor hop per token

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[UUID, _Call] = {}

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        node = str((metadata or {}).get("langgraph_node", ""))
        with self._lock:
            self._calls[run_id] = _Call(node)

    def on_llm_new_token(
        self,
        token: str | list[str | dict[str, Any]],
        *,
        chunk: GenerationChunk | ChatGenerationChunk | None = None,
        run_id: UUID,
        **kwargs: Any,
    ) -> None:
        with self._lock:
            call = self._calls.get(run_id)
            if call is None:
                return
            # Some adapters report a chunk themselves and LangChain reports it again.
            if chunk is not None and chunk is call.last_chunk:
                return
            call.last_chunk = chunk
            call.tokens += 1
            call.pieces.append(_text_of(token, chunk))

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        with self._lock:
            self._calls.pop(run_id, None)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        with self._lock:
            self._calls.pop(run_id, None)

    def current(self) -> ModelCall | None:
        """The most recently started call still in flight, if any."""
        with self._lock:
            if not self._calls:
                return None
            call = max(self._calls.values(), key=lambda c: c.started)
            text = "".join(call.pieces)
            node, started, tokens = call.node, call.started, call.tokens
        return ModelCall(node=node, started=started, tokens=tokens, reasoning=_reasoning(text))


def _text_of(
    token: str | list[str | dict[str, Any]], chunk: GenerationChunk | ChatGenerationChunk | None
) -> str:
    """The reply text a chunk adds: its content, or a tool call's argument JSON."""
    if isinstance(token, list):  # content blocks
        token = "".join(b if isinstance(b, str) else str(b.get("text") or "") for b in token)
    message = getattr(chunk, "message", None)
    calls = getattr(message, "tool_call_chunks", None) or []
    args = "".join(str(c.get("args") or "") for c in calls)
    return token + args


def _reasoning(text: str) -> str:
    """The ``reasoning`` field of a structured reply that is still streaming."""
    start = text.find("{")
    if start < 0:
        return ""
    try:
        partial = parse_partial_json(text[start:])
    except ValueError:
        return ""
    if not isinstance(partial, dict):
        return ""
    return str(partial.get("reasoning") or "")
