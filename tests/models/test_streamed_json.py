"""How a streamed structured reply is followed: its JSON text, and when to re-parse it."""

from __future__ import annotations

import json
from functools import reduce
from operator import add

from langchain_core.messages import AIMessageChunk
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.utils.json import parse_partial_json

from agent.models._streamed_json import StreamedJson

PLAN = {
    "reasoning": 'braces in text: {"x": 1} and a quote \\" and }',
    "steps": [
        {"id": "s1", "tool": "search", "input": {"query": "a}b{c"}},
        {"id": "s2", "tool": "read", "input": {"url": "{{s1}}"}},
    ],
}


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _follow(chunks: list[AIMessageChunk]) -> tuple[StreamedJson, list[str]]:
    text, parsed_at = StreamedJson(), []
    for chunk in chunks:
        if text.add(chunk):
            parsed_at.append(text.value)
    return text, parsed_at


def test_a_tool_call_is_followed_and_parsed_only_when_a_step_or_the_whole_closes() -> None:
    raw = json.dumps(PLAN)
    # Anthropic numbers tool calls by content block: the call may be index 1.
    chunks = [AIMessageChunk(content="", tool_call_chunks=[
        tool_call_chunk(name="Planning" if i == 0 else None, args=p, id=None, index=1)])
        for i, p in enumerate(_pieces(raw, 3))]  # fmt: skip
    text, parsed_at = _follow(chunks)
    assert text.value == raw == reduce(add, chunks).tool_call_chunks[0]["args"]
    # Once per step and once at the end; never for the input objects or braces in strings.
    assert [parse_partial_json(t)["steps"][-1]["id"] for t in parsed_at] == ["s1", "s2", "s2"]


def test_content_is_followed_when_the_reply_is_not_a_tool_call() -> None:
    raw = json.dumps(PLAN)
    text, parsed_at = _follow([AIMessageChunk(content=p) for p in _pieces(raw, 5)])
    assert text.value == raw and len(parsed_at) == 3
