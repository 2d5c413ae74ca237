"""The local web: a folder served on loopback, searched through the corpus index, its
result URLs read by the real fetch_url (loopback opened with an explicit allow-host)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.app import app
from agent.settings import WebSearchSettings
from tools.corpus import Corpus, CorpusOptions
from tools.fetch import FetchTool
from tools.localweb import LocalSearchBackend, LocalWeb, serve_folder
from tools.netguard import NetworkPolicy
from tools.search import SearchOptions, WebSearch, WebSearchTool
from tools.toolbox import ToolboxOptions, build_toolbox

PAGES = {
    "lighthouse.html": (
        "Kerrow Point lighthouse",
        "The lighthouse at Kerrow Point was first lit on the fourth of March 1871. "
        "Its Fresnel lens was ground in Paris and shipped in eleven crates.",
    ),
    "guide/tides.html": (
        "Tide tables",
        "Spring tides in the bay rise four metres; neap tides barely two. "
        "The harbour master posts the tables each Monday.",
    ),
    "guide/boats.html": (
        "Fishing boats",
        "The bay's fishing fleet numbered forty boats in 1900 and six today. "
        "Most were built of larch on oak frames.",
    ),
}


def _write_site(root: Path) -> Path:
    for rel, (title, text) in PAGES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        filler = " ".join(["The coast guard keeps a record of every vessel."] * 6)
        path.write_text(
            f"<html><head><title>{title}</title></head><body><main><h1>{title}</h1>"
            f"<p>{text}</p><p>{filler}</p><p><a href='/lighthouse.html'>home</a></p>"
            "</main></body></html>",
            encoding="utf-8",
        )
    return root


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[LocalWeb, LocalSearchBackend]]:
    root = _write_site(tmp_path / "site")
    web = LocalWeb(root)
    corpus = Corpus(CorpusOptions(root=root, index_dir=tmp_path / "index"))
    yield web, LocalSearchBackend(corpus, web)
    corpus.close()
    web.close()


async def test_search_returns_page_urls_on_the_loopback_server(site) -> None:
    web, backend = site
    results = await backend.search("when was the lighthouse first lit", SearchOptions())
    assert results[0].url == f"http://127.0.0.1:{web.port}/lighthouse.html"
    assert results[0].title == "Kerrow Point lighthouse"
    assert "fourth of March 1871" in results[0].snippet
    assert len({r.url for r in results}) == len(results)  # one result per page


async def test_fetch_reads_a_result_only_with_the_explicit_allow_host(site) -> None:
    web, backend = site
    session = WebSearch(backend)
    obs = await WebSearchTool(session=session).observe(query="spring tides harbour master")
    assert obs.ok and obs.via == "local"
    url = obs.items("results")[0].url
    assert url == web.url("guide/tides.html")

    refused = await FetchTool().observe(url=url)  # the default policy: no loopback
    assert refused.error is not None and refused.error.kind == "refused"

    page = await FetchTool(policy=NetworkPolicy(allow_hosts=(web.host,))).observe(url=url)
    assert page.ok and page.fields["title"] == "Tide tables"
    assert "rise four metres" in page.documents[url]
    assert [link.url for link in page.items("links")] == [web.url("lighthouse.html")]


async def test_no_match_is_no_results(site) -> None:
    _, backend = site
    obs = await WebSearchTool(session=WebSearch(backend)).observe(query="zeppelin hangar")
    assert obs.error is not None and obs.error.kind == "no_results"


def test_the_port_is_stable_per_folder_and_one_server_serves_a_folder(tmp_path: Path) -> None:
    root = _write_site(tmp_path / "site")
    first = serve_folder(root)
    assert serve_folder(root) is first
    port = first.port
    first.close()
    again = LocalWeb(root)  # a new process would bind the same port: resumed URLs still work
    assert again.port == port
    again.close()


def test_toolbox_builds_local_search_and_says_what_to_allow(tmp_path: Path) -> None:
    root = _write_site(tmp_path / "site")
    local = WebSearchSettings(engines=("local",), local_web=str(root))
    box = build_toolbox(
        ToolboxOptions(index_dir=tmp_path / "i", code_sandbox="off", web_search=local)
    )
    search = next(t for t in box.tools if t.name == "web_search")
    assert isinstance(search, WebSearchTool) and search.session.backend.name == "local"
    web = serve_folder(root)
    assert box.notices == [
        f"the local web is at {web.base_url}; fetch_url reads it only with --allow-host {web.host}"
    ]
    allowed = ToolboxOptions(
        index_dir=tmp_path / "i", code_sandbox="off", web_search=local, allow_hosts=(web.host,)
    )
    assert build_toolbox(allowed).notices == []
    web.close()


def test_toolbox_chains_ddgs_then_searxng(tmp_path: Path) -> None:
    chain = WebSearchSettings(engines=("ddgs", "searxng"), searxng_url="http://127.0.0.1:9")
    box = build_toolbox(ToolboxOptions(index_dir=tmp_path, code_sandbox="off", web_search=chain))
    search = next(t for t in box.tools if t.name == "web_search")
    assert isinstance(search, WebSearchTool) and search.session.backend.name == "ddgs+searxng"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--search", "searxng"], "--search searxng needs --searxng-url URL"),
        (["--search", "ddgs,searxng"], "--search ddgs,searxng needs --searxng-url URL"),
        (["--search", "local"], "--search local needs --local-web DIR"),
        (["--search", "local", "--local-web", "/nonexistent"], "does not exist"),
        (["--search", "searxng", "--searxng-url", "localhost:8888"], "not an http(s) URL"),
    ],
)
def test_cli_names_the_missing_companion_flag(tmp_path: Path, args: list[str], says: str) -> None:
    result = CliRunner().invoke(
        app,
        ["run", "q", "--model", "demo", "--store", str(tmp_path / "s.db"), *args],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and says in lines[0]
