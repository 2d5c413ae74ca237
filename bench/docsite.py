"""A loopback web site over a folder of HTML pages, for the reading benchmark.

Serves files on 127.0.0.1 with HTTP/1.1 keep-alive (as real sites do, so a
reader that reuses connections is credited for it), optional latency per
page, and ``/__js__/<path>``: the same page delivered empty and filled in by
script, for the reader's browser fallback.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

from bench.local_server import LocalServer
from tools.netguard import NetworkPolicy

__all__ = ["DocSite"]


class _Handler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LocalServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the benchmark prints its own table."""

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        latency_s = self.server.owner.latency_s
        if latency_s and (path.endswith((".html", "/")) or "/__js__/" in path):
            time.sleep(latency_s)
        if path.startswith("/__js__/"):
            self._send_js_shell("/" + path.split("/", 2)[2])
        else:
            super().do_GET()

    def _send_js_shell(self, target: str) -> None:
        script = (
            f"fetch({json.dumps(target)}).then(r => r.text()).then(t => {{"
            " const d = new DOMParser().parseFromString(t, 'text/html');"
            " document.title = d.title;"
            " document.getElementById('root').innerHTML = d.body.innerHTML; });"
        )
        body = (
            '<html><head><title>app</title></head><body><div id="root"></div>'
            f"<noscript>Please enable JavaScript.</noscript><script>{script}</script></body></html>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class DocSite:
    """`root` served on a free loopback port until `stop()`."""

    def __init__(self, root: Path, *, latency_s: float = 0.0) -> None:
        self.latency_s = latency_s
        self._server = LocalServer(partial(_Handler, directory=str(root)), self)
        self.port = self._server.port
        self.base = self._server.url

    @property
    def policy(self) -> NetworkPolicy:
        """Opens this site's host:port only."""
        return NetworkPolicy(allow_hosts=(f"127.0.0.1:{self.port}",))

    def url(self, path: str) -> str:
        return self.base + path

    def stop(self) -> None:
        self._server.stop()
