"""Markdown and plain-text (reST-style) files as stored text, sections and paragraphs.

Both are stored as their decoded text (UTF-8, CRLF folded to LF), so offsets
point into what the file says. Headings become sections with GitHub-style
anchors (or an explicit ``{#id}``); fenced code is never split or mistaken
for headings. `ParsedDocument` and `Section` are what every format yields.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = [
    "SPACES",
    "Head",
    "ParsedDocument",
    "Section",
    "document_sections",
    "paragraph_spans",
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
SPACES = re.compile(r"\s+")


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


Head = tuple[int, int, int, str, str]  # start, end, level, heading, anchor


def document_sections(text: str, heads: list[Head]) -> tuple[Section, ...]:
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
    plain = SPACES.sub(" ", _MD_INLINE.sub(lambda g: g.group(1) or "", raw)).strip()
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
    heads: list[Head] = []
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
    return ParsedDocument(text, title, document_sections(text, heads), blocks)


# --- plain text / reStructuredText ------------------------------------------------

_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+_.:])\1{2,}[ \t]*$")


def parse_text(text: str, fallback_title: str) -> ParsedDocument:
    """Plain text; reStructuredText-style underlined titles become sections."""
    lines = list(_lines(text))
    styles: list[tuple[str, bool]] = []
    heads: list[Head] = []
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
    return ParsedDocument(text, title or fallback_title, document_sections(text, heads), blocks)
