"""Turn a Markdown, text or HTML file into stored text, sections and paragraph spans.

Markdown and text files are stored as their decoded text (UTF-8, CRLF folded to
LF), so offsets point into what the file says. HTML is reduced to a Markdown-like text of its main
content (``# Heading`` lines and paragraphs); navigation, sidebars, scripts and
Sphinx's permalink marks are dropped so they are never indexed as content.
Sphinx API entries (``<dt id="asyncio.gather">``) become sub-sections, so a
search hit can point at ``library/asyncio-task.html#asyncio.gather``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import lxml.html
from lxml import etree
from lxml.html import HtmlElement

__all__ = [
    "SUFFIXES",
    "ParsedDocument",
    "Section",
    "paragraph_spans",
    "parse_document",
    "parse_html",
    "parse_markdown",
    "parse_text",
    "slugify",
]


@dataclass(frozen=True)
class Section:
    """A heading and the text up to the next heading of any level (its own span)."""

    anchor: str  # "" for the text before the first heading
    heading: str
    level: int  # 0 for the text before the first heading
    start: int  # where the heading line starts
    body: int  # where the heading line ends
    end: int


@dataclass(frozen=True)
class ParsedDocument:
    text: str
    title: str
    sections: tuple[Section, ...]
    blocks: tuple[tuple[int, int], ...]  # paragraph spans, never splitting a code block


_WORD_JUNK = re.compile(r"[^\w\- ]+", re.UNICODE)
_MD_INLINE = re.compile(r"!?\[([^\]]*)\]\([^)]*\)|[`*]+|(?<!\w)_+|_+(?!\w)")
_SPACES = re.compile(r"\s+")


def slugify(heading: str) -> str:
    """GitHub-style anchor: lowercase, punctuation dropped, spaces to hyphens."""
    slug = _WORD_JUNK.sub("", heading.strip().lower()).replace(" ", "-")
    return slug.strip("-") or "section"


def _unique(anchor: str, seen: set[str]) -> str:
    candidate, n = anchor, 0
    while candidate in seen:
        n += 1
        candidate = f"{anchor}-{n}"
    seen.add(candidate)
    return candidate


_Head = tuple[int, int, int, str, str]  # start, end, level, heading, anchor


def _sections(text: str, heads: list[_Head]) -> tuple[Section, ...]:
    """Sections from each heading, in order, plus any text before the first."""
    out: list[Section] = []
    first = heads[0][0] if heads else len(text)
    if text[:first].strip():
        out.append(Section(anchor="", heading="", level=0, start=0, body=0, end=first))
    seen: set[str] = set()
    for i, (start, head_end, level, heading, anchor) in enumerate(heads):
        end = heads[i + 1][0] if i + 1 < len(heads) else len(text)
        out.append(Section(_unique(anchor, seen), heading, level, start, head_end, end))
    return tuple(out)


def _lines(text: str) -> Iterator[tuple[int, str]]:
    pos = 0
    for line in text.splitlines(keepends=True):
        yield pos, line
        pos += len(line)


def _paragraphs(
    text: str, is_fence: Callable[[str], str | None] | None = None
) -> tuple[tuple[int, int], ...]:
    """Spans of text separated by blank lines; a fenced block is never split."""
    spans: list[tuple[int, int]] = []
    start: int | None = None
    fence: str | None = None
    end = 0
    for pos, line in _lines(text):
        marker = is_fence(line) if is_fence else None
        if fence is not None:
            end = pos + len(line.rstrip())
            if marker is not None and marker[0] == fence[0] and len(marker) >= len(fence):
                fence = None
            continue
        if not line.strip():
            if start is not None:
                spans.append((start, end))
                start = None
            continue
        if start is None:
            start = pos + (len(line) - len(line.lstrip()))
        end = pos + len(line.rstrip())
        if marker is not None:
            fence = marker
    if start is not None:
        spans.append((start, end))
    return tuple(spans)


def _split_at_headings(
    blocks: tuple[tuple[int, int], ...], heading_starts: list[int]
) -> tuple[tuple[int, int], ...]:
    """Break paragraphs so that each heading line starts a block of its own."""
    out: list[tuple[int, int]] = []
    marks = sorted(heading_starts)
    for start, end in blocks:
        cuts = [m for m in marks if start < m < end]
        edges = [start, *cuts, end]
        out.extend((a, b) for a, b in itertools.pairwise(edges) if b > a)
    return tuple(out)


def _trim(text: str, span: tuple[int, int]) -> tuple[int, int]:
    a, b = span
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def paragraph_spans(text: str) -> tuple[tuple[int, int], ...]:
    """Blank-line separated paragraphs of any stored text; fenced code stays whole."""
    return _paragraphs(text, _fence_marker)


# --- Markdown ---------------------------------------------------------------------

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*#*[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_ATTR_ID = re.compile(r"\s*\{#([\w\-.:]+)[^}]*\}\s*$")


def _fence_marker(line: str) -> str | None:
    m = _FENCE.match(line)
    return m.group(1) if m else None


def _md_heading(raw: str) -> tuple[str, str]:
    """Heading text without inline markup, and its anchor (``{#id}`` wins)."""
    m = _ATTR_ID.search(raw)
    explicit = m.group(1) if m else ""
    if m:
        raw = raw[: m.start()]
    plain = _SPACES.sub(" ", _MD_INLINE.sub(lambda g: g.group(1) or "", raw)).strip()
    return plain, explicit or slugify(plain)


def _front_matter_end(text: str) -> tuple[int, str]:
    """End offset of a leading YAML front matter block, and its title if any."""
    if not text.startswith("---\n"):
        return 0, ""
    close = text.find("\n---", 3)
    if close < 0 or text.count("\n", 0, close) > 60:
        return 0, ""
    title = ""
    for line in text[4:close].splitlines():
        if line.startswith("title:"):
            title = line[6:].strip().strip("\"'")
    return close + 4, title


def parse_markdown(text: str, fallback_title: str) -> ParsedDocument:
    skip, meta_title = _front_matter_end(text)
    heads: list[_Head] = []
    fence: str | None = None
    prev: tuple[int, str] | None = None  # a paragraph's first line: maybe a setext title
    last_blank = True
    for pos, line in _lines(text):
        if pos < skip:
            continue
        marker = _fence_marker(line)
        stripped = line.strip()
        if fence is not None:
            if marker is not None and marker[0] == fence[0] and len(marker) >= len(fence):
                fence = None
            prev, last_blank = None, False
            continue
        if marker is not None:
            fence, prev, last_blank = marker, None, False
            continue
        atx = _ATX.match(line.rstrip("\r\n"))
        setext = _SETEXT.match(line.rstrip("\r\n"))
        if atx:
            heading, anchor = _md_heading(atx.group(2) or "")
            heads.append((pos, pos + len(line.rstrip()), len(atx.group(1)), heading, anchor))
            prev = None
        elif setext and prev is not None:
            heading, anchor = _md_heading(prev[1])
            level = 1 if setext.group(1)[0] == "=" else 2
            heads.append((prev[0], pos + len(line.rstrip()), level, heading, anchor))
            prev = None
        elif stripped and last_blank and not line[:1].isspace() and not setext:
            prev = (pos, stripped)
        else:
            prev = None
        last_blank = not stripped
    title = meta_title or next((h[3] for h in heads if h[2] == 1), "") or fallback_title
    blocks = _paragraphs(text, _fence_marker)
    blocks = _split_at_headings(blocks, [h[0] for h in heads])
    return ParsedDocument(text, title, _sections(text, heads), blocks)


# --- plain text / reStructuredText ------------------------------------------------

_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+_.:])\1{2,}[ \t]*$")


def parse_text(text: str, fallback_title: str) -> ParsedDocument:
    """Plain text; reStructuredText-style underlined titles become sections."""
    lines = list(_lines(text))
    styles: list[tuple[str, bool]] = []
    heads: list[_Head] = []
    for i in range(1, len(lines)):
        pos, under = lines[i]
        m = _UNDERLINE.match(under.rstrip("\r\n"))
        title_pos, title_line = lines[i - 1]
        title = title_line.strip()
        if not m or not title or title_line[:1].isspace() or _UNDERLINE.match(title):
            continue
        if len(under.strip()) < min(len(title), 3) or len(under.strip()) + 2 < len(title):
            continue
        over = i >= 2 and lines[i - 2][1].strip() == under.strip()
        style = (m.group(1), over)
        if style not in styles:
            styles.append(style)
        start = lines[i - 2][0] if over else title_pos
        level = min(6, styles.index(style) + 1)
        heads.append((start, pos + len(under.rstrip()), level, title, slugify(title)))
    first_line = next((line.strip() for _, line in lines if line.strip()), "")
    title = heads[0][3] if heads else (first_line if 0 < len(first_line) <= 80 else "")
    blocks = _split_at_headings(_paragraphs(text), [h[0] for h in heads])
    return ParsedDocument(text, title or fallback_title, _sections(text, heads), blocks)


# --- HTML ---------------------------------------------------------------------------

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
    heads: list[_Head] = field(default_factory=list)
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
        text = _SPACES.sub(" ", "".join(self.inline)).strip()
        self.inline.clear()
        if text:
            self._emit(self.prefix + text)
        self.prefix = ""

    def heading(self, text: str, level: int, anchor: str) -> None:
        self.flush()
        text = _SPACES.sub(" ", text).replace("¶", "").strip()
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
    return _SPACES.sub(" ", text.split(" — ")[0]).strip()


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
    sections = _sections(text, out.heads)
    # A page that is mostly links (a table of contents, an index) is navigation:
    # it stays readable but gets no search chunks, or it would drown real hits.
    blocks = () if _link_density(mains[0]) > _NAVIGATION_LINK_DENSITY else tuple(out.blocks)
    return ParsedDocument(text, h1 or page_title or fallback_title, sections, blocks)


_NAVIGATION_LINK_DENSITY = 0.7


def _link_density(el: HtmlElement) -> float:
    def size(node: HtmlElement) -> int:
        return len(_SPACES.sub("", node.text_content()))

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


# --- dispatch -------------------------------------------------------------------------

SUFFIXES = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".mdx": "markdown",
    ".txt": "text",
    ".text": "text",
    ".rst": "text",
    ".html": "html",
    ".htm": "html",
}


def parse_document(relpath: str, raw: bytes) -> ParsedDocument:
    """Parse a file by its suffix; the fallback title is its file name."""
    name = PurePosixPath(relpath)
    fallback = name.stem.replace("_", " ").replace("-", " ").strip() or name.name
    kind = SUFFIXES.get(name.suffix.lower(), "text")
    if kind == "html":
        return parse_html(raw, fallback)
    text = raw.decode("utf-8", errors="replace").replace("\r\n", "\n")
    if text.startswith("\ufeff"):
        text = text[1:]
    if kind == "markdown":
        return parse_markdown(text, fallback)
    return parse_text(text, fallback)
