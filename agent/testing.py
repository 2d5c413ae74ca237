"""Test doubles: real LangChain chat models whose replies are scripted.

langchain-core's fake chat models support neither ``bind_tools`` nor structured
output, so Ponder's logic could not be pinned down with them. These do both:

- `ScriptedChatModel` answers from per-role scripts. The role is the name of the
  tool the caller forces: each reply schema's declared ``SCRIPT_KEY``
  (``Planning``, ``Replanning``, ``Reflection``, ``Synthesis``, ``Extraction``),
  or ``"text"`` for plain calls.
- `FunctionChatModel` answers with a function of the messages and the role.
- `SchemaChatModel` answers with the smallest reply the forced schema accepts,
  overlaid with what the test cares about (pydantic-ai's ``TestModel``).

`plan_step` and `planning_reply` are the one way to write a scripted plan.

A scripted plan (``steps``) is sent as a compact ``plan`` text when the
planner asks for one (``Settings(plan_format="compact")``), so one script
serves both plan formats.

Both stream (tool-call arguments arrive in pieces, as from a real provider),
report deterministic token usage, can sleep to simulate latency, and record
every call. A reply can be a dict (the forced tool's arguments), a string
(text), an exception instance (raised), or `Hang()` (never answers).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr

from agent._testing_replies import (
    as_compact_plan,
    plan_step,
    planning_reply,
    reply_from_schema,
)

__all__ = [
    "FunctionChatModel",
    "Hang",
    "SchemaChatModel",
    "ScriptExhaustedError",
    "ScriptedCall",
    "ScriptedChatModel",
    "as_compact_plan",
    "count_tokens",
    "plan_step",
    "planning_reply",
    "reply_from_schema",
    "scripted_model_from_file",
]

Reply = Any  # dict | str | BaseException | Hang


class Hang:
    """A reply that never comes (to test timeouts)."""


class ScriptExhaustedError(AssertionError):
    """The code under test made a model call the script did not expect."""


@dataclass(frozen=True)
class ScriptedCall:
    role: str
    messages: tuple[BaseMessage, ...]
    started: float
    tools: tuple[str, ...] = ()
    schema: Mapping[str, Any] = field(default_factory=dict)

    @property
    def prompt(self) -> str:
        return "\n".join(str(m.content) for m in self.messages)


def count_tokens(text: str) -> int:
    """A deterministic stand-in tokenizer: about four characters a token."""
    return max(1, (len(text) + 3) // 4) if text else 0


def _forced_role(kwargs: Mapping[str, Any]) -> tuple[str, tuple[str, ...], Mapping[str, Any]]:
    tools = kwargs.get("tools") or []
    names = tuple(t["function"]["name"] for t in tools)
    choice = kwargs.get("tool_choice")
    if isinstance(choice, dict):
        choice = choice.get("function", {}).get("name") or choice.get("name")
    if isinstance(choice, str) and choice in names:
        return choice, names, tools[names.index(choice)]["function"].get("parameters", {})
    if len(names) == 1 and choice in ("any", "required", True):
        return names[0], names, tools[0]["function"].get("parameters", {})
    return "text", names, {}


class _ScriptedBase(BaseChatModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    latency_s: float = Field(default=0.0, description="simulated time to reply")
    role_latency_s: dict[str, float] = Field(
        default_factory=dict, description="per-role override of latency_s"
    )
    chunks: int = Field(default=4, description="pieces a streamed reply arrives in")
    _calls: list[ScriptedCall] = PrivateAttr(default_factory=list)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def calls(self) -> list[ScriptedCall]:
        return list(self._calls)

    def calls_for(self, role: str) -> list[ScriptedCall]:
        return [c for c in self._calls if c.role == role]

    def _latency(self, role: str) -> float:
        return self.role_latency_s.get(role, self.latency_s)

    def _reply_for(self, role: str, messages: Sequence[BaseMessage]) -> Reply:
        raise NotImplementedError

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        formatted = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    # -- the one place a reply is produced ---------------------------------
    def _next(self, messages: list[BaseMessage], kwargs: Mapping[str, Any]) -> tuple[str, Reply]:
        role, names, schema = _forced_role(kwargs)
        with self._lock:
            self._calls.append(ScriptedCall(role, tuple(messages), time.monotonic(), names, schema))
            reply = self._reply_for(role, messages)
        return role, as_compact_plan(reply, schema)

    def _message(self, role: str, reply: Reply, messages: list[BaseMessage]) -> AIMessage:
        if isinstance(reply, BaseException):
            raise reply
        usage_in = sum(count_tokens(str(m.content)) for m in messages)
        if isinstance(reply, dict) and role != "text":
            text = json.dumps(reply)
            return AIMessage(
                content="",
                tool_calls=[{"name": role, "args": reply, "id": f"call_{len(self._calls)}"}],
                usage_metadata=_usage(usage_in, count_tokens(text)),
            )
        text = reply if isinstance(reply, str) else json.dumps(reply)
        return AIMessage(content=text, usage_metadata=_usage(usage_in, count_tokens(text)))

    def _pieces(self, role: str, reply: Reply, messages: list[BaseMessage]) -> list[AIMessageChunk]:
        message = self._message(role, reply, messages)
        if message.tool_calls:
            call = message.tool_calls[0]
            raw = json.dumps(call["args"])
        else:
            raw = str(message.content)
        size = max(1, -(-len(raw) // self.chunks))
        parts = [raw[i : i + size] for i in range(0, len(raw), size)] or [""]
        out: list[AIMessageChunk] = []
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            usage = message.usage_metadata if last else None
            if message.tool_calls:
                chunk = AIMessageChunk(
                    content="",
                    tool_call_chunks=[
                        tool_call_chunk(
                            name=role if i == 0 else None,
                            args=part,
                            id=message.tool_calls[0]["id"] if i == 0 else None,
                            index=0,
                        )
                    ],
                    usage_metadata=usage,
                )
            else:
                chunk = AIMessageChunk(content=part, usage_metadata=usage)
            out.append(chunk)
        return out

    # -- BaseChatModel ---------------------------------------------------------
    @property
    def _llm_type(self) -> str:
        return "ponder-scripted"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        role, reply = self._next(messages, kwargs)
        _sleep_sync(self._latency(role), reply)
        return ChatResult(
            generations=[ChatGeneration(message=self._message(role, reply, messages))]
        )

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        role, reply = self._next(messages, kwargs)
        await _sleep_async(self._latency(role), reply)
        return ChatResult(
            generations=[ChatGeneration(message=self._message(role, reply, messages))]
        )

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        role, reply = self._next(messages, kwargs)
        pieces = self._pieces(role, reply, messages) if not isinstance(reply, Hang) else []
        latency = self._latency(role)
        _sleep_sync(latency / 2, reply)
        for piece in pieces:
            time.sleep(latency / 2 / len(pieces))
            yield ChatGenerationChunk(message=piece)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        role, reply = self._next(messages, kwargs)
        pieces = self._pieces(role, reply, messages) if not isinstance(reply, Hang) else []
        latency = self._latency(role)
        await _sleep_async(latency / 2, reply)
        for piece in pieces:
            await asyncio.sleep(latency / 2 / len(pieces))
            yield ChatGenerationChunk(message=piece)


class ScriptedChatModel(_ScriptedBase):
    """Replies from per-role scripts, in order; running out is a test failure.

    ``ScriptedChatModel(script={"Planning": [plan], "Synthesis": [answer]})``.
    With ``repeat_last=True`` the last reply of a role repeats forever (a
    model that would loop for ever, to test budgets). ``by_task={"text": script}``
    answers a run whose first prompt contains ``text`` from that script instead
    (one model file can then drive every task of a batch differently).
    """

    script: dict[str, list[Any]] = Field(default_factory=dict)
    by_task: dict[str, dict[str, list[Any]]] = Field(default_factory=dict)
    repeat_last: bool = False
    _used: dict[str, int] = PrivateAttr(default_factory=dict)
    _chosen: dict[str, list[Any]] | None = PrivateAttr(default=None)

    def _script_for(self, messages: Sequence[BaseMessage]) -> dict[str, list[Any]]:
        if self._chosen is None:
            prompt = "\n".join(str(m.content) for m in messages)
            matches = [s for text, s in self.by_task.items() if text in prompt]
            self._chosen = matches[0] if matches else self.script
        return self._chosen

    def _reply_for(self, role: str, messages: Sequence[BaseMessage]) -> Reply:
        replies = self._script_for(messages).get(role)
        if not replies:
            raise ScriptExhaustedError(f"no scripted reply for role {role!r}")
        i = self._used.get(role, 0)
        if i >= len(replies):
            if not self.repeat_last:
                raise ScriptExhaustedError(f"script for role {role!r} ran out after {i} replies")
            i = len(replies) - 1
        self._used[role] = i + 1
        reply = replies[i]
        return reply(list(messages)) if callable(reply) and not isinstance(reply, type) else reply


def scripted_model_from_file(path: str | Path) -> ScriptedChatModel:
    """A `ScriptedChatModel` from a JSON file: ``{"script": {...}, "latency_s": 0.1, ...}``.

    This is what the model spec ``script:PATH`` loads, so CLI runs (and
    ``ponder resume``) can be driven exactly in tests and benchmarks.
    """
    from agent.errors import ConfigError

    try:
        spec = json.loads(Path(path).read_text(encoding="utf-8"))
        return ScriptedChatModel.model_validate(spec)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load the scripted model {path}: {exc}") from exc


class FunctionChatModel(_ScriptedBase):
    """Replies with ``fn(messages, role)``: for replies that depend on the prompt."""

    fn: Callable[[list[BaseMessage], str], Any]

    def _reply_for(self, role: str, messages: Sequence[BaseMessage]) -> Reply:
        return self.fn(list(messages), role)


class SchemaChatModel(_ScriptedBase):
    """Answers each structured call with `reply_from_schema` of the forced schema, overlaid
    with ``fill[role]``; plain-text calls get ``text``. Never runs out.

    ``SchemaChatModel(fill={"Planning": planning_reply(plan_step("s1", "lookup"))})``
    """

    fill: dict[str, dict[str, Any]] = Field(default_factory=dict)
    text: str = "ok"

    def _reply_for(self, role: str, messages: Sequence[BaseMessage]) -> Reply:
        if role == "text":
            return self.text
        return reply_from_schema(self._calls[-1].schema, self.fill.get(role))


def _usage(inp: int, out: int) -> Any:
    return {"input_tokens": inp, "output_tokens": out, "total_tokens": inp + out}


def _sleep_sync(seconds: float, reply: Reply) -> None:
    if isinstance(reply, Hang):
        while True:
            time.sleep(3600)
    if seconds:
        time.sleep(seconds)


async def _sleep_async(seconds: float, reply: Reply) -> None:
    if isinstance(reply, Hang):
        await asyncio.Event().wait()
    if seconds:
        await asyncio.sleep(seconds)
