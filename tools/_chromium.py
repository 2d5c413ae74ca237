# Over 400 lines: one browser process, its discovery and its guarded contexts share
# lifecycle state that splitting would have to pass back and forth.
"""Chromium for Ponder's page reading: discovery, one shared process, guarded contexts.

One browser process serves every caller; each session is its own context
(cookies never leak between steps) and at most ``contexts`` pages work at once.
One-shot reads hand their context back emptied, as a spare, since creating a
context costs about as much as reading a page. Every context is guarded twice:
a route handler refuses requests the guard forbids (with a reason), and the
context's traffic goes through a `GuardProxy` that vets each connection, which
is what catches redirect hops. If Chromium dies, the next call relaunches it.
Pools close at interpreter exit. (A little over 400 lines: the session life
cycle, relaunch and shutdown must be read together to see nothing leaks.)
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import glob
import os
import shutil
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    Request,
    Route,
    WebSocketRoute,
    async_playwright,
)
from playwright.async_api import Error as PlaywrightError
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt

from agent.errors import MissingDependencyError
from agent.observation import ErrorKind
from tools._extract import Link, PageText
from tools._guard_proxy import GuardProxy
from tools.netguard import NetworkPolicy, check_url

__all__ = [
    "BrowserOptions",
    "BrowserPool",
    "BrowserSession",
    "PageError",
    "find_chromium",
    "shared_pool",
]

_SYSTEM_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_FLAGS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
    "--disable-quic",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
)


class BrowserOptions(BaseModel):
    """How the shared browser runs and how much of a page it reads."""

    model_config = ConfigDict(frozen=True)

    executable: str | None = Field(default=None, description="Chromium binary; found if None")
    contexts: PositiveInt = Field(default=4, description="pages working at the same time")
    max_sessions: PositiveInt = Field(default=16, description="open sessions kept (LRU)")
    session_ttl_s: PositiveFloat = 300.0
    page_timeout_s: PositiveFloat = 20.0
    network_idle_s: PositiveFloat = Field(
        default=3.0, description="longest wait for the network to go idle after load"
    )
    max_bytes: PositiveInt = Field(default=10_000_000, description="largest page read")
    max_chars: PositiveInt = Field(default=20_000, description="page text shown to the model")
    screenshot_dir: Path | None = Field(default=None, description="default: a temp folder")
    viewport: tuple[PositiveInt, PositiveInt] = (1280, 900)
    extra_args: tuple[str, ...] = Field(default=(), description="more Chromium flags")
    route_guard: bool = Field(
        default=True,
        description="also vet each request in a route handler (per-request refusal reasons; "
        "costs ~0.15 s a page, as routing turns off the cache); the guard proxy enforces "
        "the policy on every connection either way",
    )


class PageError(Exception):
    """A page could not be read; becomes an error observation of this kind."""

    def __init__(self, kind: ErrorKind, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message
        self.retryable = retryable


@dataclass(eq=False)
class BrowserSession:
    """One isolated context with one page, kept between calls by its id."""

    id: str
    policy: NetworkPolicy
    context: BrowserContext
    page: Page
    proxy: GuardProxy
    launch: int
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_used: float = field(default_factory=time.monotonic)
    refusals: list[str] = field(default_factory=list)
    page_text: PageText | None = None
    screenshots: int = 0
    inflight: set[Request] = field(default_factory=set)
    last_activity: float = field(default_factory=time.monotonic)

    @property
    def links(self) -> tuple[Link, ...]:
        return self.page_text.links if self.page_text is not None else ()

    def track_requests(self) -> None:
        """Count the page's requests in flight, for `wait_quiet`."""

        def started(request: Request) -> None:
            self.inflight.add(request)
            self.last_activity = time.monotonic()

        def ended(request: Request) -> None:
            self.inflight.discard(request)
            self.last_activity = time.monotonic()

        self.page.on("request", started)
        self.page.on("requestfinished", ended)
        self.page.on("requestfailed", ended)

    async def wait_quiet(self, quiet_s: float, cap_s: float) -> None:
        """Until no request has been in flight for `quiet_s` (at most `cap_s`).

        Playwright's "networkidle" waits a fixed 500 ms; a shorter quiet window
        reads ordinary pages sooner, and script-rendered pages get a text check.
        """
        deadline = time.monotonic() + cap_s
        while time.monotonic() < deadline:
            if not self.inflight and time.monotonic() - self.last_activity >= quiet_s:
                return
            await asyncio.sleep(0.05)


def find_chromium(explicit: str | None = None) -> str:
    """The Chromium to launch: explicit, $PONDER_CHROMIUM, the system's, Playwright's."""
    chosen = explicit or os.environ.get("PONDER_CHROMIUM")
    if chosen:
        path: str = shutil.which(chosen) or chosen
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
        raise MissingDependencyError(
            f"Chromium not found at {chosen!r}",
            hint="set PONDER_CHROMIUM to an executable Chrome/Chromium binary",
        )
    for name in ("/usr/bin/chromium", *_SYSTEM_BROWSERS):
        found = shutil.which(name)
        if found:
            return found
    root = os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or os.path.expanduser(
        "~/.cache/ms-playwright"
    )
    managed = sorted(glob.glob(os.path.join(root, "chromium-*", "chrome-linux*", "chrome")))
    if managed:
        return managed[-1]
    raise MissingDependencyError(
        "no Chromium browser found",
        hint="apt-get install chromium, or set PONDER_CHROMIUM to a Chrome/Chromium binary",
    )


class BrowserPool:
    """One Chromium process, launched lazily on the loop that first uses the pool."""

    def __init__(self, options: BrowserOptions | None = None) -> None:
        self.options = options or BrowserOptions()
        self.launches = 0
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None
        self._slots: asyncio.Semaphore | None = None
        self._sessions: OrderedDict[str, BrowserSession] = OrderedDict()
        self._spares: dict[NetworkPolicy, list[BrowserSession]] = {}
        _POOLS.add(self)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the ``contexts`` working slots."""
        _, slots = self._bind()
        async with slots:
            yield

    def session(self, session_id: str) -> BrowserSession | None:
        """A live session by id (None if unknown, expired or from a dead browser)."""
        found = self._sessions.get(session_id)
        if found is None or found.launch != self.launches or not self._connected():
            return None
        if time.monotonic() - found.last_used > self.options.session_ttl_s:
            return None
        self._sessions.move_to_end(session_id)
        found.last_used = time.monotonic()
        return found

    async def open_session(self, policy: NetworkPolicy) -> BrowserSession:
        """A fresh session (a recycled spare when there is one for this policy)."""
        browser = await self._ensure_browser()
        await self._evict()
        spares = self._spares.get(policy, [])
        while spares:
            spare = spares.pop()
            if spare.launch == self.launches:
                spare.id, spare.last_used = uuid.uuid4().hex[:12], time.monotonic()
                self._sessions[spare.id] = spare
                return spare
        proxy = GuardProxy(policy)
        server = await proxy.start()
        refusals: list[str] = []
        try:
            context = await browser.new_context(
                proxy={"server": server},
                service_workers="block",
                accept_downloads=False,
                viewport={"width": self.options.viewport[0], "height": self.options.viewport[1]},
            )
            if self.options.route_guard:
                await context.route("**/*", _route_guard(policy, refusals))
                await context.route_web_socket("**/*", _websocket_guard(policy, refusals))
            context.set_default_timeout(self.options.page_timeout_s * 1000)
            page = await context.new_page()
        except BaseException:
            await asyncio.shield(proxy.aclose())
            raise
        session = BrowserSession(
            id=uuid.uuid4().hex[:12],
            policy=policy,
            context=context,
            page=page,
            proxy=proxy,
            launch=self.launches,
            refusals=refusals,
        )
        session.track_requests()
        self._sessions[session.id] = session
        return session

    async def close_session(self, session: BrowserSession, *, recycle: bool = False) -> None:
        """Close a session, even if the caller is being cancelled.

        With `recycle`, a healthy session is emptied (blank page, no cookies) and
        kept as a spare: a new context costs about as much as reading a page.
        """
        self._sessions.pop(session.id, None)
        await asyncio.shield(self._close_or_keep(session, recycle))

    async def _close_or_keep(self, session: BrowserSession, recycle: bool) -> None:
        spares = self._spares.setdefault(session.policy, [])
        fresh = session.launch == self.launches and self._connected()
        if recycle and fresh and len(spares) < self.options.contexts:
            try:
                await session.page.goto("about:blank", timeout=5_000)
                await session.context.clear_cookies()
            except PlaywrightError:
                pass  # not reusable: close it below
            else:
                session.page_text, session.screenshots = None, 0
                session.refusals.clear()
                session.proxy.events.clear()
                session.inflight.clear()
                spares.append(session)
                return
        await _close_session(session)

    async def aclose(self) -> None:
        """Close every session, the browser and the Playwright driver."""
        spares = [s for group in self._spares.values() for s in group]
        self._spares.clear()
        sessions, self._sessions = [*self._sessions.values(), *spares], OrderedDict()
        for session in sessions:
            await _close_session(session)
        browser, self._browser = self._browser, None
        driver, self._playwright = self._playwright, None
        if browser is not None:
            with contextlib.suppress(PlaywrightError):
                await browser.close()
        if driver is not None:
            with contextlib.suppress(PlaywrightError, OSError):
                await driver.stop()

    def crashed(self) -> bool:
        """Whether a browser that was launched is gone (killed or crashed)."""
        return self.launches > 0 and not self._connected()

    def _connected(self) -> bool:
        return self._browser is not None and self._browser.is_connected()

    def _bind(self) -> tuple[asyncio.Lock, asyncio.Semaphore]:
        loop = asyncio.get_running_loop()
        if (
            self._loop is None
            or self._loop.is_closed()
            or self._lock is None
            or self._slots is None
        ):
            self._loop, self._lock = loop, asyncio.Lock()
            self._slots = asyncio.Semaphore(self.options.contexts)
        elif self._loop is not loop:
            raise RuntimeError("a BrowserPool is bound to one event loop; call it via io_loop()")
        return self._lock, self._slots

    async def _ensure_browser(self) -> Browser:
        lock, _ = self._bind()
        async with lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            executable = find_chromium(self.options.executable)
            stale = [*self._sessions.values(), *(s for g in self._spares.values() for s in g)]
            self._sessions.clear()
            self._spares.clear()
            for session in stale:
                await _close_session(session)
            try:
                self._browser = await self._launch(executable)
            except PlaywrightError:
                # The driver itself may be gone with the browser: start a fresh one.
                if self._playwright is not None:
                    with contextlib.suppress(PlaywrightError, OSError):
                        await self._playwright.stop()
                self._playwright = None
                self._browser = await self._launch(executable)
            self.launches += 1
            return self._browser

    async def _launch(self, executable: str) -> Browser:
        if self._playwright is None:
            self._playwright = await async_playwright().start()
        args = [*_FLAGS, *self.options.extra_args]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium's sandbox refuses to run as root
        return await self._playwright.chromium.launch(
            executable_path=executable, headless=True, args=args, timeout=60_000
        )

    async def _evict(self) -> None:
        now = time.monotonic()
        expired = [
            s
            for s in self._sessions.values()
            if now - s.last_used > self.options.session_ttl_s and not s.lock.locked()
        ]
        idle = [s for s in self._sessions.values() if not s.lock.locked() and s not in expired]
        excess = len(self._sessions) - len(expired) - self.options.max_sessions + 1
        for session in expired + idle[: max(0, excess)]:
            await self.close_session(session)


def _route_guard(policy: NetworkPolicy, refusals: list[str]) -> Callable[[Route], Awaitable[None]]:
    async def guard(route: Route) -> None:
        verdict = await check_url(route.request.url, policy)
        try:
            if verdict.allowed:
                await route.continue_()
            else:
                refusals.append(f"{route.request.url[:200]}: {verdict.message}")
                await route.abort("blockedbyclient")
        except PlaywrightError:
            pass  # the page or context closed while the check ran

    return guard


def _websocket_guard(
    policy: NetworkPolicy, refusals: list[str]
) -> Callable[[WebSocketRoute], Awaitable[None]]:
    async def guard(socket: WebSocketRoute) -> None:
        url = socket.url
        as_http = "http" + url[2:] if url.startswith(("ws:", "wss:")) else url
        verdict = await check_url(as_http, policy)
        try:
            if verdict.allowed:
                socket.connect_to_server()
            else:
                refusals.append(f"{url[:200]}: {verdict.message}")
                await socket.close(code=1008, reason="refused by Ponder's network guard")
        except PlaywrightError:
            pass

    return guard


async def _close_session(session: BrowserSession) -> None:
    with contextlib.suppress(PlaywrightError):
        await session.context.close()
    await session.proxy.aclose()


_POOLS: weakref.WeakSet[BrowserPool] = weakref.WeakSet()
_SHARED: BrowserPool | None = None


def shared_pool() -> BrowserPool:
    """The process-wide pool the tools use unless given their own."""
    global _SHARED
    if _SHARED is None:
        _SHARED = BrowserPool()
    return _SHARED


@atexit.register
def _close_pools_at_exit() -> None:
    """Best effort: no Chromium outlives the interpreter."""
    for pool in list(_POOLS):
        loop = pool._loop
        if pool._playwright is None or loop is None or loop.is_closed() or not loop.is_running():
            continue
        future = asyncio.run_coroutine_threadsafe(pool.aclose(), loop)
        with contextlib.suppress(Exception):  # exiting anyway: never block or raise here
            future.result(timeout=5)
