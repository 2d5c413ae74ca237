"""The browser's guard proxy: closing it with connections still open is quiet and complete."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tools._guard_proxy import GuardProxy
from tools.netguard import NetworkPolicy


async def test_closing_with_an_open_tunnel_ends_it_without_logging_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # An upstream that accepts and then says nothing, so the tunnel stays open.
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    upstream = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = upstream.sockets[0].getsockname()[1]
    proxy = GuardProxy(NetworkPolicy(allow_private_network=True))
    address = await proxy.start()
    host, proxy_port = address.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(proxy_port))
    writer.write(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        await proxy.aclose()
        await asyncio.sleep(0.05)  # let the streams' done-callbacks run
    assert await reader.read() == b"", "the tunnel was left open"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    writer.close()
    upstream.close()
    await upstream.wait_closed()
