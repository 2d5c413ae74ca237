"""Loading one page in a guarded browser session and reading it back as text.

Shared by the browser tool and by fetch's escalation for JavaScript pages.
Every failure becomes a `PageError` whose kind the tools report: the guard's
refusals (found in the route handler's and the proxy's records), timeouts,
downloads, non-text pages, oversized pages and a crashed browser.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Response
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from tools._chromium import BrowserPool, BrowserSession, PageError
from tools._extract import PageText, extract_html, media_kind
from tools._guard_proxy import GUARD_HEADER, REASON_HEADER
from tools.netguard import NetworkPolicy, check_url

__all__ = ["PageRead", "browser_failure", "navigate", "read_page"]

_OFFLINE_CODES = (
    "ERR_NAME_NOT_RESOLVED",
    "ERR_CONNECTION_REFUSED",
    "ERR_CONNECTION_RESET",
    "ERR_CONNECTION_CLOSED",
    "ERR_ADDRESS_UNREACHABLE",
    "ERR_INTERNET_DISCONNECTED",
    "ERR_EMPTY_RESPONSE",
    "ERR_PROXY_CONNECTION_FAILED",
    "ERR_TUNNEL_CONNECTION_FAILED",
)
# The page's HTML, cut in the page so an enormous document never crosses the pipe.
_HTML_JS = """(cap) => {
  const html = document.documentElement ? document.documentElement.outerHTML : "";
  return html.length > cap ? [html.slice(0, cap), true] : [html, false];
}"""

_HAS_TEXT_JS = "(n) => !document.body || document.body.innerText.trim().length >= n"
_MIN_TEXT = 200
_QUIET_S = 0.25


@dataclass(frozen=True)
class PageRead:
    page: PageText
    truncated: bool


async def read_page(pool: BrowserPool, url: str, policy: NetworkPolicy) -> PageRead:
    """Render `url` once in a throwaway session (fetch's escalation path)."""
    async with pool.slot():
        try:
            session = await pool.open_session(policy)
        except PlaywrightError as exc:
            raise browser_failure(pool, exc) from None
        try:
            return await navigate(pool, session, url)
        finally:
            await pool.close_session(session, recycle=True)


async def navigate(pool: BrowserPool, session: BrowserSession, url: str) -> PageRead:
    """Load `url` in the session's page and extract it; raises `PageError`."""
    options = pool.options
    verdict = await check_url(url, session.policy)
    if not verdict.allowed:
        raise PageError(verdict.kind, verdict.message)
    marks = (len(session.proxy.events), len(session.refusals))
    session.inflight.clear()  # requests of the previous page no longer count
    loop = asyncio.get_running_loop()
    deadline = loop.time() + options.page_timeout_s
    page = session.page
    slow = PageError(
        "timeout", f"{url} did not load within {options.page_timeout_s:g} s", retryable=True
    )
    try:
        response = await page.goto(verdict.url, wait_until="commit", timeout=_ms(deadline, loop))
        if response is not None:
            await _check_response(session, response, verdict.url, options.max_bytes)
        await page.wait_for_load_state("load", timeout=_ms(deadline, loop))
        idle = min(options.network_idle_s, max(deadline - loop.time(), 0.0))
        await session.wait_quiet(_QUIET_S, idle)  # busy pages: read what is there at the cap
        with contextlib.suppress(PlaywrightTimeoutError):
            # A script on a timer can render after the network went quiet: give an
            # empty-looking page the same grace again for its text to appear.
            await page.wait_for_function(
                _HAS_TEXT_JS, arg=_MIN_TEXT, timeout=options.network_idle_s * 1000
            )
        if page.url.startswith("chrome-error:"):
            raise _recorded_refusal(session, marks) or PageError("error", f"{url} did not load")
        html, cut = await page.evaluate(_HTML_JS, options.max_bytes)
    except PlaywrightTimeoutError:
        raise slow from None
    except PlaywrightError as exc:
        raise _navigation_error(pool, session, marks, exc) from None
    text = await asyncio.to_thread(extract_html, str(html), page.url)
    session.page_text = text
    return PageRead(text, truncated=bool(cut))


def browser_failure(pool: BrowserPool, exc: PlaywrightError) -> PageError:
    """A Playwright error that means the browser itself is gone, or a generic one."""
    message = str(exc)
    gone = ("has been closed", "crashed", "Browser closed", "Connection closed", "disconnected")
    if pool.crashed() or any(marker in message for marker in gone):
        return PageError(
            "unavailable", "the browser crashed or was closed; it restarts on retry", retryable=True
        )
    return PageError("error", message.strip().splitlines()[0][:300] if message else "browser error")


async def _check_response(
    session: BrowserSession, response: Response, requested: str, max_bytes: int
) -> None:
    headers = response.headers
    token, _, kind = headers.get(GUARD_HEADER, "").partition(" ")
    if token == session.proxy.token:
        reason = headers.get(REASON_HEADER, "the network guard refused the connection")
        hop = "" if response.url == requested else f" (redirected to {response.url[:200]})"
        if kind == "refused":
            raise PageError("refused", f"refused: {reason}{hop}")
        raise PageError("offline", f"{reason}{hop}", retryable=True)
    status = response.status
    if status in (404, 410):
        raise PageError("not_found", f"HTTP {status}: {response.url} was not found")
    if status == 429:
        raise PageError("rate_limited", "HTTP 429: the site is rate limiting", retryable=True)
    if status >= 400:
        raise PageError("error", f"HTTP {status} from {response.url}", retryable=status >= 500)
    media = headers.get("content-type", "")
    if media_kind(media) == "binary":
        await _stop(session)
        kind = media.split(";", 1)[0].strip()
        raise PageError("refused", f"not a readable page: content-type {kind}")
    length = headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        await _stop(session)
        raise PageError("too_large", f"page is {int(length):,} bytes; the limit is {max_bytes:,}")


async def _stop(session: BrowserSession) -> None:
    with contextlib.suppress(PlaywrightError):
        await session.page.goto("about:blank", timeout=5_000)


def _navigation_error(
    pool: BrowserPool, session: BrowserSession, marks: tuple[int, int], exc: PlaywrightError
) -> PageError:
    message = str(exc)
    if "Download is starting" in message:
        return PageError("refused", "the URL is a file download; the browser does not download")
    recorded = _recorded_refusal(session, marks)
    if recorded is not None:
        return recorded
    failure = browser_failure(pool, exc)
    if failure.kind == "unavailable":
        return failure
    for code in _OFFLINE_CODES:
        if code in message:
            return PageError("offline", f"could not reach the site (net::{code})", retryable=True)
    if "ERR_TIMED_OUT" in message:
        return PageError("timeout", "the connection timed out", retryable=True)
    return failure


def _recorded_refusal(session: BrowserSession, marks: tuple[int, int]) -> PageError | None:
    """The guard's own account of why this navigation failed, if it refused something."""
    events = session.proxy.events[marks[0] :]
    refusals = session.refusals[marks[1] :]
    refused = [e for e in events if e.kind == "refused"]
    if refused:
        return PageError("refused", f"refused: {refused[-1].reason} (at {refused[-1].target})")
    if refusals:
        return PageError("refused", refusals[-1])
    if events:
        return PageError(events[-1].kind, events[-1].reason, retryable=events[-1].kind == "offline")
    return None


def _ms(deadline: float, loop: asyncio.AbstractEventLoop) -> float:
    return max(deadline - loop.time(), 0.05) * 1000
