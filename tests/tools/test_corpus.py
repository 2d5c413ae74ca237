"""corpus_search and read_document over real SQLite FTS5 indexes in temporary folders."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import ToolMessage

from agent.errors import CorpusError
from agent.observation import Observation, normalize_text
from tools._chunking import chunk_document
from tools._corpus_parse import parse_document, parse_html, parse_markdown, parse_text
from tools._corpus_query import match_expression
from tools.corpus import Corpus, CorpusOptions, CorpusSearchTool, ReadDocumentTool, corpus_tools

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "corpus"
PYDOCS = Path("/usr/share/doc/python3.11/html")
DEMO_QUERY = "How does asyncio.gather handle exceptions, and how does TaskGroup differ?"


@pytest.fixture
def examples(tmp_path: Path) -> Corpus:
    corpus = Corpus(CorpusOptions(root=EXAMPLES, index_dir=tmp_path / "index"))
    yield corpus
    corpus.close()


def make_corpus(root: Path, index_dir: Path, **kw: object) -> Corpus:
    return Corpus(CorpusOptions(root=root, index_dir=index_dir, rescan_s=0.0, **kw))


def assert_exact_passages(obs: Observation) -> None:
    """Each passage is the exact span [start:end) of its ref's stored document."""
    assert obs.passages
    for p in obs.passages:
        assert p.start is not None and p.end is not None
        assert obs.documents[p.ref][p.start : p.end] == p.text
        assert normalize_text(p.text) in normalize_text(obs.source_text(p.ref))


# --- parsing and chunking ------------------------------------------------------------------


def test_markdown_headings_become_sections_with_github_anchors():
    text = (
        "---\ntitle: Front Title\n---\nintro text\n\n"
        "# Tasks and `gather`\n\nbody one\n\n"
        "```python\n# not a heading\nx = 1\n\n\ny = 2\n```\n\n"
        "## Tasks and `gather`\n\nagain\n\n"
        "Setext Title\n------------\n\nunder setext\n\n"
        "### Custom {#my-id}\n\ntext\n"
    )
    doc = parse_markdown(text, "fallback")
    assert doc.title == "Front Title"
    assert [(s.level, s.heading, s.anchor) for s in doc.sections] == [
        (0, "", ""),
        (1, "Tasks and gather", "tasks-and-gather"),
        (2, "Tasks and gather", "tasks-and-gather-1"),
        (2, "Setext Title", "setext-title"),
        (3, "Custom", "my-id"),
    ]
    fence = text.index("```python")
    # The fenced block, blank lines and all, is one paragraph.
    assert any(a == fence and text[a:b].endswith("```") for a, b in doc.blocks)


def test_rst_style_text_titles_become_sections():
    text = (
        "Exception groups\n================\n\nIntro.\n\n"
        "The except* clause\n------------------\n\nBody.\n"
    )
    doc = parse_text(text, "fallback")
    assert doc.title == "Exception groups"
    assert [(s.level, s.anchor) for s in doc.sections] == [
        (1, "exception-groups"),
        (2, "the-except-clause"),
    ]


SPHINX_PAGE = b"""<html><head><title>Coroutines and Tasks &#8212; Python docs</title>
<script>var tracking = 'SCRIPTTEXT';</script></head><body>
<div class="related" role="navigation"><h3>Navigation</h3><a href="x.html">RELATEDNAV</a></div>
<div class="document"><div class="body" role="main">
<section id="coroutines-and-tasks">
<h1>Coroutines and Tasks<a class="headerlink" href="#c">\xc2\xb6</a></h1>
<p>This section outlines high-level asyncio APIs.</p>
<nav class="contents local"><ul><li><a href="#g">LOCALTOC</a></li></ul></nav>
<section id="running-tasks-concurrently">
<h2>Running Tasks Concurrently<a class="headerlink" href="#r">\xc2\xb6</a></h2>
<dl class="py function"><dt class="sig sig-object py" id="asyncio.gather">
<em>awaitable</em> asyncio.<span>gather</span>(*aws, return_exceptions=False)<a
 class="headerlink" href="#asyncio.gather">\xc2\xb6</a></dt>
<dd><p>Run awaitable objects in the <em>aws</em> sequence concurrently.</p>
<div class="highlight"><pre>results = await asyncio.gather(

    a(), b())</pre></div>
<table><tr><th>Arg</th><th>Meaning</th></tr><tr><td>aws</td><td>awaitables</td></tr></table>
</dd></dl></section></section></div></div>
<div class="sphinxsidebar" role="navigation"><h3>This Page</h3><p>SIDEBARTEXT</p></div>
<div class="footer">FOOTERTEXT</div></body></html>"""


def test_html_keeps_main_content_and_drops_chrome():
    doc = parse_html(SPHINX_PAGE, "fallback")
    for chrome in ("SCRIPTTEXT", "RELATEDNAV", "LOCALTOC", "SIDEBARTEXT", "FOOTERTEXT", "¶"):
        assert chrome not in doc.text
    assert doc.title == "Coroutines and Tasks"
    assert [(s.level, s.anchor) for s in doc.sections] == [
        (1, "coroutines-and-tasks"),
        (2, "running-tasks-concurrently"),
        (3, "asyncio.gather"),
    ]
    assert "### awaitable asyncio.gather(*aws, return_exceptions=False)" in doc.text
    assert "results = await asyncio.gather(\n\n    a(), b())" in doc.text  # <pre> kept verbatim
    assert "Arg | Meaning" in doc.text and "aws | awaitables" in doc.text
    assert all(doc.text[a:b].strip() == doc.text[a:b] for a, b in doc.blocks)


def test_html_without_main_element_uses_main_text_extraction():
    body = " ".join(
        f"Sentence {i} explains how the event loop schedules callbacks." for i in range(12)
    )
    page = (
        "<html><head><title>Loop notes</title></head><body>"
        "<div class='menu'><a href='/a'>Home</a> <a href='/b'>Blog</a> <a href='/c'>About</a></div>"
        f"<div class='content'><h1>Loop notes</h1><p>{body}</p>"
        f"<h2>Second part</h2><p>{body}</p></div>"
        "<footer>Copyright FOOTERTEXT</footer></body></html>"
    ).encode()
    doc = parse_html(page, "fallback")
    assert "Sentence 11 explains" in doc.text
    assert "FOOTERTEXT" not in doc.text
    assert "Second part" in [s.heading for s in doc.sections]


def test_link_list_page_is_readable_but_not_searchable():
    links = "".join(f"<li><a href='p{i}.html'>Page number {i}</a></li>" for i in range(40))
    doc = parse_html(
        f"<html><body><main><h1>Index</h1><ul>{links}</ul></main></body></html>".encode(), "x"
    )
    assert "Page number 39" in doc.text
    assert chunk_document(doc) == []


MARKDOWNISH = st.lists(
    st.one_of(
        st.text(alphabet="abc xyz.\n", min_size=1, max_size=400),
        st.sampled_from(["# Title", "## Sub", "### Deeper", "```", "~~~", "Head\n----", "\n\n\n"]),
        st.text(alphabet="word ", min_size=1500, max_size=3000),
    ),
    max_size=30,
).map("\n\n".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MARKDOWNISH, st.sampled_from(["md", "txt"]))
def test_chunks_are_exact_ordered_bounded_spans(text, kind):
    doc = parse_markdown(text, "t") if kind == "md" else parse_text(text, "t")
    chunks = chunk_document(doc, min_chars=100, max_chars=400)
    previous_end = 0
    for chunk in chunks:
        piece = doc.text[chunk.start : chunk.end]
        assert piece and piece == piece.strip()
        assert chunk.start >= previous_end  # in order, never overlapping
        assert len(piece) <= 500  # max_chars plus the allowance for a joined short tail
        assert doc.sections[chunk.section].start <= chunk.start < doc.sections[chunk.section].end
        previous_end = chunk.end


def test_every_example_chunk_is_an_exact_substring_of_its_file():
    for path in EXAMPLES.iterdir():
        doc = parse_document(path.name, path.read_bytes())
        chunks = chunk_document(doc)
        assert chunks, path
        for c in chunks:
            assert doc.text[c.start : c.end] in doc.text
            assert len(doc.text[c.start : c.end]) <= 1500
        if path.suffix == ".md":
            assert doc.text == path.read_text()


# --- query sanitizing ------------------------------------------------------------------------


def test_match_expression_quotes_words_and_keeps_identifiers_as_phrases():
    assert match_expression("How does asyncio.gather handle return_exceptions?") == (
        '"asyncio gather" OR "asyncio" OR "gather" OR "handle" OR "return exceptions" OR '
        '"return" OR "exceptions"'
    )
    assert match_expression("the of and what is") is None
    assert match_expression('"; DROP TABLE files; --') == '"drop" OR "table" OR "files"'


@pytest.mark.parametrize(
    "query",
    [
        '"unbalanced',
        "NEAR(a b",
        "gather AND OR NOT",
        "col:umn ^start *",
        "task)(group",
        "über naïve",
    ],
)
async def test_fts_syntax_in_user_text_is_never_an_error(examples, query):
    obs = await examples.search(query)
    assert obs.ok or (obs.error is not None and obs.error.kind == "no_results")


@pytest.mark.parametrize("query", ["", "   ", "how is the and of", "?!"])
async def test_empty_or_stopword_queries_are_invalid_input(examples, query):
    obs = await CorpusSearchTool(corpus=examples).observe(query=query)
    assert not obs.ok and obs.error.kind == "invalid_input"


# --- corpus_search on the bundled example corpus -----------------------------------------------


async def test_demo_query_finds_gather_exceptions_and_the_taskgroup_comparison(examples):
    obs = await examples.search(DEMO_QUERY, k=5)
    refs = [p.ref for p in obs.passages]
    assert refs[0] == "tasks-and-gather.md#how-gather-handles-exceptions"
    assert {
        "tasks-and-gather.md#gather-compared-with-taskgroup",
        "taskgroup.md#taskgroup-versus-gather",
    } & set(refs[:4])
    assert "return_exceptions=True" in obs.passages[0].text
    assert obs.untrusted and obs.via == "fts5"
    assert obs.value == obs.passages[0].text
    assert obs.fields["path"] == "tasks-and-gather.md"
    assert obs.fields["paths"].split("\n")[0] == "tasks-and-gather.md"
    assert [r.url for r in obs.items("results")] == [p.ref for p in obs.passages]
    assert (
        obs.content.count("\n[") >= 4
        and "[1] tasks-and-gather.md#how-gather-handles-exceptions" in obs.content
    )
    assert obs.passages[0].title == (
        "Tasks, gather, wait and as_completed › Running awaitables concurrently with gather"
        " › How gather handles exceptions"
    )
    assert_exact_passages(obs)


async def test_html_chrome_is_not_searchable_but_its_content_is(examples):
    chrome = await examples.search("copyright footer sidebar")
    assert chrome.error is not None and chrome.error.kind == "no_results"
    content = await examples.search("picklable lambdas ProcessPoolExecutor spawn")
    assert content.passages[0].ref == "threads-processes-asyncio.html#processes"
    assert_exact_passages(content)


async def test_k_limits_passages_and_one_document_gives_at_most_two(examples):
    obs = await examples.search("asyncio task cancel exception timeout", k=3)
    assert len(obs.passages) == 3
    per_doc = [p.ref.split("#")[0] for p in (await examples.search("asyncio task", k=10)).passages]
    assert max(per_doc.count(p) for p in per_doc) <= 2


def test_tools_share_one_index_and_work_through_langchain(tmp_path):
    tools = corpus_tools(CorpusOptions(root=EXAMPLES, index_dir=tmp_path))
    search, read = tools
    assert (search.name, read.name) == ("corpus_search", "read_document")
    assert search.corpus is read.corpus
    msg = search.invoke(
        {
            "name": "corpus_search",
            "args": {"query": "GIL switch interval"},
            "id": "1",
            "type": "tool_call",
        }
    )
    assert isinstance(msg, ToolMessage) and msg.artifact.passages[0].ref.startswith("gil.md#")
    assert "<untrusted_data" in msg.content
    path, _, anchor = msg.artifact.passages[0].ref.partition("#")
    args = {"path": path, "section": anchor}
    msg = read.invoke({"name": "read_document", "args": args, "id": "2", "type": "tool_call"})
    assert msg.artifact.ok and "getswitchinterval" in msg.artifact.value
    assert list(tmp_path.glob("corpus-*.sqlite"))


def test_small_corpus_lists_its_documents_in_the_read_schema(tmp_path):
    """A planner (or a grammar) sees the real paths, so it cannot name a missing file."""
    from agent.toolset import Toolset

    toolset = Toolset(corpus_tools(CorpusOptions(root=EXAMPLES, index_dir=tmp_path)))
    listed = toolset.parameters("read_document")["properties"]["path"]["enum"]
    assert "gil.md" in listed and "threads-processes-asyncio.html" in listed
    assert "gil.md" in toolset.describe()
    assert "invalid at path" in toolset.validate_input("read_document", {"path": "nope.md"})
    assert toolset.validate_input("read_document", {"path": "gil.md"}) is None


# --- read_document ------------------------------------------------------------------------------


async def test_read_whole_document_returns_full_text_and_paragraph_passages(examples):
    obs = await examples.read("timeouts.md")
    text = (EXAMPLES / "timeouts.md").read_text()
    assert obs.ok and obs.value == text and obs.documents == {"timeouts.md": text}
    assert obs.fields["title"] == "Timeouts"
    assert not obs.truncated
    assert len(obs.passages) > 10
    assert_exact_passages(obs)


@pytest.mark.parametrize(
    ("path", "section"),
    [
        ("timeouts.md", "asynciowait_for"),
        ("timeouts.md", "asyncio.wait_for"),  # the heading text works as well as the anchor
        ("timeouts.md#asynciowait_for", None),
        ("./timeouts.md", "#asynciowait_for"),
    ],
)
async def test_read_one_section_by_anchor_or_heading(examples, path, section):
    obs = await examples.read(path, section)
    assert obs.ok, obs.content
    assert obs.passages[0].ref == "timeouts.md#asynciowait_for"
    assert obs.value.startswith("## asyncio.wait_for") and "## asyncio.wait with" not in obs.value
    assert_exact_passages(obs)


async def test_section_includes_its_subsections(examples):
    obs = await examples.read("tasks-and-gather.md", "running-awaitables-concurrently-with-gather")
    assert (
        "### How gather handles exceptions" in obs.value
        and "### gather and cancellation" in obs.value
    )
    assert "## gather compared with TaskGroup" not in obs.value


async def test_unknown_section_lists_the_real_ones(examples):
    obs = await examples.read("timeouts.md", "nope")
    assert obs.error.kind == "not_found" and "asynciotimeout-python-311" in obs.error.message


@pytest.mark.parametrize(
    "path", ["../README.md", "/etc/passwd", "a/../../x.md", "~/notes.md", "..\\x.md"]
)
async def test_paths_leaving_the_corpus_are_refused(examples, path):
    obs = await ReadDocumentTool(corpus=examples).observe(path=path)
    assert obs.error.kind == "refused"


async def test_missing_and_unindexed_files_are_not_found(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "image.png").write_bytes(b"\x89PNG")
    corpus = make_corpus(tmp_path / "docs", tmp_path / "idx")
    for path in ("missing.md", "image.png"):
        obs = await corpus.read(path)
        assert obs.error.kind == "not_found", path


async def test_symlink_to_a_file_outside_is_refused_and_never_indexed(tmp_path):
    root, secret = tmp_path / "docs", tmp_path / "secret.md"
    root.mkdir()
    secret.write_text("# Secret\n\nThe password is swordfish.\n")
    (root / "inside.md").write_text("# Inside\n\nA normal note about swordfish tacos.\n")
    (root / "leak.md").symlink_to(secret)
    (root / "alias.md").symlink_to(root / "inside.md")  # a link that stays inside is fine
    corpus = make_corpus(root, tmp_path / "idx")
    assert (await corpus.read("leak.md")).error.kind == "refused"
    assert (await corpus.read("alias.md")).ok
    hits = await corpus.search("password swordfish")
    assert all("password" not in p.text for p in hits.passages)


# --- construction errors --------------------------------------------------------------------


def test_missing_corpus_folder_raises_corpus_error_naming_it(tmp_path):
    with pytest.raises(CorpusError, match=str(tmp_path / "nowhere")):
        corpus_tools(CorpusOptions(root=tmp_path / "nowhere", index_dir=tmp_path / "i"))
    (tmp_path / "file.md").write_text("x")
    with pytest.raises(CorpusError, match="not a folder"):
        Corpus(CorpusOptions(root=tmp_path / "file.md", index_dir=tmp_path / "i"))


def test_unreadable_corpus_folder_raises_corpus_error(tmp_path, monkeypatch):
    # Root reads any folder whatever its mode, so the refusal is simulated at scandir.
    def denied(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(os, "scandir", denied)
    with pytest.raises(CorpusError, match="not readable"):
        Corpus(CorpusOptions(root=tmp_path, index_dir=tmp_path / "i"))


def test_options_reject_inconsistent_chunk_sizes(tmp_path):
    with pytest.raises(ValueError, match="max_chunk_chars"):
        CorpusOptions(root=tmp_path, index_dir=tmp_path, min_chunk_chars=800, max_chunk_chars=1000)


# --- incremental indexing and concurrency -------------------------------------------------------


@pytest.fixture
def small_root(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "alpha.md").write_text("# Alpha\n\nApples grow on trees in orchards.\n")
    (root / "sub" / "beta.txt").write_text("Beta\n====\n\nBananas ripen in warm rooms.\n")
    (root / "gamma.html").write_text(
        "<html><body><main><h1>Gamma</h1><p>Grapes become wine.</p></main></body></html>"
    )
    (root / ".hidden.md").write_text("# Hidden\n\nHidden cherries.\n")
    return root


async def test_only_changed_files_are_reindexed_and_removed_ones_dropped(small_root, tmp_path):
    corpus = make_corpus(small_root, tmp_path / "idx")
    first = corpus.refresh()
    assert (first.added, first.updated, first.removed) == (3, 0, 0)  # the dotfile is excluded
    assert corpus.index.count()[0] == 3

    (small_root / "alpha.md").write_text("# Alpha\n\nApricots replaced the apples.\n")
    (small_root / "delta.md").write_text("# Delta\n\nDates are sweet.\n")
    (small_root / "sub" / "beta.txt").unlink()
    report = corpus.refresh()
    assert (report.added, report.updated, report.removed, report.unchanged) == (1, 1, 1, 1)
    assert (await corpus.search("apricots")).passages[0].ref == "alpha.md#alpha"
    assert (await corpus.search("orchards trees")).error.kind == "no_results"
    assert (await corpus.search("bananas")).error.kind == "no_results"
    assert (await corpus.search("dates sweet")).fields["path"] == "delta.md"

    # A new mtime with the same bytes is checked by hash and not re-parsed.
    os.utime(small_root / "gamma.html", (1, 1))
    touched = corpus.refresh()
    assert (touched.updated, touched.unchanged) == (0, 3)


async def test_searches_pick_up_changes_without_an_explicit_refresh(small_root, tmp_path):
    corpus = make_corpus(small_root, tmp_path / "idx")
    assert (await corpus.search("grapes")).ok
    (small_root / "gamma.html").unlink()
    assert (await corpus.search("grapes")).error.kind == "no_results"


def test_index_persists_across_instances_and_rebuilds_on_new_chunk_sizes(small_root, tmp_path):
    make_corpus(small_root, tmp_path / "idx").refresh()
    again = make_corpus(small_root, tmp_path / "idx").refresh()
    assert (again.added, again.unchanged) == (0, 3)
    resized = make_corpus(small_root, tmp_path / "idx", min_chunk_chars=100, max_chunk_chars=400)
    assert resized.refresh().added == 3


async def test_concurrent_searches_while_another_instance_rewrites_files(tmp_path):
    root = tmp_path / "docs"
    shutil.copytree(EXAMPLES, root)
    reader = make_corpus(root, tmp_path / "idx")
    reader.refresh()
    writer = make_corpus(root, tmp_path / "idx")  # its own connections, like a second process
    stop = threading.Event()
    errors: list[BaseException] = []

    def rewrite() -> None:
        n = 0
        try:
            while not stop.is_set():
                n += 1
                (root / "queues.md").write_text(f"# Queues {n}\n\nversion {n} of the queue notes\n")
                writer.refresh()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    thread = threading.Thread(target=rewrite)
    thread.start()
    try:
        for _ in range(40):
            results = await asyncio.gather(
                *(reader.search(q) for q in ["queue notes version", "GIL", "cancel", "timeout"] * 2)
            )
            assert all(obs.ok for obs in results), [o.content for o in results if not o.ok]
            for obs in results:
                assert_exact_passages(obs)
    finally:
        stop.set()
        thread.join()
    assert not errors
    reader.close()
    writer.close()


# --- the Python documentation (the benchmark's corpus) -----------------------------------------


@pytest.mark.skipif(not PYDOCS.is_dir(), reason="python3.11-doc is not installed")
async def test_python_docs_pages_index_without_navigation_chrome(tmp_path):
    root = tmp_path / "html"
    for rel in ("library/asyncio-task.html", "tutorial/inputoutput.html", "library/index.html"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PYDOCS / rel, root / rel)
    corpus = make_corpus(root, tmp_path / "idx")
    page = await corpus.read("library/asyncio-task.html")
    for chrome in ("Previous topic", "Report a Bug", "Show Source", "Theme", "¶"):
        assert chrome not in page.value
    gather = await corpus.search("gather return_exceptions")
    assert gather.passages[0].ref == "library/asyncio-task.html#asyncio.gather"
    assert_exact_passages(gather)
    # library/index.html is a table of contents: readable, but it never outranks content.
    assert all(
        not p.ref.startswith("library/index.html")
        for p in (await corpus.search("library modules reference")).passages
    )
    assert (await corpus.read("library/index.html")).ok
