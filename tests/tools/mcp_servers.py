"""Start the test MCP server (tests/tools/mcp_test_server.py) over stdio or HTTP, and configs."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.local_server import free_port, stop_group

REPO = Path(__file__).resolve().parents[2]
TOKEN = "canary-env-7f3a9c1e5b"  # planted in a stdio server's env
HEADER = "canary-hdr-2d8e4b6f0a"  # planted in an HTTP server's Authorization header


def stdio_server(mode: str = "stdio", **extra: Any) -> dict[str, Any]:
    """A config entry that starts the test server as a subprocess over stdio."""
    env = {"PYTHONPATH": str(REPO), "NOTES_TOKEN": TOKEN, **extra.pop("env", {})}
    return {
        "command": sys.executable,
        "args": ["-m", "tests.tools.mcp_test_server", mode],
        "env": env,
        **extra,
    }


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout_s}s")


@contextmanager
def serving(command: list[str], port: int, log: Path, **env: str) -> Iterator[None]:
    """Run ``command`` (a server on 127.0.0.1:``port``) in its own process group."""
    import os

    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO), **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for_port(port, proc)
            yield
        finally:
            stop_group(proc, grace_s=5)


@contextmanager
def http_notes_server(tmp: Path) -> Iterator[str]:
    """The test server over streamable HTTP; yields its MCP endpoint URL."""
    port = free_port()
    command = [sys.executable, "-m", "tests.tools.mcp_test_server", "http", str(port)]
    with serving(command, port, tmp / "notes-http.log", NOTES_FILE=str(tmp / "http-notes.txt")):
        yield f"http://127.0.0.1:{port}/mcp"
