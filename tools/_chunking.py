"""Cut a parsed document into search chunks of about ``min_chars``–``max_chars``.

A chunk is a span of the stored text, so its text is always an exact substring
that a citation can quote. Paragraphs of one section are packed greedily up to
``max_chars``; a paragraph longer than that is split at line, then sentence,
then word boundaries. A chunk shorter than ``min_chars`` (a one-line API entry,
a bare heading) is joined with the chunk after it and keeps its own section's
anchor: left alone, BM25's length normalisation ranks such scraps above the
paragraphs that really answer (measured in ``bench/corpus_recall.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from tools._corpus_parse import ParsedDocument, Section

__all__ = ["Chunk", "chunk_document", "heading_path", "split_span"]

_SEPARATORS = ("\n", ". ", "; ", ", ", " ")


@dataclass(frozen=True)
class Chunk:
    section: int  # index into the document's sections
    start: int
    end: int


def heading_path(sections: tuple[Section, ...], index: int) -> tuple[str, ...]:
    """The headings from the top of the document down to ``sections[index]``."""
    path: list[tuple[int, str]] = []
    for sec in sections[: index + 1]:
        if sec.level == 0:
            continue
        while path and path[-1][0] >= sec.level:
            path.pop()
        path.append((sec.level, sec.heading))
    return tuple(h for _, h in path)


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def split_span(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Pieces of at most ``max_chars``, each cut at the coarsest boundary that fits."""
    pieces: list[tuple[int, int]] = []
    start, end = _trimmed(text, start, end)
    while end - start > max_chars:
        window = text[start : start + max_chars]
        cut = max_chars
        for sep in _SEPARATORS:
            found = window.rfind(sep, max_chars // 3)
            if found > 0:
                cut = found + len(sep)
                break
        piece = _trimmed(text, start, start + cut)
        if piece[1] > piece[0]:
            pieces.append(piece)
        start, end = _trimmed(text, start + cut, end)
    if end > start:
        pieces.append((start, end))
    return pieces


def chunk_document(
    doc: ParsedDocument, *, min_chars: int = 300, max_chars: int = 1200
) -> list[Chunk]:
    """Chunks in document order; each belongs to the section it starts in."""
    chunks: list[Chunk] = []
    blocks = list(doc.blocks)
    b = 0
    for index, sec in enumerate(doc.sections):
        pieces: list[tuple[int, int]] = []
        while b < len(blocks) and blocks[b][0] < sec.end:
            start, end = blocks[b]
            if end > sec.start:
                pieces.extend(
                    split_span(doc.text, max(start, sec.start), min(end, sec.end), max_chars)
                )
            b += 1
        if not pieces:
            continue
        spans: list[tuple[int, int]] = []
        for start, end in pieces:
            if spans and end - spans[-1][0] <= max_chars:
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((start, end))
        # A short tail reads better joined to the chunk before it, if that stays near max.
        short_tail = len(spans) > 1 and spans[-1][1] - spans[-1][0] < min_chars // 2
        if short_tail and spans[-1][1] - spans[-2][0] <= max_chars + max_chars // 4:
            spans[-2:] = [(spans[-2][0], spans[-1][1])]
        chunks.extend(Chunk(index, start, end) for start, end in spans)
    # Join a short chunk with the next one (a short section with what follows it),
    # then drop what is still a bare heading.
    merged: list[Chunk] = []
    for ch in chunks:
        last = merged[-1] if merged else None
        if last and last.end - last.start < min_chars and ch.end - last.start <= max_chars:
            merged[-1] = Chunk(last.section, last.start, ch.end)
        else:
            merged.append(ch)
    return [c for c in merged if c.end > doc.sections[c.section].body]
