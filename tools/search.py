"""Web search as the ``web_search`` tool, over a pluggable backend (ddgs by default).

Every step of a run shares one `WebSearch`: one rate limiter (a token bucket, or
the batch's shared one from `tools.search_limiter`),
one result cache (TTL, bounded, keyed by normalised query and options) and one
table of requests in flight, so a fan-out of eight searches does not get the
run banned, a repeated query costs nothing, and identical concurrent queries
make one request. Rate limits and timeouts are retried with exponential
backoff and jitter; "offline" and "no results" are not.

A backend is anything with ``async def search(query, options) -> list[SearchResult]``
that raises `SearchError` subclasses (`SearchBackend`): `DDGSBackend` is the
default, `SearxngBackend` asks a SearXNG instance, `FallbackBackend` chains
several (see `tools._search_backends`), and `tools.localweb.LocalSearchBackend`
searches a folder served on loopback.
Results are de-duplicated by canonical URL whatever the backend.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt, PositiveInt

from agent.observation import ListItem, Observation, Passage
from tools._base import ObservingTool
from tools._search_backends import (
    DDGSBackend,
    FallbackBackend,
    NoResultsError,
    OfflineError,
    RateLimitedError,
    SearchBackend,
    SearchError,
    SearchOptions,
    SearchResult,
    SearchTimeoutError,
    canonical_url,
    dedupe,
)
from tools._searxng import SearxngBackend
from tools.search_limiter import SearchLimiter, TokenBucket

__all__ = [
    "DDGSBackend",
    "FallbackBackend",
    "NoResultsError",
    "OfflineError",
    "RateLimitedError",
    "SearchBackend",
    "SearchError",
    "SearchOptions",
    "SearchPolicy",
    "SearchResult",
    "SearchTimeoutError",
    "SearxngBackend",
    "WebSearch",
    "WebSearchTool",
    "canonical_url",
]


class SearchPolicy(BaseModel):
    """How hard and how often to ask: timeouts, retries, pacing, caching."""

    model_config = ConfigDict(frozen=True)

    timeout_s: float = Field(default=20.0, gt=0, description="hard limit per backend call")
    retries: NonNegativeInt = Field(default=2, description="extra attempts on rate limit/timeout")
    backoff_s: NonNegativeFloat = 1.0
    backoff_max_s: NonNegativeFloat = 10.0
    rate_per_s: float = Field(default=1.0, gt=0, description="sustained backend calls per second")
    burst: PositiveInt = Field(default=2, description="calls allowed at once before pacing")
    cache_ttl_s: NonNegativeFloat = 900.0
    cache_size: PositiveInt = 256


# --- the shared session -----------------------------------------------------------------


class WebSearch:
    """One search session for a run: shared rate limit, cache and in-flight requests."""

    def __init__(
        self,
        backend: SearchBackend | None = None,
        *,
        options: SearchOptions | None = None,
        policy: SearchPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        limiter: SearchLimiter | None = None,
    ) -> None:
        self.backend: SearchBackend = backend if backend is not None else DDGSBackend()
        self.options = options or SearchOptions()
        self.policy = policy or SearchPolicy()
        self._clock, self._sleep, self._jitter = clock, sleep, jitter
        self._bucket = TokenBucket(self.policy.rate_per_s, self.policy.burst, clock)
        # a batch's limiter, shared with its other runs; else this session's own bucket
        self.limiter = limiter
        self._cache: OrderedDict[tuple[object, ...], tuple[float, list[SearchResult]]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()
        self._inflight: dict[tuple[object, ...], asyncio.Task[list[SearchResult]]] = {}
        self.backend_calls = 0  # attempts that reached the backend
        self.cache_hits = 0
        self.coalesced = 0  # calls that joined an identical request in flight

    def _key(self, query: str, options: SearchOptions) -> tuple[object, ...]:
        return (" ".join(query.casefold().split()), *options.model_dump().values())

    def _cached(self, key: tuple[object, ...]) -> list[SearchResult] | None:
        with self._lock:
            entry = self._cache.get(key)
            if entry is None:
                return None
            if entry[0] < self._clock():
                del self._cache[key]
                return None
            self._cache.move_to_end(key)
            self.cache_hits += 1
            return list(entry[1])

    def _store(self, key: tuple[object, ...], results: list[SearchResult]) -> None:
        if self.policy.cache_ttl_s <= 0:
            return
        with self._lock:
            self._cache[key] = (self._clock() + self.policy.cache_ttl_s, results)
            self._cache.move_to_end(key)
            while len(self._cache) > self.policy.cache_size:
                self._cache.popitem(last=False)

    async def search(
        self, query: str, *, max_results: int | None = None
    ) -> tuple[list[SearchResult], bool]:
        """(results, whether they came from the cache); raises `SearchError`."""
        options = self.options
        if max_results is not None:
            options = options.model_copy(update={"max_results": max_results})
        key = self._key(query, options)
        cached = self._cached(key)
        if cached is not None:
            return cached, True
        loop = asyncio.get_running_loop()
        with self._lock:
            task = self._inflight.get(key)
            if task is None or task.get_loop() is not loop or task.done():
                task = loop.create_task(self._fetch(key, query, options))
                self._inflight[key] = task
            else:
                self.coalesced += 1
        # shield: one caller giving up must not cancel the request the others wait for
        return await asyncio.shield(task), False

    async def _fetch(
        self, key: tuple[object, ...], query: str, options: SearchOptions
    ) -> list[SearchResult]:
        try:
            results = await self._with_retries(query, options)
            self._store(key, results)
            return results
        finally:
            with self._lock:
                if self._inflight.get(key) is asyncio.current_task():
                    del self._inflight[key]

    async def _with_retries(self, query: str, options: SearchOptions) -> list[SearchResult]:
        p = self.policy
        attempt = 0
        while True:
            if self.limiter is not None:
                await self.limiter.acquire()
            elif (wait := self._bucket.reserve()) > 0:
                await self._sleep(wait)
            self.backend_calls += 1
            try:
                async with asyncio.timeout(p.timeout_s):
                    results = await self.backend.search(query, options)
                unique = dedupe(results, options.max_results)
                if not unique:
                    raise NoResultsError(f"{self.backend.name} returned no results")
                return unique
            except TimeoutError as exc:
                error: SearchError = SearchTimeoutError(
                    f"no answer from {self.backend.name} within {p.timeout_s:g} s"
                )
                error.__cause__ = exc
            except SearchError as exc:
                error = exc
            if not error.retryable or attempt >= p.retries:
                raise error
            delay = min(p.backoff_max_s, p.backoff_s * 2**attempt)
            await self._sleep(delay / 2 + self._jitter() * delay / 2)
            attempt += 1


# --- the tool ------------------------------------------------------------------------------


class WebSearchArgs(BaseModel):
    query: str = Field(description="what to search the web for, in plain words")
    max_results: int | None = Field(
        default=None, ge=1, le=20, description="how many results (default 8)"
    )


class WebSearchTool(ObservingTool):
    """Searches the web and returns titles, URLs and snippets."""

    name: str = "web_search"
    description: str = (
        "Search the web. Returns a numbered list of results, each with a title, URL and a "
        "short snippet. Snippets are only teasers: fetch a page to read or quote it."
    )
    args_schema: type[BaseModel] = WebSearchArgs
    session: WebSearch = Field(default_factory=WebSearch)

    async def observe(self, **kwargs: Any) -> Observation:
        query = kwargs.get("query")
        limit = kwargs.get("max_results")
        if not isinstance(query, str) or not query.strip():
            return Observation.failure(self.name, "invalid_input", "`query` must be text")
        if limit is not None and (not isinstance(limit, int) or not 1 <= limit <= 20):
            return Observation.failure(self.name, "invalid_input", "`max_results`: 1 to 20")
        via = self.session.backend.name
        try:
            results, cached = await self.session.search(query.strip(), max_results=limit)
        except SearchError as exc:
            return Observation.failure(
                self.name, exc.kind, str(exc), retryable=exc.retryable, via=via
            )
        return _observation(self.name, query.strip(), results, "cache" if cached else via)


def _observation(tool: str, query: str, results: list[SearchResult], via: str) -> Observation:
    blocks: list[str] = []
    passages: list[Passage] = []
    for n, r in enumerate(results, start=1):
        blocks.append(f"[{n}] {r.title}\n    {r.url}" + (f"\n    {r.snippet}" if r.snippet else ""))
        # A snippet is the search engine's teaser, not the page: it is citable only
        # as a snippet, and no document is stored under the page's URL.
        passages.append(
            Passage(ref=r.url, title=r.title, text=r.snippet or r.title, kind="snippet")
        )
    return Observation(
        tool=tool,
        ok=True,
        content=f"Web results for {query!r}:\n\n" + "\n\n".join(blocks),
        passages=tuple(passages),
        value=results[0].url,
        fields={
            "url": results[0].url,
            "urls": "\n".join(r.url for r in results),
            "titles": "\n".join(r.title for r in results),
        },
        lists={
            "results": tuple(ListItem(url=r.url, title=r.title, snippet=r.snippet) for r in results)
        },
        untrusted=True,
        via=via,
    )
