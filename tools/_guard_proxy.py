"""A loopback HTTP proxy that vets every connection a browser context opens.

Why it exists: Playwright's request routing never sees redirect hops (a 302 to
127.0.0.1 goes straight out), nor link preconnects, nor the browser's own DNS
lookups. Sending a whole context through this proxy makes every TCP connection
Chromium opens (navigations, each redirect hop, subresources, ``fetch()``,
WebSockets, preconnects) pass `netguard` first, and connect to the address the
guard vetted, so a name cannot rebind to a private address in between.

Plain HTTP is forwarded one request per connection (``Connection: close``);
``CONNECT`` tunnels carry HTTPS and WebSockets. A refusal answers 403 with an
``X-Ponder-Guard`` header holding this proxy's secret token, so a page cannot
forge a refusal, and the reason is kept in `events` for the browser tool.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass

from agent.observation import ErrorKind
from tools.netguard import GuardVerdict, NetworkPolicy, check_url, parse_url

__all__ = ["GUARD_HEADER", "REASON_HEADER", "GuardProxy", "ProxyEvent"]

GUARD_HEADER = "x-ponder-guard"
REASON_HEADER = "x-ponder-reason"
_HEAD_LIMIT = 64 * 1024
_HOP_HEADERS = frozenset({"connection", "keep-alive", "proxy-connection", "proxy-authorization"})
_STRIP_FROM_UPSTREAM = _HOP_HEADERS | {GUARD_HEADER, REASON_HEADER}


@dataclass(frozen=True)
class ProxyEvent:
    """A connection the proxy did not make, and why."""

    target: str
    kind: ErrorKind  # refused | offline
    reason: str


class GuardProxy:
    """One proxy per browser context, enforcing that context's policy."""

    def __init__(self, policy: NetworkPolicy, *, connect_timeout_s: float = 10.0) -> None:
        self.policy = policy
        self.token = secrets.token_hex(8)
        self.events: list[ProxyEvent] = []
        self._connect_timeout_s = connect_timeout_s
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def server(self) -> str:
        if self._server is None:
            raise RuntimeError("GuardProxy.start() was not awaited")
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=_HEAD_LIMIT)
        return self.server

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._handle(reader, writer)
        except (ConnectionError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the browser or the server hung up; nothing to report
        except asyncio.CancelledError:
            # aclose() ending an open connection. The task finishes here either way;
            # a cancellation let out is logged as an error by Python 3.11's streams.
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, version = request_line.split(" ", 2)
        except ValueError:
            await self._answer(writer, 400, "Bad Request", "refused", "malformed proxy request")
            return
        tunnel = method.upper() == "CONNECT"
        url = f"https://{target}/" if tunnel else target
        verdict = await check_url(url, self.policy)
        if not verdict.allowed:
            self.events.append(ProxyEvent(url, verdict.kind, verdict.reason))
            await self._answer(writer, 403, "Forbidden", verdict.kind, verdict.reason)
            return
        upstream = await self._connect(verdict)
        if upstream is None:
            return await self._answer(writer, 502, "Bad Gateway", "offline", self.events[-1].reason)
        up_reader, up_writer = upstream
        try:
            if tunnel:
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                up_writer.write(_request_head(method, target, version, header_lines))
                writer.write(await _response_head(up_reader))
            await writer.drain()
            await _relay(reader, writer, up_reader, up_writer)
        finally:
            up_writer.close()

    async def _connect(
        self, verdict: GuardVerdict
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        error = "no address"
        for address in verdict.addresses:
            try:
                return await asyncio.wait_for(
                    asyncio.open_connection(address, verdict.port, limit=_HEAD_LIMIT),
                    self._connect_timeout_s,
                )
            except TimeoutError:
                error = "connection timed out"
            except OSError as exc:
                error = exc.strerror or str(exc)
        reason = f"could not connect to {verdict.host}:{verdict.port} ({error})"
        self.events.append(ProxyEvent(verdict.url, "offline", reason))
        return None

    async def _answer(
        self, writer: asyncio.StreamWriter, status: int, phrase: str, kind: str, reason: str
    ) -> None:
        body = f"Ponder's network guard: {reason}\n".encode()
        clean = reason.encode("ascii", "replace").decode().replace("\r", " ").replace("\n", " ")
        writer.write(
            (
                f"HTTP/1.1 {status} {phrase}\r\n{GUARD_HEADER}: {self.token} {kind}\r\n"
                f"{REASON_HEADER}: {clean}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode("latin-1")
            + body
        )
        with contextlib.suppress(ConnectionError, OSError):
            await writer.drain()


def _request_head(method: str, target: str, version: str, header_lines: list[str]) -> bytes:
    """The request in origin form, one request per upstream connection."""
    headers = [line for line in header_lines if line]
    upgrade = any(line.lower().startswith("upgrade:") for line in headers)
    kept = [
        line
        for line in headers
        if line.split(":", 1)[0].strip().lower() not in _HOP_HEADERS
        or (upgrade and line.lower().startswith("connection:"))
    ]
    if not upgrade:
        kept.append("Connection: close")
    lines = [f"{method} {parse_url(target).target} {version}", *kept, "", ""]
    return "\r\n".join(lines).encode("latin-1")


async def _response_head(reader: asyncio.StreamReader) -> bytes:
    """The upstream response head, marked so the browser never reuses this connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    if " 101 " in f"{status_line} ":
        return head  # a WebSocket upgrade keeps its Connection header
    kept = [
        line
        for line in header_lines
        if line and line.split(":", 1)[0].strip().lower() not in _STRIP_FROM_UPSTREAM
    ]
    lines = [status_line, *kept, "Connection: close", "Proxy-Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


async def _relay(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
) -> None:
    """Copy both ways until the upstream side ends."""
    outbound = asyncio.create_task(_pump(reader, up_writer, half_close=True))
    try:
        await _pump(up_reader, writer, half_close=False)
    finally:
        outbound.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await outbound


async def _pump(
    source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, half_close: bool
) -> None:
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
        if half_close and sink.can_write_eof():
            sink.write_eof()
    except (ConnectionError, OSError):
        return
