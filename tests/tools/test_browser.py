"""The browser tool driving real Chromium against the loopback test site."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

from agent._internal.io_loop import io_loop
from bench.site_server import TEST_BROWSER, SiteServer
from tests.tools.site_server import *  # noqa: F403  (the site and browser_pool fixtures)
from tests.tools.site_server import requires_chromium
from tools.browser import BrowserPool, BrowserTool

pytestmark = [pytest.mark.browser, requires_chromium]


@pytest.fixture
def tool(site: SiteServer, browser_pool: BrowserPool) -> BrowserTool:
    return BrowserTool(policy=site.policy, pool=browser_pool)


def marked_pool(marker: str, **options: object) -> BrowserPool:
    """A pool of its own whose Chromium processes can be told apart by a flag."""
    settings = TEST_BROWSER.model_copy(
        update={"extra_args": (f"--ponder-test={marker}",), **options}
    )
    return BrowserPool(settings)


def chromium_processes(marker: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = process.info["cmdline"] or []
        if process.info["status"] != psutil.STATUS_ZOMBIE and f"--ponder-test={marker}" in cmdline:
            found.append(process)
    return found


def wait_until_gone(marker: str, seconds: float = 15.0) -> list[psutil.Process]:
    deadline = time.monotonic() + seconds
    while (left := chromium_processes(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


async def test_open_reads_a_static_article(tool: BrowserTool, site: SiteServer) -> None:
    obs = await tool.observe(action="open", url=site.url("/article.html"))
    assert obs.ok and obs.via == "browser" and obs.untrusted
    assert obs.fields["title"] == "The Lighthouse at Kerrow Point"
    assert obs.fields["session"]
    assert "Margaret Abernethy, the last keeper" in obs.value
    assert f"→ {site.url('/second.html')}" in obs.content
    document = obs.documents[obs.fields["url"]]
    assert all(document[p.start : p.end] == p.text for p in obs.passages)  # type: ignore[misc]


async def test_open_waits_for_javascript_rendered_content(
    tool: BrowserTool, site: SiteServer
) -> None:
    obs = await tool.observe(action="open", url=site.url("/js_app.html"))
    assert obs.ok
    assert "Marianne Lisle unloaded forty barrels of lamp oil" in obs.value
    assert "Rendered by JavaScript" in obs.value


async def test_follow_numbered_links_within_a_session(tool: BrowserTool, site: SiteServer) -> None:
    index = await tool.observe(action="open", url=site.url("/links.html"))
    session = index.fields["session"]
    assert "[2] The museum" in index.content
    museum = await tool.observe(action="follow", session=session, link=2)
    assert museum.ok and museum.fields["title"] == "The Kerrow Museum"
    assert museum.fields["session"] == session
    back = await tool.observe(action="follow", session=session, link=1)  # "Back to the lighthouse"
    assert back.ok and back.fields["url"] == site.url("/article.html")


async def test_follow_through_a_redirect_chain(tool: BrowserTool, site: SiteServer) -> None:
    index = await tool.observe(action="open", url=site.url("/links.html"))
    obs = await tool.observe(action="follow", session=index.fields["session"], link=3)
    assert obs.ok and obs.fields["url"] == site.url("/article.html")


async def test_follow_rejects_an_unlisted_number(tool: BrowserTool, site: SiteServer) -> None:
    index = await tool.observe(action="open", url=site.url("/links.html"))
    obs = await tool.observe(action="follow", session=index.fields["session"], link=99)
    assert obs.error is not None and obs.error.kind == "invalid_input"
    assert "1..3" in obs.error.message


async def test_find_returns_matches_in_context(tool: BrowserTool, site: SiteServer) -> None:
    page = await tool.observe(action="open", url=site.url("/article.html"))
    session = page.fields["session"]
    obs = await tool.observe(action="find", session=session, text="fresnel   LENS")
    assert obs.ok and obs.fields["matches"] == "1"
    passage = obs.passages[0]
    assert "original Fresnel lens, ground in Paris" in passage.text
    assert obs.documents[passage.ref][passage.start : passage.end] == passage.text
    missing = await tool.observe(action="find", session=session, text="submarine")
    assert missing.error is not None and missing.error.kind == "no_results"


async def test_screenshot_is_a_png_file(
    site: SiteServer, browser_pool: BrowserPool, tmp_path: Path
) -> None:
    pool = browser_pool
    page = await BrowserTool(policy=site.policy, pool=pool).observe(
        action="open", url=site.url("/article.html")
    )
    session = pool.session(page.fields["session"])
    assert session is not None
    obs = await BrowserTool(policy=site.policy, pool=pool).observe(
        action="screenshot", session=page.fields["session"]
    )
    path = Path(obs.fields["path"])
    assert obs.ok and path.is_file()
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    path.unlink()


async def test_snapshot_is_the_accessibility_tree(tool: BrowserTool, site: SiteServer) -> None:
    page = await tool.observe(action="open", url=site.url("/article.html"))
    obs = await tool.observe(action="snapshot", session=page.fields["session"])
    assert obs.ok and obs.untrusted
    assert 'heading "The Lighthouse at Kerrow Point" [level=1]' in obs.value
    assert "[ref=" in obs.value  # the AI mode gives element references


async def test_slow_page_times_out(site: SiteServer) -> None:
    pool = marked_pool("slow", page_timeout_s=2)
    try:
        tool = BrowserTool(policy=site.policy, pool=pool)
        obs = await tool.observe(action="open", url=site.url("/slow?s=30"))
        assert obs.error is not None
        assert (obs.error.kind, obs.error.retryable) == ("timeout", True)
    finally:
        await io_loop().arun(pool.aclose())


async def test_oversized_pages(tool: BrowserTool, site: SiteServer) -> None:
    declared = await tool.observe(action="open", url=site.url("/huge-declared"))
    assert declared.error is not None and declared.error.kind == "too_large"
    streamed = await tool.observe(action="open", url=site.url("/huge"))
    assert streamed.ok and streamed.truncated  # cut at max_bytes in the page, then at max_chars
    assert len(streamed.value) <= TEST_BROWSER.max_chars
    assert len(streamed.documents[streamed.fields["url"]]) <= TEST_BROWSER.max_bytes


@pytest.mark.parametrize(
    ("path", "kind", "words"),
    [
        ("/to-canary", "refused", "loopback"),
        ("/download", "refused", "download"),
        ("/image.png", "refused", "content-type image/png"),
        ("/missing", "not_found", "404"),
    ],
)
async def test_pages_it_will_not_read(
    tool: BrowserTool, site: SiteServer, path: str, kind: str, words: str
) -> None:
    before = site.canary.hits
    obs = await tool.observe(action="open", url=site.url(path))
    assert obs.error is not None and obs.error.kind == kind
    assert words in obs.error.message
    assert site.canary.hits == before


async def test_download_leaves_no_file(tool: BrowserTool, site: SiteServer, tmp_path: Path) -> None:
    cwd = Path.cwd()
    before = {p.name for p in cwd.iterdir()}
    obs = await tool.observe(action="open", url=site.url("/download"))
    assert obs.error is not None and obs.error.kind == "refused"
    assert {p.name for p in cwd.iterdir()} == before
    assert "root:x:0:0" not in obs.content


async def test_sessions_need_an_id_from_open(tool: BrowserTool) -> None:
    obs = await tool.observe(action="find", session="nope", text="x")
    assert obs.error is not None and obs.error.kind == "invalid_input"
    obs = await tool.observe(action="open")
    assert obs.error is not None and obs.error.kind == "invalid_input"
    obs = await tool.observe(action="dance")
    assert obs.error is not None and obs.error.kind == "invalid_input"


async def test_close_and_least_recently_used_eviction(site: SiteServer) -> None:
    pool = marked_pool("lru", max_sessions=2)
    tool = BrowserTool(policy=site.policy, pool=pool)
    try:
        first = (await tool.observe(action="open", url=site.url("/article.html"))).fields
        second = (await tool.observe(action="open", url=site.url("/second.html"))).fields
        third = (await tool.observe(action="open", url=site.url("/links.html"))).fields
        gone = await tool.observe(action="find", session=first["session"], text="Kerrow")
        assert gone.error is not None and gone.error.kind == "invalid_input"
        assert (await tool.observe(action="find", session=third["session"], text="museum")).ok
        closed = await tool.observe(action="close", session=second["session"])
        assert closed.ok
        after = await tool.observe(action="find", session=second["session"], text="Kerrow")
        assert after.error is not None
    finally:
        await io_loop().arun(pool.aclose())


async def test_parallel_opens_share_one_browser(tool: BrowserTool, site: SiteServer) -> None:
    assert tool.pool is not None
    launches = tool.pool.launches
    paths = ["/article.html", "/second.html", "/links.html", "/js_app.html"] * 2
    results = await asyncio.gather(
        *(tool.observe(action="open", url=site.url(path)) for path in paths)
    )
    assert all(obs.ok for obs in results), [obs.error for obs in results]
    assert "Marianne Lisle" in results[3].value and "Marianne Lisle" in results[7].value
    assert len({obs.fields["session"] for obs in results}) == len(paths)
    assert tool.pool.launches == max(launches, 1)  # no second browser process


async def test_killed_chromium_is_relaunched(site: SiteServer) -> None:
    marker = uuid.uuid4().hex[:8]
    pool = marked_pool(marker, page_timeout_s=30)
    tool = BrowserTool(policy=site.policy, pool=pool)
    try:
        assert (await tool.observe(action="open", url=site.url("/article.html"))).ok
        slow = asyncio.ensure_future(
            tool.observe(action="open", url=site.url(f"/slow?s=20&k={marker}"))
        )
        while not any(marker in r for r in site.requests):  # the page is loading now
            await asyncio.sleep(0.05)
        for process in chromium_processes(marker):
            os.kill(process.pid, signal.SIGKILL)
        failed = await slow
        assert failed.error is not None
        assert (failed.error.kind, failed.error.retryable) == ("unavailable", True)
        again = await tool.observe(action="open", url=site.url("/second.html"))
        assert again.ok, again.error
        assert pool.launches == 2
    finally:
        await io_loop().arun(pool.aclose())
    assert wait_until_gone(marker) == []


async def test_aclose_leaves_no_chromium_behind(site: SiteServer) -> None:
    marker = uuid.uuid4().hex[:8]
    pool = marked_pool(marker)
    tool = BrowserTool(policy=site.policy, pool=pool)
    assert (await tool.observe(action="open", url=site.url("/article.html"))).ok
    assert chromium_processes(marker)
    await tool.aclose()
    assert wait_until_gone(marker) == []


_EXIT_SCRIPT = """
import sys
from tools.browser import BrowserOptions, BrowserPool, BrowserTool
from tools.netguard import NetworkPolicy

url, host, marker = sys.argv[1:4]
pool = BrowserPool(BrowserOptions(extra_args=(f"--ponder-test={marker}",)))
tool = BrowserTool(policy=NetworkPolicy(allow_hosts=(host,)), pool=pool)
print(tool.invoke({"action": "open", "url": url})[:300])
"""


def test_interpreter_exit_closes_the_browser(site: SiteServer) -> None:
    marker = uuid.uuid4().hex[:8]
    host = f"127.0.0.1:{site.port}"
    done = subprocess.run(
        [sys.executable, "-c", _EXIT_SCRIPT, site.url("/article.html"), host, marker],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert "Lighthouse at Kerrow Point" in done.stdout  # it really opened the page
    assert wait_until_gone(marker) == []
