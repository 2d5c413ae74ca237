"""The ``browser`` tool: read and navigate pages in real Chromium, guarded against SSRF.

Use it for pages that need JavaScript, for following links across a site, and
for looking at a page (screenshot, accessibility snapshot); ``fetch_url`` is
the faster way to read an ordinary page. ``open`` starts a session whose id
later calls pass; sessions expire after a while and the oldest are closed
first when there are too many.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any, Literal

from playwright.async_api import Error as PlaywrightError
from pydantic import BaseModel, Field, ValidationError

from agent._internal.io_loop import io_loop
from agent.observation import ErrorKind, Observation, Passage
from tools._base import ObservingTool
from tools._chromium import (
    BrowserOptions,
    BrowserPool,
    BrowserSession,
    PageError,
    find_chromium,
    shared_pool,
)
from tools._extract import cut_at_boundary, page_observation
from tools._navigate import PageRead, browser_failure, navigate
from tools.netguard import NetworkPolicy, check_url

__all__ = ["BrowserArgs", "BrowserOptions", "BrowserPool", "BrowserTool", "find_chromium"]

_MAX_MATCHES = 10
_CONTEXT_CHARS = 300


class BrowserArgs(BaseModel):
    action: Literal["open", "find", "follow", "screenshot", "snapshot", "close"] = Field(
        description="open: load `url` and read it; find: look for `text` on the current page; "
        "follow: open link number `link`; screenshot: save a PNG of the page; "
        "snapshot: the page's accessibility tree; close: end the session"
    )
    url: str | None = Field(default=None, description="for open: the http(s) URL to load")
    session: str | None = Field(
        default=None,
        description="session id returned by an earlier open; needed by every action but open",
    )
    text: str | None = Field(default=None, description="for find: the text to look for")
    link: int | None = Field(
        default=None, ge=1, description="for follow: a link number [n] from the page's list"
    )


class BrowserTool(ObservingTool):
    name: str = "browser"
    description: str = (
        "Open web pages in a real browser (runs JavaScript), then find text on the page, "
        "follow its numbered links, take a screenshot or an accessibility snapshot. "
        "Returns the page as Markdown with numbered links and a session id for later actions."
    )
    args_schema: type[BaseModel] = BrowserArgs
    policy: NetworkPolicy = Field(default_factory=NetworkPolicy)
    pool: BrowserPool | None = Field(default=None, description="default: the shared pool")

    async def observe(self, **kwargs: Any) -> Observation:
        try:
            args = BrowserArgs.model_validate(kwargs)
        except ValidationError as exc:
            return Observation.failure(self.name, "invalid_input", _first_error(exc))
        return await io_loop().arun(self._act(args))

    async def aclose(self) -> None:
        """Close this tool's pool (the shared one if it was not given its own)."""
        pool = self.pool or shared_pool()
        await io_loop().arun(pool.aclose())

    async def _act(self, args: BrowserArgs) -> Observation:
        pool = self.pool or shared_pool()
        try:
            if args.action == "open":
                return await self._open(pool, args)
            session = pool.session(args.session) if args.session else None
            if session is None:
                return self._fail(
                    "invalid_input",
                    f"no open session {args.session!r}; call action=open with a url first",
                )
            async with session.lock:
                if args.action == "find":
                    return self._find(session, args.text or "")
                if args.action == "follow":
                    return await self._follow(pool, session, args.link)
                if args.action == "screenshot":
                    return await self._screenshot(pool, session)
                if args.action == "snapshot":
                    return await self._snapshot(pool, session)
            await pool.close_session(session)  # action == "close"
            return Observation(tool=self.name, ok=True, content=f"session {session.id} closed")
        except PageError as exc:
            return self._fail(exc.kind, exc.message, retryable=exc.retryable)
        except PlaywrightError as exc:  # anything else Playwright reports is this call's failure
            failure = browser_failure(pool, exc)
            return self._fail(failure.kind, failure.message, retryable=failure.retryable)

    async def _open(self, pool: BrowserPool, args: BrowserArgs) -> Observation:
        if not args.url:
            return self._fail("invalid_input", "action=open needs a url")
        session = pool.session(args.session) if args.session else None
        if args.session and session is None:
            return self._fail("invalid_input", f"no open session {args.session!r}")
        policy = session.policy if session is not None else self.policy
        verdict = await check_url(args.url, policy)  # refuse before starting anything
        if not verdict.allowed:
            return self._fail(verdict.kind, verdict.message)
        async with pool.slot():
            created = session is None
            if session is None:
                session = await pool.open_session(self.policy)
            try:
                async with session.lock:
                    read = await navigate(pool, session, args.url)
            except BaseException:
                if created:
                    await pool.close_session(session)
                raise
        return self._page(pool, session, read)

    async def _follow(
        self, pool: BrowserPool, session: BrowserSession, number: int | None
    ) -> Observation:
        links = session.links
        if number is None or not 1 <= number <= len(links):
            known = f"1..{len(links)}" if links else "none on this page"
            return self._fail("invalid_input", f"link number {number} is not listed ({known})")
        async with pool.slot():
            read = await navigate(pool, session, links[number - 1].url)
        return self._page(pool, session, read)

    def _find(self, session: BrowserSession, needle: str) -> Observation:
        page = session.page_text
        if not needle.strip() or page is None:
            return self._fail("invalid_input", "action=find needs text and an opened page")
        pattern = re.compile(r"\s+".join(map(re.escape, needle.split())), re.IGNORECASE)
        matches = list(pattern.finditer(page.plain))
        if not matches:
            return self._fail("no_results", f"{needle!r} does not occur on {page.url}")
        passages = tuple(
            _around(page.plain, m.start(), m.end(), page.url, page.title)
            for m in matches[:_MAX_MATCHES]
        )
        lines = [f"{len(matches)} matches for {needle!r} on {page.url}:"]
        lines.extend(f"[{n}] …{p.text}…" for n, p in enumerate(passages, start=1))
        return Observation(
            tool=self.name,
            ok=True,
            content="\n\n".join(lines),
            passages=passages,
            documents={page.url: page.plain},
            value=passages[0].text,
            fields={"url": page.url, "session": session.id, "matches": str(len(matches))},
            untrusted=True,
            via="browser",
        )

    async def _screenshot(self, pool: BrowserPool, session: BrowserSession) -> Observation:
        folder = pool.options.screenshot_dir or Path(tempfile.gettempdir()) / "ponder-screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        session.screenshots += 1
        path = folder / f"{session.id}-{session.screenshots}.png"
        async with pool.slot():
            await session.page.screenshot(path=str(path))
        url = session.page.url
        return Observation(
            tool=self.name,
            ok=True,
            content=f"screenshot of {url} saved to {path}",
            value=str(path),
            fields={"path": str(path), "url": url, "session": session.id},
            via="browser",
        )

    async def _snapshot(self, pool: BrowserPool, session: BrowserSession) -> Observation:
        async with pool.slot():
            tree = await session.page.aria_snapshot(mode="ai")
        shown = cut_at_boundary(tree, pool.options.max_chars)
        url = session.page.url
        return Observation(
            tool=self.name,
            ok=True,
            content=f"Accessibility snapshot of {url}:\n{shown}",
            value=shown,
            fields={"url": url, "session": session.id},
            untrusted=True,
            via="browser",
            truncated=len(shown) < len(tree),
        )

    def _page(self, pool: BrowserPool, session: BrowserSession, read: PageRead) -> Observation:
        return page_observation(
            self.name,
            read.page,
            via="browser",
            max_chars=pool.options.max_chars,
            truncated=read.truncated,
            fields={"session": session.id},
        )

    def _fail(self, kind: ErrorKind, message: str, *, retryable: bool = False) -> Observation:
        return Observation.failure(self.name, kind, message, retryable=retryable, via="browser")


def _around(text: str, start: int, end: int, ref: str, title: str) -> Passage:
    """The match with some context, widened to whole words, as an exact excerpt."""
    left = max(0, start - _CONTEXT_CHARS)
    right = min(len(text), end + _CONTEXT_CHARS)
    if left > 0 and (space := text.find(" ", left, start)) >= 0:
        left = space + 1
    if right < len(text) and (space := text.rfind(" ", end, right)) >= 0:
        right = space
    return Passage(ref=ref, title=title, text=text[left:right], start=left, end=right)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])
