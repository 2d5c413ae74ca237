"""Evidence notes: what a page a step read holds for the step's goal, each fact with its span.

One call of the fast model per step whose observation holds fetched documents
(a page, a document section, corpus hits). The model copies a quote for every
fact; the quote is looked up in the stored text (exactly, or with spacing, case
and curly quotes folded) and the note keeps the stored text's own span and
offsets. A note whose quote the page does not hold is dropped: it would cite
words nobody fetched. The writer then reads notes instead of raw text
(`agent.step_views`), while the citation check still verifies every claim
against the raw text in the store.

Notes are an optimisation, never a failure: a garbled reply, a failed call or a
spent budget leaves the step without notes, and the writer reads its raw text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, Field

from agent.budget import BudgetExhausted, BudgetGate
from agent.errors import ModelCallError, ModelOutputError
from agent.models.structured import (
    ReplySchema,
    call_structured,
    grammar_constrained,
    json_schema_for,
)
from agent.observation import Observation, fence_text
from agent.prompts import render_prompt
from agent.state import Note
from agent.support import sentences

__all__ = [
    "NOTES_INPUT_CHARS",
    "NoteDraft",
    "NotesReply",
    "NotesTaken",
    "check_notes",
    "locate_span",
    "notes_schema",
    "noteworthy",
    "take_notes",
]

NOTES_INPUT_CHARS = 12_000
"""Page text the notes model reads per step, shared among the step's documents."""
RESERVED_CALLS = 3
"""Model calls notes never spend: the reflection and the writer still need them."""
_MAX_NOTES = 8
_GRAMMAR_NOTES = 3  # a small model under a grammar: a few notes, quotes from an enum
_MIN_QUOTE = 12  # shorter quotes ("42", "yes") match anywhere and prove nothing
_QUOTABLE = (20, 300)
_MAX_QUOTABLE = 48


class NoteDraft(BaseModel):
    quote: str = Field(description="the page's exact words the fact rests on, copied")
    fact: str = Field(description="the fact, in your own words, as it bears on the goal")


class NotesReply(ReplySchema):
    """The facts the pages hold for the step's goal, each with the page's exact words."""

    SCRIPT_KEY: ClassVar[str] = "Notes"

    notes: list[NoteDraft] = Field(default_factory=list)


@dataclass(frozen=True)
class NotesTaken:
    """What a notes call left on the step: kept notes, how many were dropped, or why none."""

    notes: tuple[Note, ...] = ()
    dropped: int = 0
    error: str = ""


def noteworthy(obs: Observation) -> bool:
    """A successful read of documents (not a search's snippets, not a tool's bare output)."""
    return obs.ok and bool(obs.documents) and any(p.kind == "document" for p in obs.passages)


def _shown(obs: Observation, limit: int) -> list[tuple[str, str]]:
    """(ref, text) of each document, cut to a fair share of ``limit``."""
    share = max(500, limit // max(1, len(obs.documents)))
    return [(ref, text[:share]) for ref, text in obs.documents.items()]


def _quotable(texts: Sequence[str]) -> list[str]:
    """Sentences a grammar can offer as quotes (spacing folded; no ``"`` or ``\\``:
    llama.cpp's grammar compiler does not escape them in an enum)."""
    found = (
        folded
        for text in texts
        for a, b in sentences(text)
        if _QUOTABLE[0] <= len(folded := " ".join(text[a:b].split())) <= _QUOTABLE[1]
        and not {'"', "\\"} & set(folded)
    )
    return list(dict.fromkeys(found))[:_MAX_QUOTABLE]


def notes_schema(texts: Sequence[str], *, grammar: bool) -> dict[str, Any]:
    """The reply schema for these pages. Under a grammar the quote is picked from the
    pages' own sentences (a small model cannot copy exactly) and written before the fact."""
    js = json_schema_for(NotesReply)
    js.pop("$defs", None)
    item: dict[str, Any] = {
        "type": "object",
        "properties": {
            "quote": {"type": "string", "maxLength": 400},
            "fact": {"type": "string", "maxLength": 400},
        },
        "required": ["quote", "fact"],
    }
    notes: dict[str, Any] = {"type": "array", "items": item, "maxItems": _MAX_NOTES}
    quotable = _quotable(texts) if grammar else []
    if quotable:
        item["properties"]["quote"] = {"type": "string", "enum": quotable}
        item["properties"]["fact"] = {"type": "string", "maxLength": 300}
        # A small model under a grammar otherwise settles for ``[]``; its notes
        # are real sentences of the page whatever it picks.
        notes.update(minItems=1, maxItems=_GRAMMAR_NOTES)
    js["properties"] = {"notes": notes}
    js["required"] = ["notes"]
    return js


_FOLDED = {'"': '"“”', "'": "'‘’", "-": "-–—"}


def _char_pattern(char: str) -> str:
    variants = _FOLDED.get(char.translate(str.maketrans("“”‘’–—", "\"\"''--")))
    return f"[{re.escape(variants)}]" if variants else re.escape(char)


def locate_span(quote: str, text: str) -> tuple[int, int] | None:
    """Where ``quote`` stands in ``text``: exactly, else with spacing, case and curly
    quotes folded (the fairness `normalize_text` allows a citation); None if nowhere."""
    quote = quote.strip()
    if len(quote) < _MIN_QUOTE:
        return None
    at = text.find(quote)
    if at >= 0:
        return at, at + len(quote)
    words = quote.split()
    pattern = r"\s+".join("".join(_char_pattern(c) for c in word) for word in words)
    found = re.search(pattern, text, flags=re.IGNORECASE)
    return (found.start(), found.end()) if found else None


def check_notes(drafts: Sequence[NoteDraft], documents: Mapping[str, str]) -> NotesTaken:
    """Keep the drafts whose quote a stored document holds, with that document's span."""
    kept: dict[tuple[str, int, int, str], Note] = {}
    dropped = 0
    for draft in drafts:
        fact = " ".join(draft.fact.split())
        where = next(
            (
                (ref, text, span)
                for ref, text in documents.items()
                if (span := locate_span(draft.quote, text)) is not None
            ),
            None,
        )
        if not fact or where is None:
            dropped += 1
            continue
        ref, text, (start, end) = where
        note = Note(fact=fact, source=ref, span=text[start:end], start=start, end=end)
        kept.setdefault((ref, start, end, fact), note)
    return NotesTaken(notes=tuple(kept.values()), dropped=dropped)


async def take_notes(
    model: BaseChatModel,
    obs: Observation,
    *,
    task: str,
    goal: str,
    gate: BudgetGate,
    retries: int,
    config: RunnableConfig | None = None,
) -> NotesTaken:
    """Notes on ``obs`` for ``goal``; never raises for the model's or the budget's sake."""
    budgets = gate.budgets
    if gate.model_calls + RESERVED_CALLS >= budgets.max_model_calls:
        return NotesTaken(error="not taken: the last model calls are kept for the writer")
    shown = _shown(obs, NOTES_INPUT_CHARS)
    pages = "\n".join(
        fence_text(text, ref, ident=str(n)) for n, (ref, text) in enumerate(shown, start=1)
    )
    messages = render_prompt("notes", task=task, goal=goal, pages=pages)
    schema = notes_schema([text for _, text in shown], grammar=grammar_constrained(model))
    try:
        reply = await call_structured(
            model,
            messages,
            NotesReply,
            gate=gate,
            json_schema=schema,
            retries=retries,
            config=config,
        )
    except BudgetExhausted as exc:
        return NotesTaken(error=f"not taken: {exc}")
    except (ModelOutputError, ModelCallError) as exc:
        return NotesTaken(error=f"the notes reply was unusable: {exc}")
    taken = check_notes(reply.value.notes, obs.documents)
    if taken.dropped and not taken.notes:
        return NotesTaken(
            dropped=taken.dropped,
            error=f"no note's quote is on the page ({taken.dropped} dropped)",
        )
    return taken
