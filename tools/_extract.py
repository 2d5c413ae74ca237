"""Page HTML to Markdown plus numbered links, and page text to citable passages.

Fetch and browser both read pages through here, so a page reads the same
whichever way it was obtained, and citations point at exact excerpts (with
offsets) of the one stored document text.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Literal

import lxml.etree
import lxml.html
import trafilatura

from agent.observation import ListItem, Observation, Passage

__all__ = [
    "Link",
    "PageText",
    "cut_at_boundary",
    "extract_html",
    "extract_plain",
    "looks_like_js_shell",
    "media_kind",
    "page_observation",
    "split_passages",
]

_SKIP_TAGS = ("script", "style", "noscript", "template", "svg", "head", "iframe")
_BLOCK_TAGS = frozenset(
    {"p", "div", "section", "article", "main", "header", "footer", "nav", "aside", "li", "ul"}
    | {"ol", "dl", "dt", "dd", "table", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre"}
    | {"blockquote", "figure", "figcaption", "br", "hr", "form"}
)
_MOUNT_POINT = re.compile(
    r"<div[^>]*\bid=[\"']?(?:root|app|__next|__nuxt|svelte|main-app)\b[^>]*>\s*</div>", re.I
)
_NOSCRIPT_JS = re.compile(r"<noscript[^>]*>(?:(?!</noscript>).)*javascript", re.I | re.S)
_BLANK_LINES = re.compile(r"\n[ \t]*\n\s*")
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_TEXT_TYPES = frozenset(
    {
        "text/plain",
        "text/markdown",
        "text/x-markdown",
        "text/csv",
        "application/json",
        "application/xml",
        "text/xml",
    }
)


@dataclass(frozen=True)
class Link:
    number: int
    text: str
    url: str


@dataclass(frozen=True)
class PageText:
    """A page reduced to a title, Markdown text (the stored document) and its links."""

    url: str
    title: str
    text: str
    links: tuple[Link, ...] = ()
    plain: str = ""  # all text a reader sees (what Ctrl-F searches), before extraction
    notes: tuple[str, ...] = field(default=())

    @property
    def visible_chars(self) -> int:
        return len(self.plain)


def extract_html(html: str, url: str, *, max_links: int = 200) -> PageText:
    """Main content as Markdown (trafilatura), falling back to all visible text."""
    doc = _parse(html)
    if doc is None:
        return PageText(url=url, title="", text="")
    title = " ".join((doc.findtext(".//title") or "").split())
    links = _links(doc, url, max_links)
    plain = _visible_text(doc)
    markdown = trafilatura.extract(
        html,
        url=url,
        output_format="markdown",
        include_tables=True,
        include_links=False,
        include_formatting=True,
        include_comments=False,
        favor_recall=True,
        fast=True,  # skips the fallback extractors: same text on our pages, 20% faster
    )
    text = (markdown or "").strip()
    # Short pages and link lists are where the main-content heuristic drops most.
    if len(text) < min(200, len(plain) // 2):
        text = plain
    if not title:
        heading = doc.find(".//h1")
        title = " ".join(heading.text_content().split()) if heading is not None else ""
    return PageText(url=url, title=title, text=text, links=links, plain=plain)


def extract_plain(text: str, url: str, *, title: str = "") -> PageText:
    """Plain text, Markdown, JSON or XML: kept as it is."""
    clean = text.replace("\r\n", "\n").strip()
    return PageText(url=url, title=title, text=clean, plain=clean)


def media_kind(content_type: str) -> Literal["html", "text", "binary", "unknown"]:
    """What a Content-Type header says a response is, for the readers' purposes."""
    media = content_type.split(";", 1)[0].strip().lower()
    if not media:
        return "unknown"
    if media in _HTML_TYPES:
        return "html"
    if media in _TEXT_TYPES or media.endswith(("+xml", "+json")):
        return "text"
    return "binary"


def looks_like_js_shell(html: str, page: PageText, *, min_chars: int = 200) -> bool:
    """Whether the HTML is an app shell whose content a script renders."""
    has_script = "<script" in html.lower()
    if page.visible_chars < min_chars and has_script:
        return True
    shell_marker = _MOUNT_POINT.search(html) or _NOSCRIPT_JS.search(html)
    return bool(shell_marker) and has_script and page.visible_chars < 5 * min_chars


def cut_at_boundary(text: str, limit: int) -> str:
    """`text` shortened to at most `limit` characters, at a paragraph or word end."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    for sep in ("\n\n", "\n", ". ", " "):
        cut = head.rfind(sep)
        if cut > limit // 2:
            return head[: cut + (1 if sep == ". " else 0)].rstrip()
    return head


def split_passages(
    text: str, ref: str, title: str = "", *, min_chars: int = 200, max_chars: int = 800
) -> tuple[Passage, ...]:
    """Paragraph-sized exact excerpts of `text` (≈ min..max chars) with their offsets."""
    pieces: list[tuple[int, int]] = []
    for start, end in _paragraphs(text):
        pieces.extend(_cut_long(text, start, end, max_chars))
    chunks: list[list[int]] = []
    for start, end in pieces:
        short = chunks and min(chunks[-1][1] - chunks[-1][0], end - start) < min_chars
        if short and end - chunks[-1][0] <= max_chars:
            chunks[-1][1] = end
        else:
            chunks.append([start, end])
    return tuple(
        Passage(ref=ref, title=title, text=text[start:end], start=start, end=end)
        for start, end in chunks
    )


def page_observation(
    tool: str,
    page: PageText,
    *,
    via: str,
    max_chars: int,
    truncated: bool = False,
    fields: dict[str, str] | None = None,
    link_lines: int = 40,
) -> Observation:
    """The observation fetch and browser return for a page they read."""
    shown = cut_at_boundary(page.text, max_chars)
    truncated = truncated or len(shown) < len(page.text)
    parts = [f"# {page.title or page.url}", f"URL: {page.url}"]
    parts.extend(f"[{note}]" for note in page.notes)
    if truncated:
        parts.append(f"[truncated: showing {len(shown)} of {len(page.text)} characters]")
    parts.extend(["", shown or "(no readable text on this page)"])
    if page.links:
        parts.extend(["", "Links:"])
        parts.extend(
            f"[{link.number}] {link.text} → {link.url}" for link in page.links[:link_lines]
        )
        if len(page.links) > link_lines:
            parts.append(f"… {len(page.links) - link_lines} more links")
    all_fields = {
        "url": page.url,
        "title": page.title,
        "links": "\n".join(link.url for link in page.links[:10]),
        **(fields or {}),
    }
    return Observation(
        tool=tool,
        ok=True,
        content="\n".join(parts),
        passages=split_passages(page.text, page.url, page.title),
        documents={page.url: page.text},
        value=shown,
        fields=all_fields,
        lists={"links": tuple(ListItem(url=link.url, title=link.text) for link in page.links)},
        untrusted=True,
        via=via,
        truncated=truncated,
    )


def _parse(html: str) -> lxml.html.HtmlElement | None:
    if not html.strip():
        return None
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True)
    try:
        doc: lxml.html.HtmlElement = lxml.html.document_fromstring(
            html.encode("utf-8", "replace"), parser=parser
        )
    except (lxml.etree.ParserError, ValueError):
        return None
    return doc


def _links(doc: lxml.html.HtmlElement, url: str, limit: int) -> tuple[Link, ...]:
    base_href = doc.find(".//base[@href]")
    base = urllib.parse.urljoin(url, base_href.get("href", "")) if base_href is not None else url
    page = urllib.parse.urldefrag(url)[0]
    seen: dict[str, str] = {}
    for anchor in doc.iter("a"):
        href = (anchor.get("href") or "").strip()
        if not href or href.startswith("#"):
            continue
        target = urllib.parse.urldefrag(urllib.parse.urljoin(base, href))[0]
        if not target.startswith(("http://", "https://")) or target == page or target in seen:
            continue
        label = " ".join(anchor.text_content().split()) or anchor.get("title") or target
        seen[target] = label[:120]
        if len(seen) >= limit:
            break
    return tuple(Link(n, text, target) for n, (target, text) in enumerate(seen.items(), start=1))


def _visible_text(doc: lxml.html.HtmlElement) -> str:
    """All text a reader would see, one block per paragraph (the extraction fallback).

    Strips scripts, styles and the like from `doc` in place (links are read first).
    """
    lxml.etree.strip_elements(doc, *_SKIP_TAGS, lxml.etree.Comment, with_tail=False)
    body = doc.find("body")
    root = body if body is not None else doc
    pieces: list[str] = []
    for event, element in lxml.etree.iterwalk(root, events=("start", "end")):
        tag = element.tag if isinstance(element.tag, str) else None
        if tag in _BLOCK_TAGS:
            pieces.append("\n\n")
        if event == "start":
            if tag is not None and element.text:
                pieces.append(element.text)
        elif element.tail and element is not root:
            pieces.append(element.tail)
    lines = (" ".join(line.split()) for line in "".join(pieces).split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _paragraphs(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    position = 0
    for gap in [*_BLANK_LINES.finditer(text), None]:
        end = gap.start() if gap is not None else len(text)
        chunk = text[position:end]
        stripped = chunk.strip()
        if stripped:
            start = position + chunk.index(stripped[0])
            spans.append((start, start + len(stripped)))
        position = gap.end() if gap is not None else len(text)
    return spans


def _cut_long(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    pieces: list[tuple[int, int]] = []
    while end - start > limit:
        window = text[start : start + limit]
        cut = max(window.rfind(". "), window.rfind("\n"))
        cut = cut + 1 if cut > limit // 2 else window.rfind(" ")
        if cut <= limit // 4:
            cut = limit
        pieces.append((start, start + len(window[:cut].rstrip())))
        start += cut
        while start < end and text[start].isspace():
            start += 1
    if end > start:
        pieces.append((start, end))
    return pieces
