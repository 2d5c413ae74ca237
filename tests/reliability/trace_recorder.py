"""A LangChain callback handler that records everything, and the real CLI run with it on.

`TraceRecorder` keeps the ``repr`` of the arguments of every callback a run
makes: prompts, streamed tokens, tool inputs and outputs, chain inputs and
outputs, serialized models, metadata. That is everything a tracer (LangSmith,
Langfuse, a log handler) attached to a Ponder run could see, so a secret
absent from it is absent from any trace.

``python -m tests.reliability.trace_recorder OUT ARGS...`` runs ``ponder ARGS...``
(the same `agent.cli.app:main` the console script runs) with a recorder
attached to every run through LangChain's configure hook, and writes the
recording to OUT when the process exits.
"""

from __future__ import annotations

import sys
import threading
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.tracers.context import register_configure_hook

__all__ = ["TraceRecorder", "main"]

_EVENTS = (
    "on_llm_start", "on_chat_model_start", "on_llm_new_token", "on_llm_end", "on_llm_error",
    "on_chain_start", "on_chain_end", "on_chain_error", "on_tool_start", "on_tool_end",
    "on_tool_error", "on_text", "on_retry", "on_agent_action", "on_agent_finish",
    "on_retriever_start", "on_retriever_end", "on_retriever_error", "on_custom_event",
)  # fmt: skip


class TraceRecorder(BaseCallbackHandler):
    """Records the repr of every callback's arguments, in order."""

    raise_error = True  # a recorder that fails must fail the test, not go quiet

    def __init__(self) -> None:
        self.events: list[str] = []
        self._lock = threading.Lock()

    def record(self, event: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        with self._lock:
            self.events.append(f"{event} {args!r} {kwargs!r}")

    @property
    def text(self) -> str:
        with self._lock:
            return "\n".join(self.events)


def _recorder_method(event: str) -> Any:
    def method(self: TraceRecorder, *args: Any, **kwargs: Any) -> None:
        self.record(event, args, kwargs)

    method.__name__ = event
    return method


for _event in _EVENTS:
    setattr(TraceRecorder, _event, _recorder_method(_event))

_ACTIVE: ContextVar[TraceRecorder | None] = ContextVar("ponder_test_trace", default=None)


def main() -> None:
    out = Path(sys.argv[1])
    sys.argv = ["ponder", *sys.argv[2:]]
    recorder = TraceRecorder()
    _ACTIVE.set(recorder)
    register_configure_hook(_ACTIVE, True)
    from agent.cli.app import main as ponder_main

    try:
        ponder_main()
    finally:
        out.write_text(recorder.text, encoding="utf-8")


if __name__ == "__main__":
    main()
