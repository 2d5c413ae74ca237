"""Faked provider HTTP: scripted replies behind the SDKs' own transports, requests recorded.

The openai and anthropic SDKs speak through ``httpx2``; ollama through ``httpx``.
Both packages ship a ``MockTransport`` that calls a handler instead of the network.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import httpx2

Reply = tuple[int, dict[str, Any] | str, dict[str, str]]


@dataclass
class FakeProvider:
    """Hands out queued replies in order and records each request's path and JSON body."""

    replies: list[Reply] = field(default_factory=list)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def queue(self, body: dict[str, Any] | str, status: int = 200, **headers: str) -> None:
        self.replies.append((status, body, {k.replace("_", "-"): v for k, v in headers.items()}))

    def _respond(self, path: str, content: bytes) -> tuple[int, bytes, dict[str, str]]:
        self.requests.append((path, json.loads(content) if content else {}))
        if not self.replies:
            raise AssertionError(f"unexpected request to {path}")
        status, body, headers = self.replies.pop(0)
        if isinstance(body, str):  # a raw stream body (SSE or NDJSON)
            return status, body.encode(), headers
        return status, json.dumps(body).encode(), {"content-type": "application/json", **headers}

    @property
    def last(self) -> dict[str, Any]:
        return self.requests[-1][1]

    def httpx2_handler(self) -> Callable[[httpx2.Request], httpx2.Response]:
        def handle(request: httpx2.Request) -> httpx2.Response:
            status, body, headers = self._respond(request.url.path, request.read())
            return httpx2.Response(status, content=body, headers=headers)

        return handle

    def httpx_handler(self) -> Callable[[httpx.Request], httpx.Response]:
        def handle(request: httpx.Request) -> httpx.Response:
            status, body, headers = self._respond(request.url.path, request.read())
            return httpx.Response(status, content=body, headers=headers)

        return handle

    def httpx2_clients(self, base_url: str) -> tuple[httpx2.Client, httpx2.AsyncClient]:
        handler = self.httpx2_handler()

        async def ahandle(request: httpx2.Request) -> httpx2.Response:
            await request.aread()
            return handler(request)

        return (
            httpx2.Client(transport=httpx2.MockTransport(handler), base_url=base_url),
            httpx2.AsyncClient(transport=httpx2.MockTransport(ahandle), base_url=base_url),
        )


def sse(*events: dict[str, Any], done: bool = True) -> str:
    lines = [f"data: {json.dumps(e)}\n\n" for e in events]
    return "".join(lines) + ("data: [DONE]\n\n" if done else "")


def anthropic_sse(*events: dict[str, Any]) -> str:
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)


def ndjson(*lines: dict[str, Any]) -> str:
    return "".join(json.dumps(line) + "\n" for line in lines)
