"""The loopback test site and one shared Chromium as session fixtures.

Other test modules use the fixtures by importing them::

    from tests.tools.site_server import browser_pool, site  # noqa: F401

The site itself, its pages and `chromium_missing` are `bench.site_server` (the reading
benchmark serves the site too).
`requires_chromium` skips, with the reason, where no Chromium exists.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent._internal.io_loop import io_loop
from bench.site_server import TEST_BROWSER, SiteServer, chromium_missing
from tools.browser import BrowserPool

__all__ = ["browser_pool", "requires_chromium", "site"]


@pytest.fixture(scope="session")
def site() -> Iterator[SiteServer]:
    """The loopback test site (and its canary) for the whole test session."""
    server = SiteServer()
    yield server
    server.stop()


requires_chromium = pytest.mark.skipif(
    chromium_missing() is not None, reason=f"no Chromium: {chromium_missing()}"
)


@pytest.fixture(scope="session")
def browser_pool() -> Iterator[BrowserPool]:
    """One Chromium for the session's browser tests, closed (no orphans) at the end."""
    pool = BrowserPool(TEST_BROWSER)
    yield pool
    io_loop().run(pool.aclose(), timeout=60)
