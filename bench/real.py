"""B1 with real tools: Ponder's fetch tool against a loopback server, and its code sandbox.

The fact pages of the simulated world are served as HTML by a threaded HTTP
server on 127.0.0.1 (started here, in the parent process); every framework
fetches them with the real ``fetch_url`` tool (HTTP, extraction, SSRF guard
opened to that one host:port) and runs one script in the real ``python``
sandbox (bubblewrap). Search stays simulated: there is no network here.
"""

from __future__ import annotations

import html
from http.server import BaseHTTPRequestHandler
from typing import Any

from bench.local_server import LocalServer
from bench.protocol import Cell, Zygotes, run_cells, summarize
from bench.suite import ALL, Plan, chosen, ratios
from bench.workloads import FanOut
from bench.world import PLACES, World

__all__ = ["FactServer", "real_tools"]

N = 4


class _Pages(BaseHTTPRequestHandler):
    world = World()

    def do_GET(self) -> None:
        slug = self.path.strip("/")
        place = next((p for p in PLACES if p.lower().replace(" ", "-") == slug), None)
        if place is None:
            self.send_error(404)
            return
        paras = "".join(f"<p>{html.escape(p)}</p>" for p in self.world.page(place))
        body = (
            f"<!doctype html><html><head><title>{html.escape(place)}</title></head><body>"
            f"<nav><a href='/'>Facts</a></nav><article><h1>{html.escape(place)}</h1>{paras}"
            "</article><footer>Simulated fact pages for Ponder's benchmark</footer></body></html>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


class FactServer:
    """The fact pages on a free loopback port, served from a daemon thread while entered."""

    def __init__(self) -> None:
        self.server: LocalServer | None = None

    @property
    def base(self) -> str:
        if self.server is None:
            raise RuntimeError("FactServer is served only inside its with-block")
        return self.server.url

    def __enter__(self) -> FactServer:
        self.server = LocalServer(_Pages)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.server is not None:
            self.server.stop()


def real_tools(z: Zygotes, plan: Plan, log: Any) -> dict[str, Any]:
    with FactServer() as server:
        w = FanOut(N, real=True, base=server.base)
        cells = [Cell("real", fw, w, plan.real_reps, timeout_s=300.0) for fw in chosen(plan, ALL)]
        results = run_cells(z, cells, plan.latency(), log=log)
    return {"results": results, "summary": summarize(results), "ratios": ratios(results)}
