"""An HTML page's main content as Markdown-like text, sections and paragraphs.

The text is ``# Heading`` lines and paragraphs of the page's main element
(``role="main"``, ``<main>`` or ``<article>``); navigation, sidebars, footers,
scripts and Sphinx's permalink marks are dropped so they are never indexed.
Sphinx API entries (``<dt id="asyncio.gather">``) become sub-sections, so a
hit can point at ``library/asyncio-task.html#asyncio.gather``. A page with no
main element goes through trafilatura's main-text extraction instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import lxml.html
from lxml import etree
from lxml.html import HtmlElement

from tools._corpus_text import (
    SPACES,
    Head,
    ParsedDocument,
    document_sections,
    parse_markdown,
    parse_text,
    slugify,
)

__all__ = ["parse_html"]


_DROP_TAGS = (
    "script", "style", "noscript", "template", "nav", "aside", "form", "button",
    "svg", "iframe", "object", "select", "textarea", "input",
)  # fmt: skip
_CHROME_XPATH = (
    "//a[contains(concat(' ', normalize-space(@class), ' '), ' headerlink ')]"
    " | //*[@role='navigation' or @role='search' or @role='banner' or @role='contentinfo']"
    " | //*[@hidden] | //*[@aria-hidden='true']"
    " | //div[contains(concat(' ', normalize-space(@class), ' '), ' sphinxsidebar ')]"
    " | //div[contains(concat(' ', normalize-space(@class), ' '), ' related ')]"
    " | //div[contains(concat(' ', normalize-space(@class), ' '), ' footer ')]"
)
_MAIN_XPATH = "//*[@role='main'] | //main | //article"
_BLOCK = frozenset((
    "p", "div", "section", "article", "main", "header", "footer", "ul", "ol", "dl", "dd",
    "blockquote", "table", "thead", "tbody", "tfoot", "tr", "figure", "figcaption",
    "caption", "hr", "address", "details", "summary",
))  # fmt: skip
_HEADINGS = {f"h{n}": n for n in range(1, 7)}


@dataclass
class _HtmlText:
    """Accumulates rendered blocks; the offsets of everything it writes are known."""

    parts: list[str] = field(default_factory=list)  # the document text so far
    pos: int = 0
    inline: list[str] = field(default_factory=list)
    prefix: str = ""
    blocks: list[tuple[int, int]] = field(default_factory=list)
    heads: list[Head] = field(default_factory=list)
    level: int = 1  # level of the last real heading
    dl_depth: int = 0

    def _emit(self, text: str) -> int:
        if self.parts:
            self.parts.append("\n\n")
            self.pos += 2
        start = self.pos
        self.parts.append(text)
        self.pos += len(text)
        self.blocks.append((start, self.pos))
        return start

    def flush(self) -> None:
        text = SPACES.sub(" ", "".join(self.inline)).strip()
        self.inline.clear()
        if text:
            self._emit(self.prefix + text)
        self.prefix = ""

    def heading(self, text: str, level: int, anchor: str) -> None:
        self.flush()
        text = SPACES.sub(" ", text).replace("¶", "").strip()
        if text:
            start = self._emit("#" * level + " " + text)
            self.heads.append((start, self.pos, level, text, anchor or slugify(text)))

    def pre(self, text: str) -> None:
        self.flush()
        text = text.strip("\n").rstrip()
        if text.strip():
            self._emit(text)


def _heading_anchor(el: HtmlElement) -> str:
    anchor = el.get("id") or ""
    parent = el.getparent()
    if not anchor and parent is not None and parent.tag == "section":
        anchor = parent.get("id") or ""
    return anchor


def _walk(el: HtmlElement, out: _HtmlText) -> None:
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag in _HEADINGS:
        out.heading(el.text_content(), _HEADINGS[tag], _heading_anchor(el))
        out.level = _HEADINGS[tag]
    elif tag == "dt" and el.get("id"):  # a Sphinx API entry: a sub-section of its own
        out.heading(el.text_content(), min(6, out.level + out.dl_depth), el.get("id") or "")
    elif tag == "pre":
        out.pre(el.text_content())
    else:
        block = tag in _BLOCK or tag in ("li", "dt")
        if block:
            out.flush()
        if tag == "li":
            out.prefix = "- "
        elif tag in ("td", "th") and "".join(out.inline).strip():
            out.inline.append(" | ")
        elif tag == "br":
            out.inline.append(" ")
        nested_api = int(tag == "dl" and any(c.get("id") for c in el if c.tag == "dt"))
        out.dl_depth += nested_api
        if el.text and tag:
            out.inline.append(el.text)
        for child in el:
            _walk(child, out)
            if child.tail:
                out.inline.append(child.tail)
        out.dl_depth -= nested_api
        if block:
            out.flush()


def _xpath(tree: HtmlElement, query: str) -> list[HtmlElement]:
    found = tree.xpath(query)
    return [el for el in found if isinstance(el, HtmlElement)] if isinstance(found, list) else []


def _drop(elements: list[HtmlElement]) -> None:
    """Remove elements but keep the text that follows them (their tail)."""
    for el in elements:
        if el.getparent() is not None:
            el.drop_tree()


def _html_title(tree: HtmlElement) -> str:
    titles = _xpath(tree, "//title")
    text = titles[0].text_content() if titles else ""
    return SPACES.sub(" ", text.split(" — ")[0]).strip()


def parse_html(raw: bytes, fallback_title: str) -> ParsedDocument:
    """The main content of an HTML page as Markdown-like text."""
    try:
        tree = lxml.html.document_fromstring(raw)
    except (etree.ParserError, ValueError):
        return parse_text("", fallback_title)
    page_title = _html_title(tree)
    _drop(_xpath(tree, _CHROME_XPATH))
    _drop(list(tree.iter(*_DROP_TAGS)))
    mains = _xpath(tree, _MAIN_XPATH)
    if not mains:
        extracted = _trafilatura_markdown(raw)
        if extracted:
            return parse_markdown(extracted, page_title or fallback_title)
        _drop(list(tree.iter("header", "footer")))
        bodies = _xpath(tree, "//body")
        mains = bodies or [tree]
    out = _HtmlText()
    _walk(mains[0], out)
    out.flush()
    text = "".join(out.parts)
    h1 = next((h[3] for h in out.heads if h[2] == 1), "")
    sections = document_sections(text, out.heads)
    # A page that is mostly links (a table of contents, an index) is navigation:
    # it stays readable but gets no search chunks, or it would drown real hits.
    blocks = () if _link_density(mains[0]) > _NAVIGATION_LINK_DENSITY else tuple(out.blocks)
    return ParsedDocument(text, h1 or page_title or fallback_title, sections, blocks)


_NAVIGATION_LINK_DENSITY = 0.7


def _link_density(el: HtmlElement) -> float:
    def size(node: HtmlElement) -> int:
        return len(SPACES.sub("", node.text_content()))

    total = size(el)
    return sum(size(a) for a in el.iter("a")) / total if total else 0.0


def _trafilatura_markdown(raw: bytes) -> str:
    """trafilatura's main-text extraction, for pages without a semantic main element."""
    import trafilatura  # slow to import; only needed for pages without <main>

    text = trafilatura.extract(
        raw,
        output_format="markdown",
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        with_metadata=False,
    )
    return text if isinstance(text, str) and len(text.strip()) >= 200 else ""
