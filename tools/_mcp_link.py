"""One MCP server's session, kept open for the life of the process and reopened after a failure.

langchain-mcp-adapters opens a session per call unless given one; per call, a
stdio server is started afresh each time (a second or more, and whatever state
it keeps is lost). A `McpLink` stands where the adapter expects a
``ClientSession``: it opens one session on Ponder's I/O loop when first used,
serves every call through it, and when the server dies (the connection closes
or the transport breaks) drops it, so the next call starts the server again.
A call cancelled at its timeout leaves the session open for the others.

The session is entered and left by one task of its own (anyio's cancel scopes
must be), which waits until the link is closed or dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from agent._internal.io_loop import io_loop

if TYPE_CHECKING:
    from langchain_mcp_adapters.sessions import Connection
    from mcp import ClientSession
    from mcp.types import CallToolResult, ListToolsResult

__all__ = ["McpLink", "ServerGone"]


class ServerGone(ConnectionError):
    """The server died or its transport broke during a call; the next call restarts it."""


class McpLink:
    def __init__(self, connection: Connection, *, startup_timeout_s: float) -> None:
        self._connection = connection
        self._startup_timeout_s = startup_timeout_s
        self._session: ClientSession | None = None
        self._stop: asyncio.Event | None = None
        self._owners: set[asyncio.Task[None]] = set()
        self._lock: asyncio.Lock | None = None
        self.opened = 0  # sessions opened so far (a restart after a crash adds one)

    async def list_tools(self, cursor: str | None = None) -> ListToolsResult:
        return await io_loop().arun(self._list(cursor))

    async def call_tool(
        self, name: str, arguments: dict[str, Any] | None = None, **kwargs: Any
    ) -> CallToolResult:
        return await io_loop().arun(self._call(name, arguments, kwargs.get("progress_callback")))

    async def check(self, timeout_s: float = 3.0) -> None:
        """After a call timed out: ping the server, and drop a session that does not answer
        (an HTTP server that went away leaves calls waiting rather than failing)."""
        await io_loop().arun(self._check(timeout_s))

    async def aclose(self) -> None:
        """Stop the server (a stdio process) or end the HTTP session."""
        await io_loop().arun(self._close())

    # -- on the I/O loop -----------------------------------------------------
    async def _list(self, cursor: str | None) -> ListToolsResult:
        session = await self._ready()
        try:
            return await session.list_tools(cursor=cursor)
        except Exception:
            self._drop(session)
            raise

    async def _call(self, name: str, arguments: dict[str, Any] | None, progress: Any) -> Any:
        from mcp.shared.exceptions import McpError
        from mcp.types import CONNECTION_CLOSED

        try:
            session = await self._ready()
        except Exception as exc:  # it will not start (again), or cannot be reached
            raise ServerGone(f"it could not be reached: {_innermost(exc)}") from exc
        try:
            return await session.call_tool(name, arguments, progress_callback=progress)
        except McpError as exc:
            if exc.error.code != CONNECTION_CLOSED:  # the server's own answer: it is alive
                raise
            self._drop(session)
            raise ServerGone(exc.error.message) from exc
        except Exception as exc:  # the transport broke: start afresh next time
            self._drop(session)
            raise ServerGone(f"{type(exc).__name__}: {exc}") from exc

    async def _check(self, timeout_s: float) -> None:
        session = self._session
        if session is None:
            return
        try:
            await asyncio.wait_for(session.send_ping(), timeout_s)
        except Exception:  # no answer: the next call opens a new session
            self._drop(session)

    async def _ready(self) -> ClientSession:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._session is None:
                self._session = await self._open()
                self.opened += 1
            return self._session

    async def _open(self) -> ClientSession:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[ClientSession] = loop.create_future()
        stop = asyncio.Event()
        owner = loop.create_task(self._hold(ready, stop))
        self._owners.add(owner)
        owner.add_done_callback(self._owners.discard)
        try:
            session = await asyncio.wait_for(asyncio.shield(ready), self._startup_timeout_s)
        except BaseException:
            stop.set()
            owner.cancel()
            ready.add_done_callback(_consume)  # nobody awaits it any more
            raise
        self._stop = stop
        return session

    async def _hold(self, ready: asyncio.Future[ClientSession], stop: asyncio.Event) -> None:
        from langchain_mcp_adapters.sessions import create_session

        try:
            async with create_session(self._connection) as session:
                await session.initialize()
                ready.set_result(session)
                await stop.wait()
        except Exception as exc:  # reported to whoever waits for the session
            if not ready.done():
                ready.set_exception(exc)
        finally:
            if not ready.done():
                ready.set_exception(ConnectionError("the MCP session was closed while opening"))

    def _drop(self, session: ClientSession) -> None:
        if self._session is session:
            self._session = None
            if self._stop is not None:
                self._stop.set()

    async def _close(self) -> None:
        if self._session is not None:
            self._drop(self._session)
        owners = list(self._owners)
        if owners:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*owners, return_exceptions=True), 10)


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _innermost(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"[:300]
