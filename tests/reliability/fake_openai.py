"""A loopback stand-in for a hosted OpenAI-compatible API, scripted per role, faults included.

The real ``ponder`` CLI talks to it with the real OpenAI SDK over real HTTP
(``--model openai:NAME --base-url http://127.0.0.1:PORT/v1``), so provider
faults reach Ponder exactly as the SDK raises them: a 429 with ``Retry-After``,
a 500, a reply that never comes, a dropped connection, a tool call whose
arguments are not JSON. Only the hosted API is faked, as the house rules ask.

The role of a request is the name of the tool it forces (``Planning``,
``Reflection``, ``Synthesis``...), or ``"text"``. Replies are JSON-ready dicts:

- ``{"args": {...}}``: a tool call with these arguments, streamed in pieces;
- ``{"raw_args": "..."}``: a tool call whose argument text is sent verbatim;
- ``{"text": "..."}``: plain content, no tool call;
- ``{"status": 429, "headers": {"retry-after": "0.2"}}``: an error reply;
- ``{"hang": true}``: hold the request open until the server stops;
- ``{"drop": true}``: close the connection without answering.

Every request is recorded (path, headers, JSON body) so tests can check what
was sent, e.g. that a planted API key travels only in the auth header.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from bench.local_server import LocalServer

__all__ = ["FakeOpenAI", "RecordedRequest"]

Reply = dict[str, Any]


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    raw: bytes

    @property
    def role(self) -> str:
        return _role(self.body)


def _role(body: dict[str, Any]) -> str:
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        if name:
            return str(name)
    tools = body.get("tools") or []
    if len(tools) == 1 and choice in ("required", "any"):
        return str(tools[0]["function"]["name"])
    return "text"


@dataclass
class FakeOpenAI:
    """Serves scripted replies per role on 127.0.0.1 until `stop`."""

    script: dict[str, list[Reply]] = field(default_factory=dict)
    repeat_last: bool = False
    requests: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._used: dict[str, int] = {}
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self._server = LocalServer(_handler_for(self))

    @property
    def base_url(self) -> str:
        return f"{self._server.url}/v1"

    def roles(self) -> list[str]:
        return [r.role for r in self.requests]

    def next_reply(self, role: str) -> Reply:
        with self._lock:
            replies = self.script.get(role) or []
            i = self._used.get(role, 0)
            if i >= len(replies):
                if not (self.repeat_last and replies):
                    return {"status": 400, "message": f"the fake API has no reply for {role}"}
                i = len(replies) - 1
            self._used[role] = i + 1
            return replies[i]

    def stop(self) -> None:
        self.stopping.set()
        self._server.stop()


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "fake",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _usage(body: dict[str, Any], out: str) -> dict[str, int]:
    prompt = sum(len(json.dumps(m)) for m in body.get("messages") or []) // 4 + 1
    done = len(out) // 4 + 1
    return {"prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done}


def _stream_events(role: str, reply: Reply, body: dict[str, Any]) -> list[dict[str, Any]]:
    if "text" in reply:
        text = str(reply["text"])
        pieces = [text[i : i + 200] for i in range(0, len(text), 200)] or [""]
        events = [_chunk({"role": "assistant", "content": ""})]
        events += [_chunk({"content": p}) for p in pieces]
        events.append(_chunk({}, "stop"))
        out = text
    else:
        out = reply["raw_args"] if "raw_args" in reply else json.dumps(reply["args"])
        size = max(1, len(out) // 4)
        call_id = f"call_{uuid.uuid4().hex[:12]}"  # unique per reply, as OpenAI's are
        events = [
            _chunk(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": call_id,
                            "type": "function",
                            "function": {"name": role, "arguments": ""},
                        }
                    ],
                }
            )
        ]
        events += [
            _chunk({"tool_calls": [{"index": 0, "function": {"arguments": out[i : i + size]}}]})
            for i in range(0, len(out), size)
        ]
        events.append(_chunk({}, "tool_calls"))
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append({**_chunk({}), "choices": [], "usage": _usage(body, out)})
    return events


def _completion(role: str, reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    if "text" in reply:
        message: dict[str, Any] = {"role": "assistant", "content": str(reply["text"])}
        out, finish = str(reply["text"]), "stop"
    else:
        out = reply["raw_args"] if "raw_args" in reply else json.dumps(reply["args"])
        call = {
            "id": f"call_{uuid.uuid4().hex[:12]}",
            "type": "function",
            "function": {"name": role, "arguments": out},
        }
        message, finish = {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1,
        "model": "fake",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": _usage(body, out),
    }


def _handler_for(api: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.loads(raw or b"{}")
            api.requests.append(
                RecordedRequest(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, body, raw
                )
            )
            role = _role(body)
            reply = api.next_reply(role)
            if reply.get("hang"):
                api.stopping.wait(120)
                self.close_connection = True
                return
            if reply.get("drop"):
                self.close_connection = True
                self.connection.close()
                return
            if "status" in reply:
                message = reply.get("message", f"fake error {reply['status']}")
                error = {"error": {"message": message, "type": "fake", "code": None}}
                self._send(int(reply["status"]), json.dumps(error).encode(), reply.get("headers"))
                return
            if body.get("stream"):
                events = _stream_events(role, reply, body)
                data = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
                self._send(200, data.encode(), {"content-type": "text/event-stream"})
            else:
                self._send(200, json.dumps(_completion(role, reply, body)).encode())

        def _send(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            sent = {"content-type": "application/json", **(headers or {})}
            for key, value in sent.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)  # the client may have given up (a timeout)

    return Handler
