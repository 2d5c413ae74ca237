"""The SearXNG backend against a fake SearXNG: a real HTTP server on 127.0.0.1 that
speaks SearXNG's JSON API (and, on cue, its failures: 403, 429, 5xx, garbage, a hang)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from ddgs.exceptions import RatelimitException

from agent.errors import ConfigError
from bench.local_server import free_port
from tests.tools.test_search import NO_POLICY_WAITS, FakeClock, ddgs_backend
from tools.search import (
    FallbackBackend,
    SearchOptions,
    SearchPolicy,
    SearxngBackend,
    WebSearch,
    WebSearchTool,
)

ROWS = [
    {
        "url": "https://docs.python.org/3/library/asyncio-task.html?utm_source=searx",
        "title": "Coroutines  and Tasks",
        "content": "gather() runs\n awaitables concurrently.",
        "engine": "duckduckgo",
    },
    {  # the same page again, as another engine spells it
        "url": "https://DOCS.python.org/3/library/asyncio-task.html/#top",
        "title": "asyncio tasks",
        "content": "duplicate",
        "engine": "bing",
    },
    {"url": "ftp://example.org/file", "title": "not a web page", "content": ""},
    {"url": "https://peps.python.org/pep-0654/", "title": "PEP 654", "content": ""},
]


class FakeSearxng:
    """Answers ``GET /search`` with whatever `reply` is set to; records every query."""

    def __init__(self) -> None:
        self.reply: tuple[int, bytes] | float = self.json({"results": ROWS})
        self.queries: list[dict[str, str]] = []
        self.times: list[float] = []  # when each query arrived (time.monotonic)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                if parts.path != "/search":
                    self.send_error(404)
                    return
                owner.times.append(time.monotonic())
                owner.queries.append(dict(urllib.parse.parse_qsl(parts.query)))
                reply = owner.reply
                if isinstance(reply, float):  # a hang: answer only after the client gave up
                    time.sleep(reply)
                    reply = owner.json({"results": []})
                status, body = reply
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)  # the client may have given up (the hang case)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False  # a hung reply must not hold up stop()
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    @staticmethod
    def json(payload: object, status: int = 200) -> tuple[int, bytes]:
        return status, json.dumps(payload).encode()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def searx() -> Iterator[FakeSearxng]:
    server = FakeSearxng()
    yield server
    server.stop()


async def observe(backend: Any, policy: SearchPolicy = NO_POLICY_WAITS, **kw: Any):
    session = WebSearch(backend, policy=policy, sleep=FakeClock().sleep)
    return await WebSearchTool(session=session).observe(query="asyncio gather", **kw)


async def test_results_are_normalised_deduplicated_and_listed(searx: FakeSearxng) -> None:
    obs = await observe(SearxngBackend(searx.url + "/"))
    assert obs.ok and obs.via == "searxng", obs.content
    assert [r.url for r in obs.items("results")] == [
        "https://docs.python.org/3/library/asyncio-task.html",
        "https://peps.python.org/pep-0654/",
    ]
    first = obs.items("results")[0]
    assert (first.title, first.snippet) == (
        "Coroutines and Tasks",
        "gather() runs awaitables concurrently.",
    )
    assert searx.queries == [
        {
            "q": "asyncio gather",
            "format": "json",
            "safesearch": "1",
            "language": "en-US",
            "pageno": "1",
        }
    ]


async def test_session_options_become_searxng_parameters(searx: FakeSearxng) -> None:
    options = SearchOptions(region="de-de", safesearch="off", timelimit="w", max_results=1)
    backend = SearxngBackend(searx.url)
    results = await backend.search("x", options)
    assert len(results) == 1
    assert searx.queries[0] | {"q": ""} == {
        "q": "",
        "format": "json",
        "safesearch": "0",
        "language": "de-DE",
        "time_range": "week",
        "pageno": "1",
    }


@pytest.mark.parametrize(
    ("reply", "kind", "retryable", "says"),
    [
        (FakeSearxng.json({"error": "x"}, 403), "error", False, "search.formats"),
        (FakeSearxng.json({}, 429), "rate_limited", True, "HTTP 429"),
        (FakeSearxng.json({}, 502), "error", True, "HTTP 502"),
        ((200, b"<html><body>a login page</body></html>"), "error", False, "did not answer JSON"),
        (FakeSearxng.json(["not", "an", "object"]), "error", False, "not an object"),
        (FakeSearxng.json({"answers": []}), "error", False, "without a results list"),
        (FakeSearxng.json({"results": []}), "no_results", False, "no SearXNG results"),
        (
            FakeSearxng.json(
                {"results": [], "unresponsive_engines": [["google", "Too many requests"]]}
            ),
            "rate_limited",
            True,
            "google (Too many requests)",
        ),
    ],
)
async def test_failures_become_error_observations_of_the_right_kind(
    searx: FakeSearxng, reply: tuple[int, bytes], kind: str, retryable: bool, says: str
) -> None:
    searx.reply = reply
    obs = await observe(SearxngBackend(searx.url))
    assert not obs.ok and obs.error is not None
    assert (obs.error.kind, obs.error.retryable) == (kind, retryable)
    assert says in obs.error.message


async def test_retryable_failures_are_retried_then_succeed(searx: FakeSearxng) -> None:
    searx.reply = FakeSearxng.json({}, 429)
    policy = NO_POLICY_WAITS.model_copy(update={"retries": 2})
    session = WebSearch(SearxngBackend(searx.url), policy=policy, sleep=FakeClock().sleep)
    switch = switch_reply_after_first_query(searx, FakeSearxng.json({"results": ROWS}))
    results, cached = await session.search("q")  # the second attempt finds it recovered
    switch.join()
    assert len(results) == 2 and not cached
    assert len(searx.queries) >= 2


def switch_reply_after_first_query(searx: FakeSearxng, then: tuple[int, bytes]) -> threading.Thread:
    """Switch the reply as soon as the first query arrives."""

    def switch() -> None:
        deadline = time.monotonic() + 5
        while not searx.queries and time.monotonic() < deadline:
            time.sleep(0.005)
        searx.reply = then

    thread = threading.Thread(target=switch, daemon=True)
    thread.start()
    return thread


async def test_a_hung_instance_times_out(searx: FakeSearxng) -> None:
    searx.reply = 2.0
    began = time.monotonic()
    obs = await observe(SearxngBackend(searx.url, timeout_s=0.3))
    assert time.monotonic() - began < 1.5
    assert obs.error is not None and obs.error.kind == "timeout" and obs.error.retryable


async def test_nothing_listening_is_offline() -> None:
    obs = await observe(SearxngBackend(f"http://127.0.0.1:{free_port()}"))
    assert obs.error is not None and obs.error.kind == "offline"
    assert "cannot reach SearXNG" in obs.error.message


async def test_results_are_cached_like_any_backend(searx: FakeSearxng) -> None:
    session = WebSearch(SearxngBackend(searx.url), policy=NO_POLICY_WAITS)
    await session.search("asyncio gather")
    _, cached = await session.search("  Asyncio   GATHER ")
    assert cached and len(searx.queries) == 1


async def test_fallback_chain_asks_searxng_when_ddgs_is_rate_limited(searx: FakeSearxng) -> None:
    ddgs, fake = ddgs_backend(RatelimitException("202 Ratelimit"))
    obs = await observe(FallbackBackend([ddgs, SearxngBackend(searx.url)]))
    assert obs.ok and obs.via == "ddgs+searxng"
    assert fake.kwargs["max_results"] == 8  # ddgs was asked first
    assert len(searx.queries) == 1
    assert obs.items("results")[0].url == "https://docs.python.org/3/library/asyncio-task.html"


@pytest.mark.parametrize("url", ["localhost:8888", "ftp://searx.example", "", "http://"])
def test_a_bad_instance_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="not an http"):
        SearxngBackend(url)
