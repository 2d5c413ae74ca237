"""The scripted model as smolagents sees it: a sync `Model` whose final answers are tool calls."""

from __future__ import annotations

import json
import time
from typing import Any

from smolagents.models import (  # type: ignore[import-untyped]
    ChatMessage,
    ChatMessageToolCall,
    ChatMessageToolCallFunction,
    MessageRole,
    Model,
    get_tool_json_schema,
)
from smolagents.monitoring import TokenUsage  # type: ignore[import-untyped]

from bench.adapters import sleep_until
from bench.meter import ModelMeter, ToolCall, call_tokens, count_tokens

__all__ = ["BenchSmolModel"]


def _text(message: Any) -> str:
    if isinstance(message, dict):
        content, calls = message.get("content"), message.get("tool_calls")
    else:
        content, calls = message.content, message.tool_calls
    if isinstance(content, list):
        text = "\n".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    else:
        text = content or ""
    for call in calls or []:
        fn = call["function"] if isinstance(call, dict) else call.function
        name = fn["name"] if isinstance(fn, dict) else fn.name
        args = fn["arguments"] if isinstance(fn, dict) else fn.arguments
        text += "\n" + name + (args if isinstance(args, str) else json.dumps(args))
    return str(text)


class BenchSmolModel(Model):  # type: ignore[misc]
    def __init__(self, meter: ModelMeter) -> None:
        super().__init__(model_id="ponder-bench")
        self.meter = meter

    def generate(
        self,
        messages: list[Any],
        stop_sequences: list[str] | None = None,
        response_format: dict[str, str] | None = None,
        tools_to_call_from: list[Any] | None = None,
        **kwargs: Any,
    ) -> ChatMessage:
        texts = [_text(m) for m in messages]
        reply = self.meter.reply("react", texts)
        tools = [get_tool_json_schema(t) for t in tools_to_call_from or []]
        n_in = sum(count_tokens(t) for t in texts)
        n_in += count_tokens(json.dumps(tools)) if tools else 0
        calls, content = list(reply.calls), reply.thought
        if reply.answer is not None:
            calls, content = [ToolCall("final_answer", {"answer": reply.answer})], ""
        n_out = count_tokens(content) + sum(call_tokens(c.name, c.args) for c in calls)
        started = time.monotonic()
        self.meter.slot.acquire()
        try:
            sleep_until(time.monotonic() + self.meter.profile.delay_s(n_in, n_out))
        finally:
            self.meter.slot.release()
        self.meter.record("react", n_in, n_out, started)
        n = self.meter.calls
        return ChatMessage(
            role=MessageRole.ASSISTANT,
            content=content or None,
            tool_calls=[
                ChatMessageToolCall(
                    function=ChatMessageToolCallFunction(name=c.name, arguments=c.args),
                    id=f"call_{n}_{i}",
                    type="function",
                )
                for i, c in enumerate(calls)
            ],
            token_usage=TokenUsage(input_tokens=n_in, output_tokens=n_out),
        )
