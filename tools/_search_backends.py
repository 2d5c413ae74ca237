"""Search backends: the `SearchBackend` protocol, ddgs behind it, and a fallback chain.

`DDGSBackend` wraps ``ddgs``, which is synchronous and reports an empty result
page and a network failure alike as ``DDGSException``. It reads the exception
chain's messages and, when they are not conclusive, checks whether DNS
resolves the engines' hosts, to tell ``no_results``, ``rate_limited``,
``timeout`` and ``offline`` apart. One case stays ambiguous: ddgs 9 turns an
engine's non-200 answer (which is how some engines throttle) into "no
results", so a soft rate limit can be reported as ``no_results``.

Re-exported by `tools.search`; import from there.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field

from agent.errors import ConfigError
from agent.observation import ErrorKind

__all__ = [
    "DDGSBackend",
    "FallbackBackend",
    "NoResultsError",
    "OfflineError",
    "RateLimitedError",
    "SearchBackend",
    "SearchError",
    "SearchOptions",
    "SearchResult",
    "SearchTimeoutError",
    "canonical_url",
    "dedupe",
    "results_from_rows",
]


class SearchOptions(BaseModel):
    """What to ask the engine for; part of the cache key."""

    model_config = ConfigDict(frozen=True)

    region: str = "us-en"
    safesearch: Literal["on", "moderate", "off"] = "moderate"
    timelimit: Literal["d", "w", "m", "y"] | None = None
    max_results: int = Field(default=8, ge=1, le=25)


class SearchResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str
    url: str
    snippet: str = ""


class SearchError(Exception):
    """A search that produced no results; ``kind`` is the observation's error kind."""

    kind: ErrorKind = "error"
    retryable = False


class NoResultsError(SearchError):
    kind: ErrorKind = "no_results"


class RateLimitedError(SearchError):
    kind: ErrorKind = "rate_limited"
    retryable = True


class SearchTimeoutError(SearchError):
    kind: ErrorKind = "timeout"
    retryable = True


class OfflineError(SearchError):
    kind: ErrorKind = "offline"


class SearchBackend(Protocol):
    """A search engine; raises `SearchError` subclasses, never returns an empty list."""

    name: str

    async def search(self, query: str, options: SearchOptions) -> list[SearchResult]: ...


# --- URLs ------------------------------------------------------------------------------

_TRACKING = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|mc_cid|mc_eid|_ga|_gl|igshid|"
    r"ref_src|srsltid)$",
    re.IGNORECASE,
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _without_tracking(url: str) -> str:
    """The URL without tracking parameters and fragment; a search redirect unwrapped."""
    parts = urlsplit(url.strip())
    query = parse_qsl(parts.query, keep_blank_values=True)
    if (parts.hostname or "").endswith("duckduckgo.com") and parts.path.startswith("/l/"):
        target = dict(query).get("uddg")
        if target:
            return _without_tracking(unquote(target))
    kept = [(k, v) for k, v in query if not _TRACKING.match(k)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept), ""))


def canonical_url(url: str) -> str:
    """The form two URLs of one page share: lowercase host, no default port, no
    fragment, no trailing slash, no tracking parameters."""
    parts = urlsplit(_without_tracking(url))
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), parts.query, ""))


def dedupe(results: Sequence[SearchResult], limit: int) -> list[SearchResult]:
    """The first result of each canonical URL, at most ``limit`` of them."""
    seen: set[str] = set()
    out: list[SearchResult] = []
    for result in results:
        key = canonical_url(result.url)
        if key not in seen:
            seen.add(key)
            out.append(result)
            if len(out) >= limit:
                break
    return out


def results_from_rows(raw: Iterable[dict[str, Any]]) -> list[SearchResult]:
    """Result dicts (ddgs: title, href, body; SearXNG: title, url, content) as results,
    tracking parameters removed and rows without an http(s) URL dropped."""
    out: list[SearchResult] = []
    for item in raw:
        url = str(item.get("href") or item.get("url") or "").strip()
        if not url.startswith(("http://", "https://")):
            continue
        url = _without_tracking(url)
        title = " ".join(str(item.get("title") or "").split()) or url
        body = item.get("body") or item.get("snippet") or item.get("content") or ""
        snippet = " ".join(str(body).split())
        out.append(SearchResult(title=title, url=url, snippet=snippet))
    return out


# --- ddgs -------------------------------------------------------------------------------

_OFFLINE_MARKERS = (
    "dnserror", "error resolving dns", "name or service not known", "failed to lookup",
    "temporary failure in name resolution", "nodename nor servname", "network is unreachable",
    "connection refused", "connecterror", "connect error", "no route to host",
)  # fmt: skip
_ENGINE_HOSTS = {
    "duckduckgo": ("html.duckduckgo.com",),
    "bing": ("www.bing.com",),
    "brave": ("search.brave.com",),
    "google": ("www.google.com",),
    "mojeek": ("www.mojeek.com",),
    "yahoo": ("search.yahoo.com",),
    "yandex": ("yandex.com",),
    "wikipedia": ("en.wikipedia.org",),
}
_URL = re.compile(r"https?://\S+")
_AUTO_HOSTS = ("html.duckduckgo.com", "www.bing.com", "en.wikipedia.org")


async def _resolves(host: str) -> bool:
    """Whether DNS knows ``host``: the cheap test of being offline."""
    try:
        await asyncio.wait_for(asyncio.to_thread(socket.getaddrinfo, host, 443), 3.0)
    except (OSError, TimeoutError):
        return False
    return True


def _chain_text(exc: BaseException) -> str:
    texts, seen = [], set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return " | ".join(texts)


class DDGSBackend:
    """The ddgs metasearch library (DuckDuckGo, Bing, Brave, ...), run in a thread."""

    name = "ddgs"

    def __init__(
        self,
        *,
        backend: str = "auto",
        timeout_s: int = 10,
        proxy: str | None = None,
        client_factory: Callable[[], Any] | None = None,
        resolver: Callable[[str], Awaitable[bool]] = _resolves,
    ) -> None:
        """``client_factory`` makes the object whose ``text(query, **kw)`` is called
        (a ``ddgs.DDGS`` by default; tests pass a fake)."""
        self.backend = backend
        self._timeout_s = timeout_s
        self._proxy = proxy
        self._client_factory = client_factory
        self._resolver = resolver
        names = [b.strip() for b in backend.split(",")]
        hosts = [h for n in names for h in _ENGINE_HOSTS.get(n, ())]
        self._hosts = tuple(hosts) if hosts and "auto" not in names else _AUTO_HOSTS

    def _client(self) -> Any:
        if self._client_factory is not None:
            return self._client_factory()
        from ddgs import DDGS  # imported on first use: it is slow to import

        return DDGS(proxy=self._proxy, timeout=self._timeout_s)

    def _text(self, query: str, options: SearchOptions) -> list[dict[str, Any]]:
        result = self._client().text(
            query,
            region=options.region,
            safesearch=options.safesearch,
            timelimit=options.timelimit,
            max_results=options.max_results,
            backend=self.backend,
        )
        return list(result or [])

    async def search(self, query: str, options: SearchOptions) -> list[SearchResult]:
        from ddgs.exceptions import DDGSException, RatelimitException, TimeoutException

        try:
            raw = await asyncio.to_thread(self._text, query, options)
        except RatelimitException as exc:
            raise RateLimitedError(f"the search engine rate-limited us: {exc}") from exc
        except TimeoutException as exc:
            raise SearchTimeoutError(f"the search engine timed out: {exc}") from exc
        except DDGSException as exc:
            raise await self._classify(exc, query) from exc
        results = dedupe(results_from_rows(raw), options.max_results)
        if not results:
            if not await self._online():
                raise OfflineError("no network: DNS does not resolve the search engines")
            raise NoResultsError(f"no web results for {query!r}")
        return results

    async def _online(self) -> bool:
        checks = await asyncio.gather(*(self._resolver(h) for h in self._hosts))
        return any(checks)

    async def _classify(self, exc: BaseException, query: str) -> SearchError:
        text = _chain_text(exc).lower()
        if any(m in text for m in _OFFLINE_MARKERS):
            return OfflineError(f"no network: {str(exc)[:300]}")
        # Messages quote the request URL, and so the query: match only the rest.
        text = _URL.sub(" ", text).replace(query.lower(), " ")
        if any(m in text for m in ("ratelimit", "rate limit", "429", "too many requests")):
            return RateLimitedError(f"the search engine rate-limited us: {exc}")
        if "timed out" in text or "timeout" in text:
            return SearchTimeoutError(f"the search engine timed out: {exc}")
        if not await self._online():
            return OfflineError(f"no network: DNS does not resolve {', '.join(self._hosts)}")
        if "no results" in text:
            return NoResultsError("no web results")
        return SearchError(f"search failed: {str(exc)[:300]}")


class FallbackBackend:
    """Tries each backend in turn until one returns results."""

    def __init__(self, backends: Sequence[SearchBackend]) -> None:
        if not backends:
            raise ConfigError("FallbackBackend needs at least one backend")
        self.backends = tuple(backends)
        self.name = "+".join(b.name for b in self.backends)

    async def search(self, query: str, options: SearchOptions) -> list[SearchResult]:
        errors: list[tuple[str, SearchError]] = []
        for backend in self.backends:
            try:
                return await backend.search(query, options)
            except SearchError as exc:
                errors.append((backend.name, exc))
        summary = "; ".join(f"{name}: {exc}" for name, exc in errors)
        # The most actionable kind wins: a retryable failure, then an honest "nothing found".
        for wanted in (RateLimitedError, SearchTimeoutError, NoResultsError, OfflineError):
            if any(isinstance(exc, wanted) for _, exc in errors):
                raise wanted(summary)
        raise SearchError(summary)
