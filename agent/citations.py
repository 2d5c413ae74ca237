"""Claims to Markdown with numbered citations, each checked against what the run fetched.

The model writes the answer as claims that cite evidence passage ids (``s2.1``).
A citation is verified only if both hold:

1. **quoted**: its quote (the model's own narrower quote) is found in the
   stored source text; with no quote, the passage itself must be in it;
2. **supported**: the claim passes the support test (`agent.support`) against
   the quote's sentences, or, with no quote, against the passage's best
   sentence; at high effort a model judgement (`agent.support_judge`) must
   agree as well.

A citation that fails either is dropped with its reason in ``Answer.rejected``;
a claim left with no verified citation is kept but marked unsupported. A
search result's snippet is cited as ``kind: "snippet"`` and counted apart from
fetched documents. `CitationTally` holds the counts the answer, the JSON
report and the ``citation_check`` event show.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from pydantic import BaseModel, Field

from agent.observation import normalize_text
from agent.state import Answer, Citation, CitationTally
from agent.step_views import EvidenceItem
from agent.support import Support, best_support, sentences, support_in_context

__all__ = [
    "CitationCheck",
    "CitationVerdict",
    "ClaimDraft",
    "ClaimsAssessment",
    "assess_claims",
    "check_claims",
    "claims_schema",
    "render_answer",
    "tally_assessment",
    "tally_line",
]

_QUOTE_SHOWN = 500


class ClaimDraft(BaseModel):
    text: str = Field(description="one claim, in your own words")
    cites: list[str] = Field(default_factory=list, description="evidence ids, e.g. s1.2")
    quote: str = Field(default="", description="optional exact words from the cited passage")
    label: str = Field(default="", description="shown before the claim, not checked (partials)")


@dataclass(frozen=True)
class CitationVerdict:
    """One (claim, cited passage) pair and what the check found."""

    claim: int
    passage_id: str
    item: EvidenceItem | None
    quoted: bool
    support: Support | None = None
    reason: str = ""

    @property
    def verified(self) -> bool:
        return self.quoted and self.support is not None and self.support.supported

    def refuted(self, reason: str) -> CitationVerdict:
        """This verdict with its support withdrawn (a model judged otherwise)."""
        span = self.support.span if self.support else ""
        return replace(self, support=Support(False, span, reason), reason=reason)


@dataclass(frozen=True)
class ClaimsAssessment:
    claims: tuple[ClaimDraft, ...]
    verdicts: tuple[CitationVerdict, ...]
    judged_by: str = "words"


@dataclass(frozen=True)
class CitationCheck:
    answer: Answer
    checked: int

    @property
    def tally(self) -> CitationTally:
        return self.answer.tally


def _verdict(index: int, claim: ClaimDraft, cid: str, item: EvidenceItem | None) -> CitationVerdict:
    if item is None:
        return CitationVerdict(index, cid, None, quoted=False, reason="no such evidence passage")
    source = item.source_text()
    quote = claim.quote.strip()
    if quote:
        found = support_in_context(claim.text, quote, source, title=item.passage.title)
        if found is None:
            return CitationVerdict(
                index,
                cid,
                item,
                False,
                reason=f"quote not found in {item.passage.ref}: {quote[:80]!r}",
            )
        return CitationVerdict(index, cid, item, True, found, found.reason)
    passage = item.passage.text.strip()
    if not passage or normalize_text(passage) not in normalize_text(source):
        return CitationVerdict(
            index, cid, item, False, reason=f"passage not found in {item.passage.ref}"
        )
    if item.passage.kind == "output":
        # A bare tool output ("42") answers its step: judge it with the step's goal and call.
        call = json.dumps(item.record.input, ensure_ascii=False)
        passage = f"{item.goal} — {item.record.tool}({call}) returned {passage}"
    # No quote (small models are not asked for one): the passage's best sentence
    # must support the claim, so the check can still fail.
    found = best_support(claim.text, passage, title=item.passage.title)
    return CitationVerdict(index, cid, item, True, found, found.reason)


_QUOTABLE = (20, 300)  # sentence lengths a small model may pick as its quote
_MAX_QUOTABLE = 48


def claims_schema(evidence: Sequence[EvidenceItem], *, grammar: bool) -> dict[str, object]:
    """The JSON schema of the synthesis's ``claims`` for this evidence.

    A model decoding under a grammar (a small local one) cannot copy words
    exactly, so it is not asked for ids and free quotes: it picks its quote
    from the evidence's own sentences first (an enum the grammar enforces) and
    writes the claim after it; the quote names the passage it cites. Its claim
    is still free text, so the support test can still reject it.
    """
    if grammar:
        # Spacing is folded (quotes are matched as `normalize_text` folds them) and
        # sentences with a double quote or backslash are left out: llama.cpp's
        # grammar compiler does not escape them in an enum.
        quotable = list(
            dict.fromkeys(
                text
                for item in evidence
                for a, b in sentences(item.passage.text[: item.shown])
                if _QUOTABLE[0] <= len(text := " ".join(item.passage.text[a:b].split()))
                and len(text) <= _QUOTABLE[1]
                and not {'"', "\\"} & set(text)
            )
        )[:_MAX_QUOTABLE]
        if quotable:
            return {
                "type": "array",
                "minItems": 1,
                "maxItems": 3,
                "items": {
                    "type": "object",
                    "properties": {
                        "quote": {"type": "string", "enum": quotable},
                        "text": {"type": "string", "maxLength": 400},
                    },
                    "required": ["quote", "text"],
                },
            }
    return {
        "type": "array",
        "minItems": 1,
        "maxItems": 12,
        "items": {
            "type": "object",
            "properties": {
                "text": {"type": "string", "maxLength": 600},
                "cites": {
                    "type": "array",
                    "items": {"type": "string", "enum": [item.id for item in evidence]},
                    "minItems": 1,
                    "maxItems": 4,
                },
                "quote": {"type": "string", "maxLength": 300},
            },
            "required": ["text", "cites"],
        },
    }


def _cited(claim: ClaimDraft, evidence: Sequence[EvidenceItem]) -> list[str]:
    """The ids a claim cites; a claim with a quote and no ids cites the passage it quotes."""
    if claim.cites or not claim.quote.strip():
        return list(dict.fromkeys(claim.cites))
    wanted = normalize_text(claim.quote)
    found = [item.id for item in evidence if wanted in normalize_text(item.passage.text)]
    return found[:1] or ["(no passage holds the quote)"]


def assess_claims(
    claims: Sequence[ClaimDraft], evidence: Sequence[EvidenceItem]
) -> ClaimsAssessment:
    """The quote and support test for every citation of every claim (no model)."""
    by_id = {item.id: item for item in evidence}
    verdicts = [
        _verdict(i, claim, cid, by_id.get(cid))
        for i, claim in enumerate(claims)
        for cid in _cited(claim, evidence)
    ]
    return ClaimsAssessment(tuple(claims), tuple(verdicts))


def check_claims(
    claims: Sequence[ClaimDraft],
    evidence: Sequence[EvidenceItem],
    *,
    gaps: Sequence[str] = (),
    heading: str = "",
    written_by: Literal["model", "evidence"] = "evidence",
) -> CitationCheck:
    """`assess_claims` then `render_answer`: the whole check without a model judgement.

    The synthesizer uses it for answers built from the evidence without the
    model (``written_by="evidence"``); pass ``"model"`` for claims a model wrote.
    """
    assessment = assess_claims(claims, evidence)
    return render_answer(assessment, gaps=gaps, heading=heading, written_by=written_by)


def tally_assessment(assessment: ClaimsAssessment, claims_unsupported: int) -> CitationTally:
    """The counts of a checked set of claims (``claims_unsupported``: left with no citation)."""
    verdicts = assessment.verdicts
    snippets = sum(
        1 for v in verdicts if v.verified and v.item and v.item.passage.kind == "snippet"
    )
    verified = sum(1 for v in verdicts if v.verified)
    quoted = sum(1 for v in verdicts if v.quoted)
    return CitationTally(
        checked=len(verdicts),
        quoted=quoted,
        supported=verified - snippets,
        unsupported=quoted - verified,
        snippets=snippets,
        claims=sum(1 for c in assessment.claims if c.text.strip()),
        claims_unsupported=claims_unsupported,
        judged_by=assessment.judged_by,
    )


def tally_line(tally: CitationTally) -> str:
    """``4 of 6 citations verified (5 quoted, 4 supported, 1 unsupported)``."""
    parts = [f"{tally.quoted} quoted", f"{tally.supported} supported"]
    parts.append(f"{tally.unsupported} unsupported")
    if tally.snippets:
        parts.append(f"{tally.snippets} search snippet{'s' if tally.snippets > 1 else ''}")
    return f"{tally.supported} of {tally.checked} citations verified ({', '.join(parts)})"


def render_answer(
    assessment: ClaimsAssessment,
    *,
    gaps: Sequence[str] = (),
    heading: str = "",
    written_by: Literal["model", "evidence"] = "model",
) -> CitationCheck:
    """The answer's Markdown: claims with their citation numbers, the gaps, the sources."""
    numbers: dict[tuple[str, str], int] = {}
    citations: list[Citation] = []
    rejected: list[str] = []
    paragraphs: list[str] = []
    marks: dict[int, list[int]] = {}
    for v in assessment.verdicts:
        if not v.verified or v.item is None or v.support is None:
            rejected.append(f"{v.passage_id}: {v.reason or 'not supported'}")
            continue
        passage = v.item.passage
        # The model's own quote when it gave one, else the sentence that supports the claim.
        quote = assessment.claims[v.claim].quote.strip() or (
            passage.text.strip() if passage.kind == "output" else v.support.span.strip()
        )
        key = (passage.ref, normalize_text(quote))  # one number per source quote
        if key not in numbers:
            numbers[key] = len(numbers) + 1
            citations.append(
                Citation(
                    n=numbers[key],
                    passage_id=v.passage_id,
                    source=passage.ref,
                    title=passage.title,
                    quote=quote[:_QUOTE_SHOWN],
                    kind=passage.kind,
                )
            )
        marks.setdefault(v.claim, []).append(numbers[key])
    unsupported_claims = 0
    for i, claim in enumerate(assessment.claims):
        text = claim.text.strip()
        if not text:
            continue
        if claim.label:
            text = f"{claim.label}: {text}"
        cited = list(dict.fromkeys(marks.get(i, [])))
        if cited:
            paragraphs.append(f"{text} " + "".join(f"[{n}]" for n in cited))
        else:
            unsupported_claims += 1
            paragraphs.append(f"{text} *(unsupported)*")
    tally = tally_assessment(assessment, unsupported_claims)
    body = "\n\n".join(paragraphs) or "The gathered evidence does not answer the task."
    parts = [heading, body] if heading else [body]
    if gaps:
        parts.append("**Not established by the evidence:**\n" + "\n".join(f"- {g}" for g in gaps))
    if citations:
        parts.append(
            "**Sources**\n"
            + "\n".join(
                f"[{c.n}] {'(search snippet) ' if c.kind == 'snippet' else ''}"
                f"{c.title + ' — ' if c.title else ''}{c.source}\n    > "
                + c.quote.replace("\n", " ")
                + ("…" if len(c.quote) >= _QUOTE_SHOWN else "")
                for c in citations
            )
        )
    if tally.checked:
        parts.append(f"_Citation check: {tally_line(tally)}._")
    answer = Answer(
        markdown="\n\n".join(parts),
        citations=tuple(citations),
        gaps=tuple(gaps),
        rejected=tuple(rejected),
        tally=tally,
        written_by=written_by if tally.claims else "none",
    )
    return CitationCheck(answer=answer, checked=tally.checked)
