"""Claims to Markdown with numbered citations, each checked against what the run fetched.

The model writes the answer as claims that cite evidence passage ids (``s2.1``).
A citation survives only if its passage exists and its quote (the model's own
narrower quote, or else the whole passage) is found in the stored source text.
A claim left with no surviving citation is kept but marked unsupported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, Field

from agent.observation import normalize_text
from agent.state import Answer, Citation
from agent.step_views import EvidenceItem

__all__ = ["CitationCheck", "ClaimDraft", "check_claims"]

_QUOTE_SHOWN = 500


class ClaimDraft(BaseModel):
    text: str = Field(description="one claim, in your own words")
    cites: list[str] = Field(default_factory=list, description="evidence ids, e.g. s1.2")
    quote: str = Field(default="", description="optional exact words from the cited passage")


@dataclass(frozen=True)
class CitationCheck:
    answer: Answer
    checked: int


def check_claims(
    claims: Sequence[ClaimDraft],
    evidence: Sequence[EvidenceItem],
    *,
    gaps: Sequence[str] = (),
    heading: str = "",
) -> CitationCheck:
    by_id = {item.id: item for item in evidence}
    numbers: dict[tuple[str, str], int] = {}
    citations: list[Citation] = []
    rejected: list[str] = []
    paragraphs: list[str] = []
    checked = 0
    for claim in claims:
        marks: list[int] = []
        for cid in dict.fromkeys(claim.cites):
            checked += 1
            item = by_id.get(cid)
            if item is None:
                rejected.append(f"{cid}: no such evidence passage")
                continue
            quote = claim.quote.strip() or item.passage.text.strip()
            if normalize_text(quote) not in normalize_text(item.source_text()):
                rejected.append(f"{cid}: quote not found in {item.passage.ref}: {quote[:80]!r}")
                continue
            key = (item.passage.ref, normalize_text(quote))  # one number per source quote
            if key not in numbers:
                numbers[key] = len(numbers) + 1
                citations.append(
                    Citation(
                        n=numbers[key],
                        passage_id=cid,
                        source=item.passage.ref,
                        title=item.passage.title,
                        quote=quote[:_QUOTE_SHOWN],
                    )
                )
            marks.append(numbers[key])
        text = claim.text.strip()
        if not text:
            continue
        suffix = "".join(f"[{n}]" for n in marks) if marks else " *(unsupported)*"
        paragraphs.append(f"{text} {suffix}" if marks else f"{text}{suffix}")
    body = "\n\n".join(paragraphs) or "The gathered evidence does not answer the task."
    parts = [heading, body] if heading else [body]
    if gaps:
        parts.append("**Not established by the evidence:**\n" + "\n".join(f"- {g}" for g in gaps))
    if citations:
        parts.append(
            "**Sources**\n"
            + "\n".join(
                f"[{c.n}] {c.title + ' — ' if c.title else ''}{c.source}\n    > "
                + c.quote.replace("\n", " ")
                + ("…" if len(c.quote) >= _QUOTE_SHOWN else "")
                for c in citations
            )
        )
    answer = Answer(
        markdown="\n\n".join(parts),
        citations=tuple(citations),
        gaps=tuple(gaps),
        rejected=tuple(rejected),
    )
    return CitationCheck(answer=answer, checked=checked)
