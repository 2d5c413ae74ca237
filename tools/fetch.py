# Over 400 lines: the fetch tool's HTTP-first path and its browser escalation decide
# together; extraction and the guard already live in private modules.
"""The ``fetch_url`` tool: read a web page over HTTP, using the browser only when needed.

Plain HTTP reads an ordinary page several times faster than Chromium, so it
goes first: streamed with a byte cap, redirects followed by hand with every
hop re-checked by the SSRF guard, and connections made only to the addresses
the guard vetted. A page that turns out to be a JavaScript app shell (or a
step that asks for ``mode="browser"``) is rendered in the shared browser pool.
"""

from __future__ import annotations

import asyncio
import codecs
import dataclasses
import re
import urllib.parse
import weakref
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import charset_normalizer
import httpcore
import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    PrivateAttr,
    ValidationError,
)

from agent._internal.io_loop import io_loop
from agent.errors import MissingDependencyError
from agent.observation import ErrorKind, Observation
from tools._base import ObservingTool
from tools._chromium import BrowserPool, PageError, shared_pool
from tools._extract import (
    PageText,
    extract_plain,
    looks_like_js_shell,
    media_kind,
    page_observation,
)
from tools._extract_pool import extract_html_off_loop
from tools._navigate import read_page
from tools.netguard import GuardVerdict, NetworkPolicy, check_host, check_url

__all__ = ["FetchArgs", "FetchOptions", "FetchTool", "decode_body"]

_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_:.\-]+)", re.I)
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
# WHATWG decodes these labels as windows-1252, and so do browsers.
_LABEL_ALIASES = {
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
}
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class FetchOptions(BaseModel):
    model_config = ConfigDict(frozen=True)

    timeout_s: PositiveFloat = Field(default=15.0, description="per request (each redirect hop)")
    max_bytes: PositiveInt = Field(default=5_000_000, description="bytes read before truncating")
    max_chars: PositiveInt = Field(default=20_000, description="page text shown to the model")
    max_redirects: int = Field(default=5, ge=0)
    min_text_chars: PositiveInt = Field(
        default=200, description="a scripted page with less text than this is rendered"
    )
    user_agent: str = "Mozilla/5.0 (compatible; Ponder/0.1; page reader)"
    extract_in_processes: bool = Field(
        default=False,
        description="extract pages read at once in worker processes (one per core but one); "
        "off by default because workers import the caller's main module, which a script "
        "without an `if __name__ == '__main__':` guard would run again",
    )


class FetchArgs(BaseModel):
    url: str = Field(description="the http(s) URL of the page to read")
    mode: Literal["auto", "http", "browser"] = Field(
        default="auto",
        description="auto: HTTP, rendered in a browser only if the page needs JavaScript; "
        "http: never use the browser; browser: always render",
    )


class _Failure(Exception):
    def __init__(self, kind: ErrorKind, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class _Body:
    url: str
    kind: Literal["html", "text"]
    data: bytes
    content_type: str
    truncated: bool


@dataclass(frozen=True)
class _Response:
    url: str
    html: str | None  # None for text that is not HTML
    page: PageText
    truncated: bool


class FetchTool(ObservingTool):
    name: str = "fetch_url"
    description: str = (
        "Read a web page: its main text as Markdown, with numbered links. Fast plain HTTP; "
        "pages that need JavaScript are rendered in a browser automatically."
    )
    args_schema: type[BaseModel] = FetchArgs
    policy: NetworkPolicy = Field(default_factory=NetworkPolicy)
    options: FetchOptions = Field(default_factory=FetchOptions)
    browser: BrowserPool | None = Field(default=None, description="default: the shared pool")
    _clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = PrivateAttr(
        default_factory=weakref.WeakKeyDictionary
    )

    async def observe(self, **kwargs: Any) -> Observation:
        try:
            args = FetchArgs.model_validate(kwargs)
        except ValidationError as exc:
            return Observation.failure(self.name, "invalid_input", str(exc.errors()[0]["msg"]))
        return await io_loop().arun(self._read(args))

    async def aclose(self) -> None:
        """Close the HTTP clients (the browser pool is closed by its owner)."""
        for loop, client in list(self._clients.items()):
            if loop.is_running() and not loop.is_closed():
                await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(client.aclose(), loop))
        self._clients.clear()

    async def _read(self, args: FetchArgs) -> Observation:
        verdict = await check_url(args.url, self.policy)
        if not verdict.allowed:
            return Observation.failure(self.name, verdict.kind, verdict.message, via="http")
        if args.mode == "browser":
            return await self._render(verdict.url)
        try:
            got = await self._get(verdict.url)
        except _Failure as exc:
            return Observation.failure(
                self.name, exc.kind, exc.message, retryable=exc.retryable, via="http"
            )
        shell = got.html is not None and looks_like_js_shell(
            got.html, got.page, min_chars=self.options.min_text_chars
        )
        if args.mode == "auto" and shell:
            rendered = await self._render(got.url)
            if rendered.ok or len(got.page.text) < 50:
                return rendered
            why = rendered.error.message if rendered.error else "unknown error"
            note = f"this page needs JavaScript, but the browser failed: {why}"
            got = dataclasses.replace(got, page=_with_note(got.page, note))
        return page_observation(
            self.name,
            got.page,
            via="http",
            max_chars=self.options.max_chars,
            truncated=got.truncated,
        )

    async def _render(self, url: str) -> Observation:
        pool = self.browser or shared_pool()
        try:
            read = await read_page(pool, url, self.policy)
        except PageError as exc:
            return Observation.failure(
                self.name, exc.kind, exc.message, retryable=exc.retryable, via="browser"
            )
        except MissingDependencyError as exc:
            return Observation.failure(self.name, "unavailable", str(exc), via="browser")
        return page_observation(
            self.name,
            read.page,
            via="browser",
            max_chars=self.options.max_chars,
            truncated=read.truncated,
        )

    async def _get(self, url: str) -> _Response:
        """GET `url` and extract it; raises `_Failure`."""
        body = await self._download(url)
        text = decode_body(body.data, body.content_type, html=body.kind == "html")
        if body.kind == "html":
            page = await extract_html_off_loop(
                text, body.url, processes=self.options.extract_in_processes
            )
            return _Response(body.url, text, page, body.truncated)
        return _Response(body.url, None, extract_plain(text, body.url), body.truncated)

    async def _download(self, url: str) -> _Body:
        """The body of `url`, following redirects by hand, each hop vetted by the guard."""
        timeout = self.options.timeout_s
        current = url
        try:
            for _ in range(self.options.max_redirects + 1):
                async with asyncio.timeout(timeout):
                    got = await self._get_one(current)
                if isinstance(got, _Body):
                    return got
                current = got
        except (TimeoutError, httpx.TimeoutException):
            message = f"{current} did not answer within {timeout:g} s"
            raise _Failure("timeout", message, retryable=True) from None
        except httpx.ConnectError as exc:
            if isinstance(exc.__cause__, _Refused):
                raise _Failure("refused", exc.__cause__.verdict.message) from None
            host = urllib.parse.urlsplit(current).netloc
            raise _Failure(
                "offline", f"could not connect to {host} ({exc})", retryable=True
            ) from None
        except httpx.HTTPError as exc:
            raise _Failure(
                "error", f"HTTP error reading {current}: {exc}", retryable=True
            ) from None
        raise _Failure("error", f"more than {self.options.max_redirects} redirects from {url}")

    async def _get_one(self, url: str) -> _Body | str:
        """One request: the page, or the vetted URL a redirect points to."""
        headers = {"Accept": "text/html,application/xhtml+xml,text/*;q=0.9,*/*;q=0.5"}
        async with self._client().stream("GET", url, headers=headers) as response:
            location = response.headers.get("location")
            if response.status_code in _REDIRECTS and location:
                target = urllib.parse.urljoin(url, location.strip())
                verdict = await check_url(target, self.policy)
                if not verdict.allowed:
                    message = f"redirect to {target[:200]} {verdict.message}"
                    raise _Failure(verdict.kind, message, retryable=verdict.kind == "offline")
                return verdict.url
            _check_status(response)
            content_type = response.headers.get("content-type", "")
            kind = media_kind(content_type)
            disposition = response.headers.get("content-disposition", "").lower()
            if disposition.startswith("attachment"):
                raise _Failure("refused", f"{url} is a file download; downloads are not fetched")
            if kind == "binary":
                media = content_type.split(";", 1)[0].strip()
                raise _Failure("refused", f"not a readable page: content-type {media}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > 10 * self.options.max_bytes:
                raise _Failure(
                    "too_large", f"{url} is {int(declared):,} bytes, far above the reading limit"
                )
            body, truncated = await _read_capped(response.aiter_bytes(), self.options.max_bytes)
            final = str(response.url)
        if kind == "unknown":
            kind = _sniff(body)
            if kind == "binary":
                raise _Failure("refused", f"{url} looks like a binary file, not a page")
        return _Body(final, "html" if kind == "html" else "text", body, content_type, truncated)

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            limits = httpx.Limits(max_connections=32, max_keepalive_connections=8)
            client = httpx.AsyncClient(
                transport=_GuardedTransport(self.policy, limits),
                timeout=httpx.Timeout(self.options.timeout_s),
                headers={"User-Agent": self.options.user_agent},
                follow_redirects=False,
                trust_env=False,  # an environment proxy would resolve names the guard vetted
            )
            self._clients[loop] = client
        return client


def decode_body(body: bytes, content_type: str, *, html: bool) -> str:
    """Bytes to text: BOM, then the header's charset, then a meta tag, then detection."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, "replace")
    label = _header_charset(content_type)
    if label is None and html:
        found = _META_CHARSET.search(body[:4096])
        label = found.group(1).decode("ascii", "replace") if found else None
    codec = _codec(label)
    if codec is None:
        best = charset_normalizer.from_bytes(body[:200_000]).best()
        codec = _codec(best.encoding) if best is not None else None
    return body.decode(codec or "utf-8", "replace")


def _header_charset(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    label = _LABEL_ALIASES.get(label.strip().lower(), label.strip().lower())
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _sniff(body: bytes) -> Literal["html", "text", "binary"]:
    head = body[:1024]
    if b"\x00" in head:
        return "binary"
    start = head.lstrip().lower()
    return "html" if start.startswith((b"<!doctype html", b"<html")) else "text"


def _check_status(response: httpx.Response) -> None:
    status = response.status_code
    if status in (404, 410):
        raise _Failure("not_found", f"HTTP {status}: {response.url} was not found")
    if status == 429:
        raise _Failure("rate_limited", "HTTP 429: the site is rate limiting", retryable=True)
    if status >= 400:
        raise _Failure("error", f"HTTP {status} from {response.url}", retryable=status >= 500)


async def _read_capped(chunks: AsyncIterator[bytes], limit: int) -> tuple[bytes, bool]:
    """At most `limit` bytes of the body; stops reading (and the download) past it."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        parts.append(chunk)
        size += len(chunk)
        if size >= limit:
            return b"".join(parts)[:limit], True
    return b"".join(parts), False


def _with_note(page: PageText, note: str) -> PageText:
    return dataclasses.replace(page, notes=(*page.notes, note))


class _Refused(httpcore.ConnectError):
    """The guard refused the address a connection was about to use."""

    def __init__(self, verdict: GuardVerdict) -> None:
        super().__init__(verdict.message)
        self.verdict = verdict


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the guard vetted at connect time (no DNS rebinding)."""

    def __init__(self, policy: NetworkPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        verdict = await check_host(host, port, self._policy)
        if not verdict.allowed:
            raise _Refused(verdict)
        error: httpcore.ConnectError | None = None
        for address in verdict.addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                error = exc
        raise error or httpcore.ConnectError(f"no address for {host}")

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not reachable from the fetch tool")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, policy: NetworkPolicy, limits: httpx.Limits) -> None:
        super().__init__(trust_env=False, limits=limits)
        # httpx has no public hook for the network backend; its httpcore pool does.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(policy),
        )
