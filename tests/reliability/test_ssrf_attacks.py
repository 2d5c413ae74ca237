"""Every SSRF form, direct and indirect, against fetch and the real browser.

Direct forms must be refused before any connection; indirect ones (pages on
the allowed site that redirect, refresh, script or embed their way to the
canary) must leave the canary listener with zero connections.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent._internal.io_loop import io_loop
from bench.site_server import TEST_BROWSER, SiteServer, chromium_missing
from tests.reliability.ssrf_suite import ATTACKS, TOOLS, attempt, run_ssrf_suite
from tests.tools.site_server import *  # noqa: F403  (the site and browser_pool fixtures)
from tools.browser import BrowserPool

CASES = [
    pytest.param(
        category,
        target,
        tool,
        id=f"{tool}-{category}-{n}",
        marks=[pytest.mark.browser] if tool == "browser" or target.startswith("page:") else [],
    )
    for n, (category, target) in enumerate(ATTACKS)
    for tool in TOOLS
]


@pytest.fixture(scope="module", autouse=True)
def canary_untouched(site: SiteServer) -> Iterator[None]:
    """Late requests (a timer in a page) would show up here, after the attack's own check."""
    before = site.canary.hits
    yield
    assert site.canary.hits == before, f"canary saw {site.canary.paths}"


@pytest.mark.parametrize(("category", "target", "tool"), CASES)
async def test_attack_is_blocked(
    category: str, target: str, tool: str, site: SiteServer, browser_pool: BrowserPool
) -> None:
    needs_browser = tool == "browser" or target.startswith("page:")
    if needs_browser and chromium_missing() is not None:
        pytest.skip(f"no Chromium: {chromium_missing()}")
    outcome = await attempt(category, target, tool, site, browser_pool)  # type: ignore[arg-type]
    assert outcome.canary_hits == 0, outcome.detail
    assert outcome.blocked, outcome.detail
    if not target.startswith("page:"):
        assert outcome.detail.startswith(("refused:", "redirect to")), outcome.detail


@pytest.fixture(scope="module")
def proxy_only_pool() -> Iterator[BrowserPool]:
    """A browser whose contexts have no route handler: the guard proxy alone."""
    pool = BrowserPool(TEST_BROWSER.model_copy(update={"route_guard": False}))
    yield pool
    io_loop().run(pool.aclose(), timeout=60)


@pytest.mark.browser
@pytest.mark.parametrize(
    ("category", "target"),
    [
        pytest.param(c, t, id=f"{c}-{n}")
        for n, (c, t) in enumerate(ATTACKS)
        if t.startswith("page:")
    ],
)
async def test_guard_proxy_alone_blocks_indirect_attacks(
    category: str, target: str, site: SiteServer, proxy_only_pool: BrowserPool
) -> None:
    if chromium_missing() is not None:
        pytest.skip(f"no Chromium: {chromium_missing()}")
    outcome = await attempt(category, target, "browser", site, proxy_only_pool)
    assert outcome.canary_hits == 0 and outcome.blocked, outcome.detail


def test_attack_list_covers_every_required_form() -> None:
    categories = {category for category, _ in ATTACKS}
    required = {
        "scheme", "loopback", "loopback-name", "ipv6", "ipv6-mapped", "ipv6-nat64", "decimal",
        "hex", "octal", "short", "percent-encoded", "userinfo", "trailing-dot", "unspecified",
        "private", "cgnat", "link-local", "metadata", "multicast", "broadcast", "redirect",
        "meta-refresh", "js-location", "iframe", "page-fetch", "img", "websocket",
    }  # fmt: skip
    assert required <= categories


_SAMPLE = [ATTACKS[0], ATTACKS[12], ("redirect", "page:/to-canary")]


def test_run_ssrf_suite_counts_tried_refused_and_hits_with_fetch() -> None:
    report = run_ssrf_suite(_SAMPLE, tools=("fetch",))
    assert report["tried"] == len(_SAMPLE)
    assert report["refused"] == report["tried"]
    assert report["canary_hits"] == 0
    assert report["failures"] == []


@pytest.mark.browser
def test_run_ssrf_suite_counts_tried_refused_and_hits_with_both_tools() -> None:
    """The same sample through fetch and Chromium; without Chromium this skips by name."""
    if chromium_missing() is not None:
        pytest.skip(f"no Chromium: {chromium_missing()}")
    report = run_ssrf_suite(_SAMPLE, tools=("fetch", "browser"))
    assert report["tried"] == len(_SAMPLE) * 2
    assert report["refused"] == report["tried"]
    assert report["canary_hits"] == 0
    assert report["failures"] == []
