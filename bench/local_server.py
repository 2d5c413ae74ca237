"""Local servers the benchmarks and the tests share: a free port, an in-thread HTTP server on
127.0.0.1, and a stop for a server process and its whole group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from contextlib import suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["LocalServer", "free_port", "stop_group"]


def free_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then released) for a server to take."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class LocalServer(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 (a free port), serving from a daemon thread at once.

    ``connections`` counts accepted connections (a canary's evidence); ``owner`` is
    what the handler reads its state from (``self.server.owner``).
    """

    daemon_threads = True
    block_on_close = False

    def __init__(self, handler: type[BaseHTTPRequestHandler] | Any, owner: Any = None) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.owner = owner
        self.connections = 0
        self._count_lock = threading.Lock()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        port: int = self.server_address[1]  # type: ignore[assignment]
        return port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def verify_request(self, request: Any, client_address: Any) -> bool:
        with self._count_lock:
            self.connections += 1
        return True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return  # a reader that gave up early (a timeout, a size cap) is expected here
        super().handle_error(request, client_address)

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def stop_group(proc: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """SIGTERM the whole process group, then SIGKILL whatever of it is left."""
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace_s)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
