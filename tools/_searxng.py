"""A SearXNG instance as a search backend, through its JSON API.

SearXNG is the self-hosted metasearch engine people run to escape the rate
limits of the public engines. Its ``/search?q=...&format=json`` answers
``{"results": [{"url", "title", "content", ...}], "unresponsive_engines":
[[name, reason], ...]}``; the JSON format must be enabled in the instance's
``settings.yml`` (``search.formats``), or the instance answers 403, which is
reported with that hint. The URL is the operator's configuration, not the
model's choice, so it is not passed through the SSRF guard: a SearXNG on
localhost or the intranet is the usual case.

Re-exported by `tools.search`; import from there.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import httpx

from agent.errors import ConfigError
from tools._search_backends import (
    NoResultsError,
    OfflineError,
    RateLimitedError,
    SearchError,
    SearchOptions,
    SearchResult,
    SearchTimeoutError,
    dedupe,
    results_from_rows,
)

__all__ = ["SearxngBackend"]

_SAFESEARCH = {"off": "0", "moderate": "1", "on": "2"}
_TIME_RANGE = {"d": "day", "w": "week", "m": "month", "y": "year"}
_THROTTLED = ("too many requests", "captcha", "access denied", "rate", "suspended")


class _ServerError(SearchError):
    """The instance failed (HTTP 5xx): worth another try."""

    retryable = True


def _language(region: str) -> str:
    """ddgs-style ``us-en`` as SearXNG's ``en-US``; ``wt-wt`` (no region) as ``all``."""
    country, _, lang = region.partition("-")
    if not lang or country == "wt":
        return "all"
    return f"{lang}-{country.upper()}"


class SearxngBackend:
    """A SearXNG instance's JSON API (``--search searxng --searxng-url URL``)."""

    name = "searxng"

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"--searxng-url {base_url!r} is not an http(s) URL",
                hint="give the instance's address, e.g. http://localhost:8888",
            )
        self.endpoint = base_url.strip().rstrip("/") + "/search"
        self._timeout_s = timeout_s
        self._transport = transport

    def _params(self, query: str, options: SearchOptions) -> dict[str, str]:
        params = {
            "q": query,
            "format": "json",
            "safesearch": _SAFESEARCH[options.safesearch],
            "language": _language(options.region),
            "pageno": "1",
        }
        if options.timelimit is not None:
            params["time_range"] = _TIME_RANGE[options.timelimit]
        return params

    async def search(self, query: str, options: SearchOptions) -> list[SearchResult]:
        try:
            async with httpx.AsyncClient(
                timeout=self._timeout_s, transport=self._transport, trust_env=False
            ) as client:
                response = await client.get(
                    self.endpoint,
                    params=self._params(query, options),
                    headers={"Accept": "application/json"},
                )
        except httpx.TimeoutException as exc:
            raise SearchTimeoutError(
                f"SearXNG at {self.endpoint} did not answer within {self._timeout_s:g} s"
            ) from exc
        except httpx.TransportError as exc:
            raise OfflineError(f"cannot reach SearXNG at {self.endpoint}: {exc}") from exc
        payload = self._payload(response)
        rows = payload.get("results")
        if not isinstance(rows, list):
            raise SearchError(f"SearXNG at {self.endpoint} answered JSON without a results list")
        results = dedupe(
            results_from_rows(r for r in rows if isinstance(r, dict)), options.max_results
        )
        if results:
            return results
        down = _unresponsive(payload)
        if down and any(m in reason.lower() for _, reason in down for m in _THROTTLED):
            listed = ", ".join(f"{name} ({reason})" for name, reason in down)
            raise RateLimitedError(f"SearXNG's engines are throttled: {listed}")
        raise NoResultsError(f"no SearXNG results for {query!r}")

    def _payload(self, response: httpx.Response) -> dict[str, Any]:
        status = response.status_code
        if status == 429:
            raise RateLimitedError(f"SearXNG at {self.endpoint} is rate limiting (HTTP 429)")
        if status == 403:
            raise SearchError(
                f"SearXNG at {self.endpoint} refused the JSON API (HTTP 403): "
                "add json to search.formats in its settings.yml"
            )
        if status >= 500:
            raise _ServerError(f"SearXNG at {self.endpoint} failed (HTTP {status})")
        if status >= 400:
            raise SearchError(f"SearXNG at {self.endpoint} answered HTTP {status}")
        try:
            payload = json.loads(response.content)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SearchError(
                f"SearXNG at {self.endpoint} did not answer JSON (is it a SearXNG instance?)"
            ) from exc
        if not isinstance(payload, dict):
            raise SearchError(f"SearXNG at {self.endpoint} answered JSON that is not an object")
        return payload


def _unresponsive(payload: dict[str, Any]) -> list[tuple[str, str]]:
    rows = payload.get("unresponsive_engines")
    if not isinstance(rows, list):
        return []
    return [(str(r[0]), str(r[1])) for r in rows if isinstance(r, list) and len(r) >= 2]
