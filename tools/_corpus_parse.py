"""Read a corpus file by its suffix: Markdown, plain text / reST, or HTML.

The formats live in `tools._corpus_text` and `tools._corpus_html`; this module
is the one entry point the index uses, and re-exports what they share.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from tools._corpus_html import parse_html
from tools._corpus_text import (
    ParsedDocument,
    Section,
    paragraph_spans,
    parse_markdown,
    parse_text,
    slugify,
)

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
