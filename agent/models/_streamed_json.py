"""Following a structured reply while it streams: its JSON text so far, and whether it is whole.

Private to `agent.models.structured`, which streams every structured call
through these.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.utils.json import parse_json_markdown, parse_partial_json

__all__ = ["StreamedJson", "parse_partial", "unfinished_json"]


class StreamedJson:
    """The JSON text of a streamed reply so far: its first tool call's arguments, or its
    content, grown chunk by chunk as merging the chunks would give it.

    It also follows the JSON's nesting, so the reply is re-parsed only when an
    element of a top-level array (a plan step) or the whole object closes, or
    a top-level string starts a new line (a compact plan's step), not at every
    brace: each parse reads the whole text so far.
    """

    def __init__(self) -> None:
        self._call: list[str] = []
        self._content: list[str] = []
        self._index: int | None = None
        self._seen_call = False
        self._depth = 0
        self._in_string = False
        self._escaped = False

    def add(self, chunk: AIMessageChunk) -> bool:
        """Take one chunk; whether it closed an object worth parsing the reply for."""
        added = []
        for call in chunk.tool_call_chunks:
            if not self._seen_call:
                self._seen_call, self._index = True, call.get("index")
            if call.get("index") == self._index and call.get("args"):
                added.append(str(call["args"]))
        self._call.extend(added)
        if isinstance(chunk.content, str) and chunk.content:
            self._content.append(chunk.content)
            if not self._seen_call:
                added = [chunk.content]
        return any(self._scan(piece) for piece in added)

    def _scan(self, text: str) -> bool:
        closed = False
        for ch in text:
            if self._in_string:
                if self._escaped:
                    self._escaped = False
                    closed = closed or (ch == "n" and self._depth == 1)
                elif ch == "\\":
                    self._escaped = True
                elif ch == '"':
                    self._in_string = False
            elif ch == '"':
                self._in_string = True
            elif ch in "{[":
                self._depth += 1
            elif ch in "}]":
                self._depth -= 1
                closed = closed or (ch == "}" and self._depth <= 2)
        return closed

    @property
    def value(self) -> str:
        return "".join(self._call) if self._seen_call else "".join(self._content)


def parse_partial(text: str) -> dict[str, Any] | None:
    try:
        parsed = parse_json_markdown(text, parser=parse_partial_json)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def unfinished_json(reply: BaseMessage | None) -> str | None:
    """The reply's JSON text if it does not parse whole, else None.

    Streamed structured output is parsed as partial JSON, so a reply cut off
    mid-object (a max-tokens stop, a dropped stream) would otherwise pass for
    a complete answer: a plan missing its last steps, a synthesis missing claims.
    """
    if reply is None:
        return None
    chunks = getattr(reply, "tool_call_chunks", None) or []
    texts = [str(c.get("args") or "") for c in chunks]
    if not chunks and isinstance(reply.content, str):
        texts = [reply.content]
    for text in texts:
        if not text.strip().startswith(("{", "[", "`")):
            continue  # prose, not JSON: the parser reports "no JSON object"
        try:
            # strict=False: raw control characters in strings pass, as LangChain's parser allows
            parse_json_markdown(text, parser=lambda t: json.loads(t, strict=False))
        except ValueError:
            return text
    return None
