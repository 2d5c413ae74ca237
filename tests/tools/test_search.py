"""web_search: ddgs faked at its HTTP transport or client object; no real network.

The one live test (``network`` marker) is skipped when DNS cannot resolve
duckduckgo.com, which is the case on the offline build machine.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from types import SimpleNamespace
from typing import Any

import ddgs.http_client
import pytest
from ddgs.exceptions import DDGSException, RatelimitException, TimeoutException
from langchain_core.messages import ToolMessage

from agent.errors import ConfigError
from tools.search import (
    DDGSBackend,
    FallbackBackend,
    NoResultsError,
    OfflineError,
    RateLimitedError,
    SearchError,
    SearchOptions,
    SearchPolicy,
    SearchResult,
    WebSearch,
    WebSearchTool,
    canonical_url,
)

DDG_PAGE = """<html><body>
<div class="result results_links web-result"><div class="links_main links_deep result__body">
<h2 class="result__title"><a class="result__a" href="{u1}">Coroutines and Tasks</a></h2>
<a class="result__snippet" href="{u1}">Run awaitables concurrently with gather.</a></div></div>
<div class="result results_links web-result"><div class="links_main links_deep result__body">
<h2 class="result__title"><a class="result__a" href="{u2}">Same page again</a></h2>
<a class="result__snippet" href="{u2}">A duplicate with tracking parameters.</a></div></div>
<div class="result results_links web-result"><div class="links_main links_deep result__body">
<h2 class="result__title"><a class="result__a" href="{u3}">asyncio.TaskGroup</a></h2>
<a class="result__snippet" href="{u3}">Structured concurrency in Python 3.11.</a></div></div>
</body></html>""".format(
    u1="https://docs.python.org/3/library/asyncio-task.html",
    u2="https://DOCS.python.org:443/3/library/asyncio-task.html/?utm_source=ddg&amp;fbclid=1#top",
    u3="https://example.org/taskgroup?id=7&amp;utm_medium=x",
)
NO_POLICY_WAITS = SearchPolicy(retries=0, rate_per_s=1000.0, burst=100)


async def always_online(host: str) -> bool:
    return True


async def never_online(host: str) -> bool:
    return False


class FakeClock:
    """Time that only moves when told; `sleep` records delays instead of waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        await asyncio.sleep(0)


class ScriptedBackend:
    """A backend that answers from a script: results or exceptions, one per call."""

    def __init__(self, *steps: list[SearchResult] | SearchError, name: str = "scripted") -> None:
        self.steps = list(steps)
        self.calls: list[str] = []
        self.name = name
        self.gate: asyncio.Event | None = None

    async def search(self, query: str, options: SearchOptions) -> list[SearchResult]:
        self.calls.append(query)
        if self.gate is not None:
            await self.gate.wait()
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, SearchError):
            raise step
        return step


RESULTS = [
    SearchResult(
        title="Coroutines and Tasks",
        url="https://docs.python.org/3/library/asyncio-task.html",
        snippet="gather runs awaitables concurrently",
    ),
    SearchResult(
        title="PEP 654", url="https://peps.python.org/pep-0654/", snippet="Exception groups"
    ),
]


class FakeDDGS:
    """Stands in for ``ddgs.DDGS``: returns rows or raises what ddgs raises."""

    def __init__(self, outcome: list[dict[str, str]] | BaseException) -> None:
        self.outcome = outcome
        self.kwargs: dict[str, Any] = {}

    def text(self, query: str, **kwargs: Any) -> list[dict[str, str]]:
        self.kwargs = kwargs
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


def ddgs_backend(outcome, resolver=always_online) -> tuple[DDGSBackend, FakeDDGS]:
    fake = FakeDDGS(outcome)
    return DDGSBackend(client_factory=lambda: fake, resolver=resolver), fake


async def observe(session: WebSearch, query: str = "asyncio gather", **kw):
    return await WebSearchTool(session=session).observe(query=query, **kw)


# --- URLs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTPS://Example.COM:443/a/b/?utm_source=x&q=1#frag", "https://example.com/a/b?q=1"),
        ("http://example.com:80/", "http://example.com"),
        ("http://example.com:8080/x", "http://example.com:8080/x"),
        ("https://example.com/p?gclid=1&fbclid=2&utm_campaign=z", "https://example.com/p"),
        ("https://duckduckgo.com/l/?uddg=https%3A%2F%2Fpython.org%2Fdocs%2F%3Futm_term%3Dq&rut=x",
         "https://python.org/docs"),
    ],
)  # fmt: skip
def test_canonical_url(url, canonical):
    assert canonical_url(url) == canonical


# --- ddgs behind its real parsing, faked at the HTTP transport ---------------------------------


@pytest.fixture
def ddg_transport(monkeypatch):
    """Replaces ddgs' HTTP client; `answers` is a list of (status, html) or exceptions."""
    state = SimpleNamespace(answers=[], requests=[])

    def request(self, method, url, *args, **kwargs):
        state.requests.append((method, url, kwargs))
        answer = state.answers.pop(0) if len(state.answers) > 1 else state.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        status, html = answer
        return SimpleNamespace(status_code=status, text=html, content=html.encode())

    monkeypatch.setattr(ddgs.http_client.HttpClient, "request", request)
    return state


async def test_ddgs_results_are_parsed_normalised_and_deduplicated(ddg_transport):
    ddg_transport.answers = [(200, DDG_PAGE)]
    session = WebSearch(DDGSBackend(backend="duckduckgo", resolver=always_online))
    obs = await observe(session, "asyncio gather")
    assert obs.ok, obs.content
    method, url, kwargs = ddg_transport.requests[0]
    assert (method, url, kwargs["data"]["q"]) == (
        "POST",
        "https://html.duckduckgo.com/html/",
        "asyncio gather",
    )
    # ddgs ranks results itself; the duplicate (tracking, case, port, slash, fragment) is gone.
    by_url = {p.ref: p for p in obs.passages}
    assert sorted(by_url) == [
        "https://docs.python.org/3/library/asyncio-task.html",
        "https://example.org/taskgroup?id=7",
    ]
    group = by_url["https://example.org/taskgroup?id=7"]
    assert (group.title, group.text) == (
        "asyncio.TaskGroup",
        "Structured concurrency in Python 3.11.",
    )
    # Snippets are teasers: cited as snippets, never stored as the page's document.
    assert {p.kind for p in obs.passages} == {"snippet"} and not obs.documents
    for p in obs.passages:
        assert obs.source_text(p.ref) == p.text
    assert obs.value == obs.fields["url"] == obs.passages[0].ref
    assert obs.fields["urls"].split("\n") == [p.ref for p in obs.passages]
    assert obs.fields["titles"].split("\n") == [p.title for p in obs.passages]
    first = obs.passages[0]
    assert obs.content.startswith(f"Web results for 'asyncio gather':\n\n[1] {first.title}\n")
    assert f"[2] {obs.passages[1].title}\n    {obs.passages[1].ref}\n    " in obs.content
    assert obs.untrusted and obs.via == "ddgs"
    # The results as a typed list, in rank order: what a fan-out step maps over.
    results = obs.items("results")
    assert [r.url for r in results] == [p.ref for p in obs.passages]
    assert {r.url: (r.title, r.snippet) for r in results}[group.ref] == (
        "asyncio.TaskGroup",
        "Structured concurrency in Python 3.11.",
    )
    with pytest.raises(KeyError, match="no list 'links'"):
        obs.items("links")


async def test_a_dns_failure_in_the_transport_is_offline(ddg_transport):
    # What primp's failure looks like once ddgs has wrapped it, as seen on this machine.
    ddg_transport.answers = [DDGSException(
        "DNSError: DNSError('error sending request for url (https://html.duckduckgo.com/html/) "
        "> error resolving DNS > DNS error: no records found')"
    )]  # fmt: skip
    obs = await observe(WebSearch(DDGSBackend(backend="duckduckgo", resolver=always_online)))
    assert obs.error.kind == "offline" and not obs.error.retryable


async def test_an_empty_page_is_no_results_when_online_and_offline_when_not(ddg_transport):
    ddg_transport.answers = [(200, "<html><body></body></html>")]
    online = await observe(WebSearch(DDGSBackend(backend="duckduckgo", resolver=always_online)))
    assert online.error.kind == "no_results"
    offline = await observe(WebSearch(DDGSBackend(backend="duckduckgo", resolver=never_online)))
    assert offline.error.kind == "offline"


# --- telling ddgs' exceptions apart ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "online", "kind"),
    [
        (RatelimitException("202 Ratelimit"), True, "rate_limited"),
        (DDGSException("HTTP 429 Too Many Requests"), True, "rate_limited"),
        (TimeoutException("https://html.duckduckgo.com/html/ timed out"), True, "timeout"),
        (DDGSException("operation timed out"), True, "timeout"),
        (DDGSException("No results found."), True, "no_results"),
        (DDGSException("No results found."), False, "offline"),
        (DDGSException("ConnectError: Connection refused (os error 111)"), True, "offline"),
        (DDGSException("something odd"), True, "error"),
        (DDGSException("something odd"), False, "offline"),
    ],
)
async def test_ddgs_exceptions_map_to_error_kinds(raised, online, kind):
    backend, _ = ddgs_backend(raised, always_online if online else never_online)
    obs = await observe(WebSearch(backend, policy=NO_POLICY_WAITS))
    assert obs.error.kind == kind


async def test_the_query_quoted_in_an_error_message_does_not_decide_the_kind():
    error = DDGSException(
        "DNSError: error sending request for url (https://search.yahoo.com/search?p=asyncio+timeout+429)"
        " > error resolving DNS"
    )
    backend, _ = ddgs_backend(error)
    obs = await observe(WebSearch(backend, policy=NO_POLICY_WAITS), "asyncio timeout 429")
    assert obs.error.kind == "offline"


async def test_ddgs_gets_the_session_options():
    backend, fake = ddgs_backend([{"title": "T", "href": "https://a.example/", "body": "b"}])
    session = WebSearch(backend, options=SearchOptions(region="de-de", timelimit="w"))
    assert (await observe(session, "x y", max_results=3)).ok
    assert fake.kwargs == {"region": "de-de", "safesearch": "moderate", "timelimit": "w",
                           "max_results": 3, "backend": "auto"}  # fmt: skip


# --- retries, timeouts and pacing --------------------------------------------------------------


async def test_rate_limit_is_retried_with_growing_backoff_then_succeeds():
    clock = FakeClock()
    backend = ScriptedBackend(RateLimitedError("slow down"), RateLimitedError("slow down"), RESULTS)
    policy = SearchPolicy(retries=3, backoff_s=1.0, rate_per_s=1000.0, burst=100)
    session = WebSearch(backend, policy=policy, clock=clock, sleep=clock.sleep, jitter=lambda: 0.5)
    obs = await observe(session)
    assert obs.ok and len(backend.calls) == 3
    assert clock.sleeps == [0.75, 1.5]  # half the backoff fixed, half jittered; doubling


async def test_retries_run_out_into_a_retryable_rate_limited_observation():
    clock = FakeClock()
    backend = ScriptedBackend(RateLimitedError("still throttled"))
    policy = SearchPolicy(retries=2, backoff_s=1.0, backoff_max_s=1.5, rate_per_s=1000.0, burst=100)
    session = WebSearch(backend, policy=policy, clock=clock, sleep=clock.sleep, jitter=lambda: 1.0)
    obs = await observe(session)
    assert obs.error.kind == "rate_limited" and obs.error.retryable
    assert len(backend.calls) == 3 and clock.sleeps == [1.0, 1.5]  # capped at backoff_max_s


@pytest.mark.parametrize("error", [OfflineError("no network"), NoResultsError("nothing")])
async def test_offline_and_no_results_are_not_retried(error):
    clock = FakeClock()
    backend = ScriptedBackend(error)
    session = WebSearch(backend, policy=SearchPolicy(retries=3), clock=clock, sleep=clock.sleep)
    obs = await observe(session)
    assert obs.error.kind == error.kind and len(backend.calls) == 1 and clock.sleeps == []


async def test_a_hung_backend_hits_the_hard_timeout_and_is_retried():
    clock = FakeClock()
    backend = ScriptedBackend(RESULTS)
    backend.gate = asyncio.Event()  # never set: every call hangs
    policy = SearchPolicy(timeout_s=0.05, retries=1, rate_per_s=1000.0, burst=100)
    session = WebSearch(backend, policy=policy, clock=clock, sleep=clock.sleep)
    obs = await observe(session)
    assert obs.error.kind == "timeout" and obs.error.retryable
    assert len(backend.calls) == 2


async def test_a_fan_out_is_paced_by_the_shared_token_bucket():
    clock = FakeClock()
    backend = ScriptedBackend(RESULTS)
    policy = SearchPolicy(rate_per_s=2.0, burst=2)
    session = WebSearch(backend, policy=policy, clock=clock, sleep=clock.sleep)
    tool = WebSearchTool(session=session)
    results = await asyncio.gather(*(tool.observe(query=f"query {i}") for i in range(8)))
    assert all(obs.ok for obs in results) and len(backend.calls) == 8
    # Two go at once, then one every half second: the later ones wait longer.
    assert sorted(clock.sleeps) == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]


# --- cache and coalescing ----------------------------------------------------------------------


async def test_a_repeated_query_is_served_from_the_cache():
    backend = ScriptedBackend(RESULTS)
    session = WebSearch(backend, policy=NO_POLICY_WAITS)
    first = await observe(session, "Asyncio  Gather")
    second = await observe(session, "asyncio gather")
    assert len(backend.calls) == 1 and session.cache_hits == 1
    assert second.via == "cache" and second.passages == first.passages
    await observe(session, "asyncio gather", max_results=1)  # other options: another entry
    assert len(backend.calls) == 2


async def test_cache_entries_expire_and_the_cache_is_bounded():
    clock = FakeClock()
    backend = ScriptedBackend(RESULTS)
    policy = SearchPolicy(cache_ttl_s=60, cache_size=2, rate_per_s=1000.0, burst=100)
    session = WebSearch(backend, policy=policy, clock=clock, sleep=clock.sleep)
    for q in ("a1", "b2", "c3"):
        await observe(session, q)
    await observe(session, "c3")
    await observe(session, "a1")  # evicted as least recently used
    assert backend.calls == ["a1", "b2", "c3", "a1"]
    clock.now += 61
    await observe(session, "c3")
    assert backend.calls[-1] == "c3" and len(backend.calls) == 5


async def test_failures_are_not_cached():
    backend = ScriptedBackend(NoResultsError("nothing"), RESULTS)
    session = WebSearch(backend, policy=NO_POLICY_WAITS)
    assert (await observe(session)).error.kind == "no_results"
    assert (await observe(session)).ok and len(backend.calls) == 2


async def test_concurrent_identical_queries_share_one_request():
    backend = ScriptedBackend(RESULTS)
    backend.gate = asyncio.Event()
    session = WebSearch(backend, policy=NO_POLICY_WAITS)
    pending = [asyncio.ensure_future(observe(session, "same query")) for _ in range(5)]
    await asyncio.sleep(0.01)
    backend.gate.set()
    results = await asyncio.gather(*pending)
    assert len(backend.calls) == 1 and session.coalesced == 4
    assert all(obs.ok and obs.passages == results[0].passages for obs in results)


async def test_one_caller_giving_up_does_not_cancel_the_shared_request():
    backend = ScriptedBackend(RESULTS)
    backend.gate = asyncio.Event()
    session = WebSearch(backend, policy=NO_POLICY_WAITS)
    quitter = asyncio.ensure_future(observe(session, "q"))
    stayer = asyncio.ensure_future(observe(session, "q"))
    await asyncio.sleep(0.01)
    quitter.cancel()
    backend.gate.set()
    assert (await stayer).ok and len(backend.calls) == 1


# --- fallback chain ----------------------------------------------------------------------------


async def test_fallback_uses_the_next_backend_when_one_fails():
    first = ScriptedBackend(OfflineError("down"), name="first")
    second = ScriptedBackend(RESULTS, name="second")
    session = WebSearch(FallbackBackend([first, second]), policy=NO_POLICY_WAITS)
    obs = await observe(session)
    assert obs.ok and obs.via == "first+second"
    assert first.calls == second.calls == ["asyncio gather"]


async def test_fallback_reports_the_most_actionable_failure():
    chain = FallbackBackend([
        ScriptedBackend(OfflineError("down"), name="a"),
        ScriptedBackend(NoResultsError("nothing"), name="b"),
    ])  # fmt: skip
    obs = await observe(WebSearch(chain, policy=NO_POLICY_WAITS))
    assert obs.error.kind == "no_results" and "a: down" in obs.error.message
    with pytest.raises(ConfigError):
        FallbackBackend([])


async def test_a_backend_returning_nothing_counts_as_no_results():
    obs = await observe(WebSearch(ScriptedBackend([]), policy=NO_POLICY_WAITS))
    assert obs.error.kind == "no_results"


# --- the tool ----------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [{"query": "  "}, {"query": "x", "max_results": 0}, {"query": 3}])
async def test_invalid_input(args):
    backend = ScriptedBackend(RESULTS)
    obs = await WebSearchTool(session=WebSearch(backend)).observe(**args)
    assert obs.error.kind == "invalid_input" and backend.calls == []


def test_sync_invoke_through_langchain_shares_the_session():
    backend = ScriptedBackend(RESULTS)
    session = WebSearch(backend, policy=NO_POLICY_WAITS)
    a, b = WebSearchTool(session=session), WebSearchTool(session=session)
    call = {"name": "web_search", "args": {"query": "pep 654"}, "id": "1", "type": "tool_call"}
    first, second = a.invoke(call), b.invoke(call)
    assert isinstance(first, ToolMessage) and "<untrusted_data" in first.content
    assert first.artifact.value == RESULTS[0].url and second.artifact.via == "cache"
    assert len(backend.calls) == 1


# --- live --------------------------------------------------------------------------------------


def _online(timeout_s: float = 2.0) -> bool:
    """Whether DNS resolves duckduckgo.com within ``timeout_s`` (a hung resolver is offline)."""
    answer: list[bool] = []

    def lookup() -> None:
        try:
            socket.getaddrinfo("duckduckgo.com", 443)
            answer.append(True)
        except OSError:
            answer.append(False)

    thread = threading.Thread(target=lookup, daemon=True)
    thread.start()
    thread.join(timeout_s)
    return bool(answer and answer[0])


@pytest.mark.network
@pytest.mark.skipif(not _online(), reason="offline: DNS does not resolve duckduckgo.com")
async def test_live_search_returns_python_org():
    obs = await WebSearchTool(session=WebSearch()).observe(query="python asyncio TaskGroup docs")
    assert obs.ok, obs.content
    assert any("python.org" in p.ref for p in obs.passages)
