"""``ponder run --report long`` on the local web: real search, real fetch (loopback), fan-out,
then outline, sections and summary from a scripted model, written to .html and .md.

The Python docs are served on 127.0.0.1; web_search (FTS5 over the docs) and fetch_url (HTTP
through the SSRF guard, opened for the one port) are real. The scripted model's claims say
what the pages say, each quoting a sentence of its page, and one claim adds what no page
says: the citation check must keep the first and mark the last.
"""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from agent.testing import plan_step
from bench.cli_runner import finished_events, ponder, write_script
from bench.local_server import free_port
from tests.agent.test_report_html import _assert_inert, _parsed
from tests.conftest import planning

DOCS = Path("/usr/share/doc/python3.11/html")
pytestmark = pytest.mark.skipif(
    not DOCS.is_dir(), reason="Debian's python3.11-doc is not installed (.ci/setup installs it)"
)
TASK = "How do asyncio tasks, queues, events and futures fit together?"
QUERY = "asyncio task cancellation timeout"
READ = 8
# (evidence id, page, a sentence of that page); the ids are the passages the run gathers.
SAID = [
    ("s2.1.36", "library/asyncio-task.html",
     "Futures or Tasks that aren’t done when the timeout occurs are simply returned in the "
     "second set."),
    ("s2.8.5", "library/asyncio-future.html",
     "A Future can be awaited multiple times and the result is same."),
    ("s2.3.3", "library/asyncio-api-index.html",
     "Queues should be used to distribute work amongst multiple asyncio Tasks, implement "
     "connection pools, and pub/sub patterns."),
    ("s2.6.1", "library/asyncio-queue.html",
     "Although asyncio queues are not thread-safe, they are designed to be used specifically "
     "in async/await code."),
    ("s2.7.4", "library/asyncio-sync.html",
     "An asyncio event can be used to notify multiple asyncio tasks that some event has "
     "happened."),
    ("s2.2.3", "library/concurrent.futures.html",
     "It should not be used directly, but through its concrete subclasses."),
    ("s2.5.1", "library/asyncio-eventloop.html",
     "Event loops run asynchronous tasks and callbacks, perform network IO operations, and run "
     "subprocesses."),
]  # fmt: skip
INVENTED = "Asyncio queues were added in Python 2.4 by Guido van Rossum in 1998."
SECTIONS = [
    ("Tasks and futures", [0, 1]),
    ("Queues", [2, 3]),
    ("Events and executors", [4, 5]),
    ("The event loop", [6]),
]


def _claim(i: int, text: str = "") -> dict[str, Any]:
    # No ids: a claim with a quote cites the gathered passage that holds it.
    _, _, sentence = SAID[i]
    return {"text": text or sentence, "quote": sentence}


def _script() -> dict[str, Any]:
    sections = [{"claims": [_claim(i) for i in ids]} for _, ids in SECTIONS]
    sections[1]["claims"].append(_claim(3, INVENTED))  # quoted, but not what the page says
    return {
        "Planning": [
            planning(
                plan_step("s1", "web_search", {"query": QUERY, "max_results": READ}),
                plan_step(
                    "s2", "fetch_url", {"url": "{{item.url}}"}, for_each=f"s1.results[:{READ}]"
                ),
            )
        ],
        "Outline": [
            {
                "title": "Tasks, queues and events in asyncio",
                "sections": [
                    {"title": t, "focus": t, "evidence": [SAID[i][0] for i in ids]}
                    for t, ids in SECTIONS
                ],
            }
        ],
        "Section": sections,
        "ReportSummary": [{"claims": [_claim(3)]}],
    }


def _page_text(page: str) -> str:
    raw = (DOCS / page).read_text(encoding="utf-8")
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", raw)).split())


def test_a_long_report_from_eight_pages_read_in_parallel(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    script = write_script(tmp_path / "model.json", _script())
    html_out = tmp_path / "report.html"
    calls = 7  # plan, outline, four sections, summary: exactly the budget given
    done = ponder(
        "run", TASK,
        "--model", f"script:{script}",
        "--report", "long",
        "--search", "local",
        "--local-web", str(DOCS),
        "--local-web-port", str(port),
        "--allow-host", f"127.0.0.1:{port}",
        "--tools", "web_search,fetch_url",
        "--effort", "medium",
        "--max-model-calls", str(calls),
        "--max-steps", "12",
        "--events", "jsonl",
        "--run-id", "long",
        "-o", str(html_out),
        home=tmp_path,
        timeout=300,
    )  # fmt: skip
    stream = finished_events(done)

    # Read: the search, then one fetch per result, all over HTTP on loopback.
    finished = {e["step_id"]: e for e in stream if e["type"] == "step_finished"}
    children = [f"s2.{i}" for i in range(1, READ + 1)]
    assert sorted(finished) == ["s1", *children]
    assert all(finished[c]["status"] == "done" and finished[c]["via"] == "http" for c in children)
    started = {e["step_id"]: e for e in stream if e["type"] == "step_started"}
    read = {str(started[c]["input"]["url"]) for c in children}
    assert len(read) == READ and all(u.startswith(base) for u in read)

    report = json.loads(ponder("show", "long", "--json", home=tmp_path).stdout)
    assert report["status"] == "done"
    assert report["title"] == "Tasks, queues and events in asyncio"
    assert [s["title"] for s in report["sections"]] == [t for t, _ in SECTIONS]
    assert len(report["summary"]) == 1

    # Cited: seven distinct pages, numbered in reading order, every citation's quote on
    # its page (checked here against the page file, apart from Ponder's own check).
    refs = report["references"]
    assert [r["n"] for r in refs] == list(range(1, len(refs) + 1))
    cited = {r["source"] for r in refs}
    assert cited == {base + page for _, page, _ in SAID} and cited <= read
    for c in report["citations"]:
        page = c["source"].removeprefix(base)
        assert " ".join(c["quote"].split()) in _page_text(page), c
    check = next(e for e in stream if e["type"] == "citation_check")
    # 7 section claims + 1 summary claim verified; the invented claim's citation refused.
    assert (check["kept"], check["checked"], check["claims_unsupported"]) == (8, 9, 1), check
    # Sections are written at once, so which reply lands in which section is not fixed.
    claims = [c for s in report["sections"] for c in s["claims"]]
    invented = next(c for c in claims if c["text"] == INVENTED)
    assert invented["citations"] == []
    assert f"{INVENTED} *(unsupported)*" in report["answer"]
    # Sources are numbered once: a claim's mark is its page's reference number.
    numbers = {r["source"]: r["n"] for r in refs}
    for section in report["sections"]:
        for claim in section["claims"]:
            assert all(numbers[c["source"]] == c["n"] for c in claim["citations"])

    # Budgets: the model-call budget was exactly enough, and was not overrun.
    assert report["usage"]["model_calls"] == calls
    assert report["usage"]["tool_calls"] == 1 + READ

    # The .html page: sections, hover quotes, no injected markup; then .md from the store.
    page = _parsed(html_out.read_text(encoding="utf-8"))
    _assert_inert(page)
    hovers = {a["title"] for t, a in page.tags if t == "a" and a.get("class") == "cite"}
    assert {sentence for _, _, sentence in SAID} <= hovers
    md_out = tmp_path / "report.md"
    assert ponder("show", "long", "-o", str(md_out), home=tmp_path).returncode == 0
    md = md_out.read_text(encoding="utf-8")
    assert md.startswith("# Tasks, queues and events in asyncio")
    assert all(f"## {t}" in md for t, _ in SECTIONS) and "## References" in md


HOSTILE_TITLE = "</title><script>alert('title')</script>"
# Page text reaches a quote through fetch_url's Markdown, which escapes "<" itself; an
# attribute break-out is what a quote can carry into the page's title attributes.
HOSTILE_SENTENCE = (
    'Colour wheels rotate hue by 120 degrees " onmouseover="alert(1)" x=\' to find triads.'
)


def test_a_hostile_page_cannot_inject_into_the_html_report(tmp_path: Path) -> None:
    from html import escape

    site = tmp_path / "site"
    site.mkdir()
    (site / "wheel.html").write_text(
        f"<html><head><title>{escape(HOSTILE_TITLE)}</title></head><body>"
        f"<h1>Colour wheels</h1><p>{escape(HOSTILE_SENTENCE)}</p>"
        "<p>A triad is three hues spaced evenly around the colour wheel.</p></body></html>",
        encoding="utf-8",
    )
    (site / "plain.html").write_text(
        "<html><head><title>Hue</title></head><body><p>Hue is the angle of a colour on the "
        "colour wheel.</p></body></html>",
        encoding="utf-8",
    )
    port = free_port()
    script = write_script(
        tmp_path / "model.json",
        {
            "Planning": [
                planning(
                    plan_step("s1", "web_search", {"query": "colour wheel", "max_results": 2}),
                    plan_step("s2", "fetch_url", {"url": "{{item.url}}"},
                              for_each="s1.results[:2]"),
                )
            ],
            "Outline": [{"title": HOSTILE_TITLE, "sections": [{"title": HOSTILE_TITLE,
                                                               "evidence": ["s2.1.1"]}]}],
            "Section": [{"claims": [{"text": HOSTILE_SENTENCE, "quote": HOSTILE_SENTENCE}]}],
            "ReportSummary": [{"claims": [{"text": HOSTILE_SENTENCE, "quote": HOSTILE_SENTENCE}]}],
        },
    )  # fmt: skip
    out = tmp_path / "report.html"
    done = ponder(
        "run", "How do colour wheels find triads?",
        "--model", f"script:{script}",
        "--report", "long",
        "--search", "local",
        "--local-web", str(site),
        "--local-web-port", str(port),
        "--allow-host", f"127.0.0.1:{port}",
        "--tools", "web_search,fetch_url",
        "--json",
        "-o", str(out),
        home=tmp_path,
        timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["citation_check"]["supported"] == 2, (report["answer"], report["citations"])
    assert report["references"][0]["title"] == HOSTILE_TITLE  # the page's own title, as text
    raw = out.read_text(encoding="utf-8")
    assert "<script" not in raw.lower() and "<img" not in raw.lower()
    page = _parsed(raw)
    _assert_inert(page)
    shown = "".join(page.text)
    assert HOSTILE_TITLE in shown and HOSTILE_SENTENCE in shown
    hovers = [a["title"] for t, a in page.tags if t == "a" and a.get("class") == "cite"]
    assert HOSTILE_SENTENCE in hovers
