"""Corpus hits and documents turned into observations with exact, offset-checked passages."""

from __future__ import annotations

from collections.abc import Callable

from agent.observation import ListItem, Observation, Passage
from tools._chunking import split_span
from tools._corpus_index import SearchHit, StoredDocument
from tools._corpus_parse import Section, paragraph_spans, slugify

__all__ = ["find_section", "read_observation", "search_observation"]

_MAX_PASSAGES = 300
_SECTIONS_LISTED = 40


def search_observation(tool: str, query: str, hits: list[SearchHit]) -> Observation:
    passages: list[Passage] = []
    documents: dict[str, str] = {}
    blocks: list[str] = []
    for n, hit in enumerate(hits, start=1):
        ref = f"{hit.path}#{hit.anchor}" if hit.anchor else hit.path
        title = " › ".join((hit.doc_title, *hit.headings))
        passages.append(Passage(ref=ref, title=title, text=hit.text, start=hit.start, end=hit.end))
        documents[ref] = hit.section_text
        blocks.append(f"[{n}] {ref} — {title}\n{hit.text}")
    paths = list(dict.fromkeys(h.path for h in hits))
    refs = list(dict.fromkeys(p.ref for p in passages))
    return Observation(
        tool=tool,
        ok=True,
        content=f"{len(hits)} passages from the corpus for {query!r}:\n\n" + "\n\n".join(blocks),
        passages=tuple(passages),
        documents=documents,
        value=hits[0].text,
        fields={
            "path": paths[0],
            "paths": "\n".join(paths),
            "ref": refs[0],
            "refs": "\n".join(refs),
        },
        lists={
            "results": tuple(
                ListItem(url=p.ref, title=p.title, snippet=p.text[:200]) for p in passages
            )
        },
        untrusted=True,
        via="fts5",
    )


def find_section(sections: tuple[Section, ...], wanted: str) -> int | None:
    """A section by anchor, then by heading text, then by the heading's slug."""
    bare = wanted.lstrip("#")
    keys: tuple[Callable[[Section], bool], ...] = (
        lambda s: s.anchor == bare,
        lambda s: s.anchor.casefold() == bare.casefold(),
        lambda s: s.heading.casefold() == bare.casefold(),
        lambda s: s.anchor == slugify(bare),
    )
    for matches in keys:
        for i, sec in enumerate(sections):
            if sec.level > 0 and matches(sec):
                return i
    return None


def _subtree_end(sections: tuple[Section, ...], index: int) -> int:
    """Where a section ends once its subsections are included."""
    level = sections[index].level
    for sec in sections[index + 1 :]:
        if 0 < sec.level <= level:
            return sec.start
    return sections[-1].end if sections else 0


def read_observation(tool: str, doc: StoredDocument, index: int | None, limit: int) -> Observation:
    if index is None:
        ref, start, end, title = doc.path, 0, len(doc.text), doc.title
    else:
        sec = doc.sections[index]
        ref = f"{doc.path}#{sec.anchor}"
        start, end = sec.start, _subtree_end(doc.sections, index)
        title = doc.title if sec.heading == doc.title else f"{doc.title} › {sec.heading}"
    text = doc.text[start:end]
    passages: list[Passage] = []
    for a, b in paragraph_spans(text):
        for p_start, p_end in split_span(text, a, b, 1200):
            passages.append(
                Passage(ref=ref, title=title, text=text[p_start:p_end], start=p_start, end=p_end)
            )
    shown, truncated = text, len(text) > limit
    if truncated:
        listed = [
            f"- {s.anchor}: {s.heading}"
            for s in doc.sections
            if s.anchor and start <= s.start < end
        ]
        shown = (
            text[:limit]
            + f"\n\n[…{len(text) - limit} more characters. Read one section with"
            + " read_document(path, section=ANCHOR); sections:\n"
            + "\n".join(listed[:_SECTIONS_LISTED])
            + ("\n…" if len(listed) > _SECTIONS_LISTED else "")
            + "]"
        )
    return Observation(
        tool=tool,
        ok=True,
        content=f"{title} ({ref}), {len(text)} characters:\n\n{shown}",
        passages=tuple(passages[:_MAX_PASSAGES]),
        documents={ref: text},
        value=text,
        fields={"path": doc.path, "ref": ref, "title": title},
        untrusted=True,
        via="fts5",
        truncated=truncated,
    )


# --- the tools --------------------------------------------------------------------------
