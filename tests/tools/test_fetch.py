"""fetch_url against the loopback test site: HTTP first, the guard on every hop."""

from __future__ import annotations

import pytest
from langchain_core.messages import ToolMessage

from agent.observation import Observation
from bench.local_server import free_port
from bench.site_server import HUGE_BYTES, SiteServer
from tests.tools.site_server import *  # noqa: F403  (the site and browser_pool fixtures)
from tests.tools.site_server import requires_chromium
from tools.browser import BrowserPool
from tools.fetch import FetchOptions, FetchTool, _Failure, decode_body
from tools.netguard import NetworkPolicy


def fetcher(site: SiteServer, **options: object) -> FetchTool:
    return FetchTool(policy=site.policy, options=FetchOptions(**options))  # type: ignore[arg-type]


async def test_article_reads_as_markdown_with_numbered_links(site: SiteServer) -> None:
    url = site.url("/article.html")
    obs = await fetcher(site).observe(url=url)
    assert obs.ok and obs.via == "http" and obs.untrusted
    assert obs.fields["title"] == "The Lighthouse at Kerrow Point"
    assert obs.fields["url"] == url
    assert "Margaret Abernethy, the last keeper" in obs.content
    assert "## Automation" in obs.content  # Markdown headings survive
    assert f"[2] Next story → {site.url('/second.html')}" in obs.content  # first label wins
    assert "→ https://example.org/lighthouses/kerrow" in obs.content
    assert site.url("/links.html") in obs.fields["links"].splitlines()
    links = obs.items("links")  # every link, typed, in page order: what a fan-out maps over
    assert (links[1].url, links[1].title) == (site.url("/second.html"), "Next story")
    assert "https://example.org/lighthouses/kerrow" in [link.url for link in links]
    assert "Fresnel lens" in obs.value


async def test_passages_are_exact_excerpts_of_the_stored_document(site: SiteServer) -> None:
    url = site.url("/article.html")
    obs = await fetcher(site).observe(url=url)
    document = obs.documents[url]
    assert len(obs.passages) >= 2
    for passage in obs.passages:
        assert passage.ref == url
        assert passage.start is not None and passage.end is not None
        assert document[passage.start : passage.end] == passage.text
        assert len(passage.text) <= 800
    assert any("ninety-three years" in p.text for p in obs.passages)


@pytest.mark.parametrize("how", ["header", "meta", "sniff"])
async def test_windows_1251_pages_are_decoded(site: SiteServer, how: str) -> None:
    obs = await fetcher(site).observe(url=site.url(f"/charset/{how}"))
    assert obs.ok
    assert "Маяк на мысе Керроу" in obs.value
    assert "Маргарет Абернети" in obs.value


def test_decode_body_prefers_bom_then_header_then_meta() -> None:
    text = "Маяк"
    assert decode_body(b"\xef\xbb\xbf" + text.encode(), "text/html; charset=cp1251", html=True) == (
        text
    )
    assert decode_body(text.encode("cp1251"), "text/html; charset=windows-1251", html=True) == text
    meta = b'<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">'
    assert text in decode_body(meta + text.encode("koi8-r"), "text/html", html=True)
    # Browsers read "iso-8859-1" as windows-1252, where 0x93/0x94 are curly quotes.
    assert decode_body(b"\x93hi\x94", "text/plain; charset=iso-8859-1", html=False) == "“hi”"


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/binary", "content-type application/octet-stream"),
        ("/image.png", "content-type image/png"),
        ("/download", "file download"),
    ],
)
async def test_binaries_and_downloads_are_refused(site: SiteServer, path: str, words: str) -> None:
    obs = await fetcher(site).observe(url=site.url(path))
    assert not obs.ok and obs.error is not None
    assert obs.error.kind == "refused"
    assert words in obs.error.message


async def test_oversized_page_is_truncated_without_reading_it_all(site: SiteServer) -> None:
    obs = await fetcher(site, max_bytes=1_000_000).observe(url=site.url("/huge"))
    assert obs.ok and obs.truncated
    assert "Kerrow tide table row." in obs.value
    assert site.done["huge"].wait(10)  # the server saw the reader hang up
    assert site.sent["huge"] < HUGE_BYTES // 2


async def test_declared_oversized_page_is_too_large(site: SiteServer) -> None:
    obs = await fetcher(site, max_bytes=1_000_000).observe(url=site.url("/huge-declared"))
    assert obs.error is not None and obs.error.kind == "too_large"


async def test_slow_page_times_out(site: SiteServer) -> None:
    obs = await fetcher(site, timeout_s=1).observe(url=site.url("/slow?s=20"), mode="http")
    assert obs.error is not None
    assert (obs.error.kind, obs.error.retryable) == ("timeout", True)


async def test_redirect_chain_is_followed(site: SiteServer) -> None:
    obs = await fetcher(site).observe(url=site.url("/redirect/3"))
    assert obs.ok
    assert obs.fields["url"] == site.url("/article.html")
    assert "Kerrow Point" in obs.fields["title"]


async def test_redirect_loop_stops(site: SiteServer) -> None:
    obs = await fetcher(site, max_redirects=3).observe(url=site.url("/redirect-loop"))
    assert obs.error is not None and "more than 3 redirects" in obs.error.message


@pytest.mark.parametrize("path", ["/to-canary", "/to-canary-hex", "/to-file"])
async def test_redirect_out_of_the_allowed_origin_is_refused(site: SiteServer, path: str) -> None:
    before = site.canary.hits
    obs = await fetcher(site).observe(url=site.url(path))
    assert obs.error is not None and obs.error.kind == "refused"
    assert obs.error.message.startswith("redirect to ")
    assert site.canary.hits == before


async def test_direct_private_address_is_refused_before_connecting(site: SiteServer) -> None:
    before = site.canary.hits
    obs = await fetcher(site).observe(url=site.canary.url + "/direct")
    assert obs.error is not None and obs.error.kind == "refused"
    assert "loopback" in obs.error.message
    assert site.canary.hits == before


async def test_connections_are_vetted_again_at_connect_time(site: SiteServer) -> None:
    # Past the URL check (as after a DNS rebinding), the transport still refuses.
    tool = fetcher(site)
    body = tool._download(site.canary.url + "/rebound")
    before = site.canary.hits
    with pytest.raises(_Failure, match="loopback") as caught:
        await body
    assert caught.value.kind == "refused"
    assert site.canary.hits == before


async def test_closed_port_is_offline() -> None:
    port = free_port()
    tool = FetchTool(policy=NetworkPolicy(allow_hosts=(f"127.0.0.1:{port}",)))
    obs = await tool.observe(url=f"http://127.0.0.1:{port}/")
    assert obs.error is not None
    assert (obs.error.kind, obs.error.retryable) == ("offline", True)


async def test_not_found_and_plain_text(site: SiteServer) -> None:
    missing = await fetcher(site).observe(url=site.url("/missing"))
    assert missing.error is not None and missing.error.kind == "not_found"
    text = await fetcher(site).observe(url=site.url("/text"))
    assert text.ok and text.value.startswith("Tide tables for Kerrow.")


async def test_character_cap_marks_truncation(site: SiteServer) -> None:
    obs = await fetcher(site, max_chars=300).observe(url=site.url("/article.html"))
    assert obs.truncated and len(obs.value) <= 300
    assert len(obs.documents[obs.fields["url"]]) > 300  # the stored document stays whole


async def test_bad_arguments_are_invalid_input() -> None:
    obs = await FetchTool().observe(url="http://example.com/", mode="telepathy")
    assert obs.error is not None and obs.error.kind == "invalid_input"
    obs = await FetchTool().observe(url="not a url")
    assert obs.error is not None and obs.error.kind == "invalid_input"


async def test_http_mode_leaves_a_javascript_shell_unrendered(site: SiteServer) -> None:
    obs = await fetcher(site).observe(url=site.url("/js_app.html"), mode="http")
    assert obs.via == "http"
    assert "Harbour Ledger" not in obs.content


@pytest.mark.browser
@requires_chromium
async def test_javascript_shell_escalates_to_the_browser(
    site: SiteServer, browser_pool: BrowserPool
) -> None:
    tool = FetchTool(policy=site.policy, browser=browser_pool)
    obs = await tool.observe(url=site.url("/js_app.html"))
    assert obs.ok and obs.via == "browser"
    assert "Marianne Lisle unloaded forty barrels" in obs.value
    assert obs.fields["title"] == "Harbour app"


@pytest.mark.browser
@requires_chromium
async def test_browser_mode_renders_an_ordinary_page(
    site: SiteServer, browser_pool: BrowserPool
) -> None:
    tool = FetchTool(policy=site.policy, browser=browser_pool)
    obs = await tool.observe(url=site.url("/article.html"), mode="browser")
    assert obs.ok and obs.via == "browser"
    assert "Margaret Abernethy" in obs.value


def test_sync_invoke_returns_fenced_text_and_the_observation(site: SiteServer) -> None:
    tool = fetcher(site)
    call = {
        "name": "fetch_url",
        "args": {"url": site.url("/second.html")},
        "id": "call-1",
        "type": "tool_call",
    }
    message = tool.invoke(call)
    assert isinstance(message, ToolMessage)
    assert isinstance(message.artifact, Observation)
    assert message.artifact.ok
    assert "<untrusted_data" in str(message.content)
    assert "Duncan Reid" in str(message.content)


async def test_aclose_closes_the_client_and_a_later_call_opens_a_new_one(
    site: SiteServer,
) -> None:
    tool = fetcher(site)
    assert (await tool.observe(url=site.url("/text"))).ok
    clients = list(tool._clients.values())
    await tool.aclose()
    assert clients and all(client.is_closed for client in clients)
    assert (await tool.observe(url=site.url("/text"))).ok
