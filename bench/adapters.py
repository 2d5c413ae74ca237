"""The scripted model as a langchain-core chat model, used by Ponder and ``create_agent``.

A `FunctionChatModel` underneath, so it binds tools and gives structured
output exactly as Ponder's tests rely on. It streams when asked to, tokens
arriving over the injected latency, and otherwise answers after the whole
delay: the same tokens take the same time either way. Its smolagents twin is
`bench.smol_model.BenchSmolModel`; both serve one script through a `ModelMeter`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict

from agent.testing import FunctionChatModel, as_compact_plan
from bench.meter import ModelMeter, Reply, call_tokens, count_tokens

__all__ = ["BenchChatModel", "forced_role", "sleep_until"]


def forced_role(kwargs: Mapping[str, Any]) -> str:
    """The schema a structured call forces (Ponder's node roles), else ``react``."""
    tools = kwargs.get("tools") or []
    names = [t["function"]["name"] for t in tools]
    choice = kwargs.get("tool_choice")
    if isinstance(choice, dict):
        choice = choice.get("function", {}).get("name") or choice.get("name")
    if isinstance(choice, str) and choice in names:
        return choice
    if len(names) == 1 and choice in ("any", "required", True):
        return str(names[0])
    return "react"


def _schema(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    tools = kwargs.get("tools") or []
    schema: dict[str, Any] = tools[0]["function"].get("parameters", {}) if tools else {}
    return schema


def _lc_text(message: BaseMessage) -> str:
    text = message.text if isinstance(message.content, list) else str(message.content)
    if isinstance(message, AIMessage):
        for call in message.tool_calls:
            text += "\n" + call["name"] + json.dumps(call["args"], ensure_ascii=False)
    return text


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


class BenchChatModel(FunctionChatModel):
    """The scripted model as LangChain sees it; pass ``meter=``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    meter: ModelMeter

    def __init__(self, meter: ModelMeter, **kwargs: Any) -> None:
        super().__init__(fn=_unused, meter=meter, **kwargs)

    @property
    def _llm_type(self) -> str:
        return "ponder-bench"

    # -- building the reply ------------------------------------------------------
    def _turn(
        self, messages: Sequence[BaseMessage], kwargs: Mapping[str, Any]
    ) -> tuple[str, AIMessage, int, int]:
        role = forced_role(kwargs)
        texts = [_lc_text(m) for m in messages]
        reply = self.meter.reply(role, texts)
        if reply.structured is not None:  # a scripted plan, compact when the call asks
            reply = replace(reply, structured=as_compact_plan(reply.structured, _schema(kwargs)))
        message = self._as_message(role, reply)
        tools = kwargs.get("tools") or []
        in_tokens = sum(count_tokens(t) for t in texts)
        in_tokens += count_tokens(json.dumps(tools)) if tools else 0
        out_tokens = count_tokens(str(message.content)) + sum(
            call_tokens(c["name"], c["args"]) for c in message.tool_calls
        )
        message.usage_metadata = {
            "input_tokens": in_tokens,
            "output_tokens": out_tokens,
            "total_tokens": in_tokens + out_tokens,
        }
        return role, message, in_tokens, out_tokens

    def _as_message(self, role: str, reply: Reply) -> AIMessage:
        n = self.meter.calls
        if reply.structured is not None:
            call = {"name": role, "args": reply.structured, "id": f"call_{n}_0"}
            return AIMessage(content="", tool_calls=[call])
        if reply.answer is not None:
            return AIMessage(content=reply.answer)
        calls = [
            {"name": c.name, "args": c.args, "id": f"call_{n}_{i}"}
            for i, c in enumerate(reply.calls)
        ]
        return AIMessage(content=reply.thought, tool_calls=calls)

    def _chunks(self, message: AIMessage) -> list[tuple[AIMessageChunk, int]]:
        """The reply as stream chunks, each with the tokens it carries."""
        size = 4 * self.meter.profile.chunk_size()
        out: list[tuple[AIMessageChunk, int]] = []
        text = str(message.content)
        if text:
            out += [(AIMessageChunk(content=p), count_tokens(p)) for p in _pieces(text, size)]
        for index, call in enumerate(message.tool_calls):
            raw = json.dumps(call["args"], ensure_ascii=False)
            for i, part in enumerate(_pieces(raw, size)):
                first = i == 0
                chunk = tool_call_chunk(
                    name=call["name"] if first else None,
                    args=part,
                    id=call["id"] if first else None,
                    index=index,
                )
                tokens = count_tokens(part) + (count_tokens(call["name"]) if first else 0)
                out.append((AIMessageChunk(content="", tool_call_chunks=[chunk]), tokens))
        if not out:
            out.append((AIMessageChunk(content=""), 0))
        last, tokens = out[-1]
        out[-1] = (
            AIMessageChunk(
                content=last.content,
                tool_call_chunks=last.tool_call_chunks,
                usage_metadata=message.usage_metadata,
            ),
            tokens,
        )
        return out

    # -- BaseChatModel -------------------------------------------------------------
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        role, message, n_in, n_out = self._turn(messages, kwargs)
        started = time.monotonic()
        self.meter.slot.acquire()
        try:
            sleep_until(time.monotonic() + self.meter.profile.delay_s(n_in, n_out))
        finally:
            self.meter.slot.release()
        self.meter.record(role, n_in, n_out, started)
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        role, message, n_in, n_out = self._turn(messages, kwargs)
        started = time.monotonic()
        await self.meter.slot.aacquire()
        try:
            await _asleep_until(time.monotonic() + self.meter.profile.delay_s(n_in, n_out))
        finally:
            self.meter.slot.release()
        self.meter.record(role, n_in, n_out, started)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        role, message, n_in, n_out = self._turn(messages, kwargs)
        profile = self.meter.profile
        started = time.monotonic()
        self.meter.slot.acquire()
        try:
            at = time.monotonic() + profile.prefill_s(n_in)
            for chunk, tokens in self._chunks(message):
                at += tokens * profile.token_s()
                sleep_until(at)
                yield ChatGenerationChunk(message=chunk)
        finally:
            self.meter.slot.release()
            self.meter.record(role, n_in, n_out, started)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        role, message, n_in, n_out = self._turn(messages, kwargs)
        profile = self.meter.profile
        started = time.monotonic()
        await self.meter.slot.aacquire()
        try:
            at = time.monotonic() + profile.prefill_s(n_in)
            for chunk, tokens in self._chunks(message):
                at += tokens * profile.token_s()
                await _asleep_until(at)
                yield ChatGenerationChunk(message=chunk)
        finally:
            self.meter.slot.release()
            self.meter.record(role, n_in, n_out, started)


def _unused(messages: list[BaseMessage], role: str) -> Any:
    raise NotImplementedError("BenchChatModel answers through its meter")


def sleep_until(deadline: float) -> None:
    left = deadline - time.monotonic()
    if left > 0:
        time.sleep(left)


async def _asleep_until(deadline: float) -> None:
    left = deadline - time.monotonic()
    if left > 0:
        await asyncio.sleep(left)
