"""The HTML report is one page no source can inject into: every text escaped, no script.

The hostile strings below are what a page can put in its title and text (and so in a
citation's quote, which the page shows on hover in a ``title`` attribute).
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from agent.report import RunReport
from agent.state import Citation, Reference, ReportClaim, ReportSection

HOSTILE_TITLE = "</title><script>alert('title')</script>"
HOSTILE_QUOTE = '" onmouseover="alert(1)" x="<img src=x onerror=alert(2)>'
HOSTILE_CLAIM = "<script>alert('claim')</script> & <b>bold</b>"
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "a", "em", "span",
    "table", "thead", "tbody", "tr", "th", "td", "blockquote", "br", "code", "ul", "li",
}  # fmt: skip


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parsed(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    return parser


def _assert_inert(page: _Page) -> None:
    tags = {t for t, _ in page.tags}
    assert tags <= ALLOWED_TAGS, tags - ALLOWED_TAGS
    for tag, attrs in page.tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        href = attrs.get("href") or ""
        assert href.startswith(("#ref-", "http://", "https://")) or not href, href
    csp = next(a for t, a in page.tags if t == "meta" and a.get("http-equiv"))
    assert "default-src 'none'" in (csp["content"] or "")


def _long_report() -> RunReport:
    bad = Citation(
        n=1, passage_id="s2.1.1", source="javascript:alert(3)", title=HOSTILE_TITLE,
        quote=HOSTILE_QUOTE,
    )  # fmt: skip
    good = Citation(
        n=2, passage_id="s2.2.1", source="https://docs.python.org/3/library/colorsys.html",
        title="colorsys", quote="The colorsys module defines conversions",
    )  # fmt: skip
    return RunReport(
        run_id="r",
        task=HOSTILE_CLAIM,
        status="done",
        title=HOSTILE_TITLE,
        summary=[ReportClaim(text=HOSTILE_CLAIM, citations=(bad,))],
        sections=[
            ReportSection(
                title=HOSTILE_TITLE,
                claims=(
                    ReportClaim(text="Colorsys converts colors.", citations=(good, bad)),
                    ReportClaim(text=HOSTILE_CLAIM),
                ),
            )
        ],
        references=[
            Reference(n=1, source=bad.source, title=bad.title),
            Reference(n=2, source=good.source, title=good.title),
        ],
        citations=[bad, good],
        gaps=[HOSTILE_CLAIM],
    )


def test_hostile_titles_quotes_and_sources_stay_text(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    _long_report().save(out)
    raw = out.read_text(encoding="utf-8")
    page = _parsed(raw)
    _assert_inert(page)
    assert "<script" not in raw.lower() and "<img" not in raw.lower()
    # The hostile text is shown, as text, exactly: in headings, claims and quotes.
    shown = "".join(page.text)
    assert HOSTILE_TITLE in shown and HOSTILE_CLAIM in shown and HOSTILE_QUOTE in shown
    hovers = [a["title"] for t, a in page.tags if t == "a" and "cite" in (a.get("class") or "")]
    assert HOSTILE_QUOTE in hovers  # the quote on hover, one attribute, intact
    # A javascript: source is never a link; the web source is.
    hrefs = [a.get("href") for t, a in page.tags if t == "a"]
    assert "https://docs.python.org/3/library/colorsys.html" in hrefs
    assert not any("javascript" in (h or "") for h in hrefs)
    # Marks link to the sources table's rows, one per reference.
    rows = [a["id"] for t, a in page.tags if t == "tr" and a.get("id")]
    assert rows == ["ref-1", "ref-2"] and "#ref-2" in hrefs


def test_a_short_answer_page_links_its_marks_to_quotes() -> None:
    from agent.report_html import render_html

    cite = Citation(n=1, passage_id="s1.1", source="notes.md", title="", quote=HOSTILE_QUOTE)
    report = RunReport(
        run_id="r",
        task="q",
        status="done",
        answer=f"{HOSTILE_CLAIM} [1]\n\n**Sources**\n[1] notes.md\n    > x",
        citations=[cite],
    )
    page = _parsed(render_html(report))
    _assert_inert(page)
    hovers = [a["title"] for t, a in page.tags if t == "a" and a.get("href") == "#ref-1"]
    assert hovers == [HOSTILE_QUOTE]
    assert HOSTILE_CLAIM + " [1]" in "".join(page.text)
