"""A long report's parts: what the writer asks for, how its outline is repaired, and the
assembled report with references numbered by source.

The writer node (`agent.nodes.write_report`) asks for an `Outline`, then for each
section's claims (`SectionDraft`, all sections at once), then a `SummaryDraft`.
Every claim goes through the same citation check as a short answer
(`agent.citations.assess_claims`); `assemble_report` then numbers the sources
in reading order, so ``[3]`` is the third source wherever it is cited, and each
citation keeps its own quote (the HTML report shows it on hover).

A section works from the evidence assigned to it. Today that is the passages
`agent.step_views.gather_evidence` picks; anything with the same `EvidenceItem`
shape (notes, for instance) can feed it unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from agent.citations import (
    CitationCheck,
    CitationVerdict,
    ClaimDraft,
    ClaimsAssessment,
    claims_schema,
    tally_assessment,
    tally_line,
)
from agent.models.structured import ReplySchema, json_schema_for
from agent.observation import Passage, fence_text, normalize_text
from agent.state import Answer, Citation, Reference, ReportClaim, ReportSection
from agent.step_views import EvidenceItem
from agent.support import Support

__all__ = [
    "MAX_SECTIONS",
    "Outline",
    "OutlineSection",
    "PlannedSection",
    "ReportPlan",
    "SectionDraft",
    "SummaryDraft",
    "WrittenPart",
    "assemble_report",
    "claims_reply_schema",
    "evidence_block",
    "evidence_listing",
    "merge_parts",
    "outline_schema",
    "plan_sections",
]

MAX_SECTIONS = 6
_MAX_PER_SECTION = 8  # passages one section may draw on
_QUOTE_SHOWN = 500


class OutlineSection(BaseModel):
    title: str = Field(description="the section's heading")
    focus: str = Field(default="", description="what the section must establish")
    evidence: list[str] = Field(
        default_factory=list, description="ids of the evidence passages it draws on"
    )


class Outline(ReplySchema):
    """Plan the report: a title and its sections, each with the evidence it draws on."""

    SCRIPT_KEY: ClassVar[str] = "Outline"

    title: str = ""
    sections: list[OutlineSection] = Field(default_factory=list)


class SectionDraft(ReplySchema):
    """Write one section of the report as claims, each citing its evidence."""

    SCRIPT_KEY: ClassVar[str] = "Section"

    claims: list[ClaimDraft] = Field(default_factory=list)


class SummaryDraft(ReplySchema):
    """Summarize the report in at most three claims, each citing evidence."""

    SCRIPT_KEY: ClassVar[str] = "ReportSummary"

    claims: list[ClaimDraft] = Field(default_factory=list)


def outline_schema(evidence: Sequence[EvidenceItem]) -> dict[str, Any]:
    """The outline's JSON schema, its evidence ids an enum (so a grammar can enforce them)."""
    js = json_schema_for(Outline)
    js.pop("$defs", None)
    js["properties"] = {
        "title": {"type": "string", "maxLength": 120},
        "sections": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_SECTIONS,
            "items": {
                "type": "object",
                "properties": {
                    "title": {"type": "string", "maxLength": 80},
                    "focus": {"type": "string", "maxLength": 200},
                    "evidence": {
                        "type": "array",
                        "items": {"type": "string", "enum": [item.id for item in evidence]},
                        "minItems": 1,
                        "maxItems": _MAX_PER_SECTION,
                    },
                },
                "required": ["title", "evidence"],
            },
        },
    }
    # Both required: with defaults left optional a grammar-bound model may answer ``{}``.
    js["required"] = ["title", "sections"]
    return js


def claims_reply_schema(
    schema: type[SectionDraft] | type[SummaryDraft],
    evidence: Sequence[EvidenceItem],
    *,
    grammar: bool,
    max_claims: int,
) -> dict[str, Any]:
    """A section's or the summary's JSON schema: the synthesizer's claims, fewer of them."""
    js = json_schema_for(schema)
    js.pop("$defs", None)
    claims = claims_schema(evidence, grammar=grammar)
    shipped = claims.get("maxItems")
    claims["maxItems"] = min(shipped, max_claims) if isinstance(shipped, int) else max_claims
    js["properties"] = {"claims": claims}
    js["required"] = ["claims"]
    return js


def evidence_listing(evidence: Sequence[EvidenceItem], *, chars: int = 240) -> str:
    """Each passage's id, title and first words, fenced: what the outline is planned from."""
    lines = []
    for item in evidence:
        text = " ".join(item.passage.text.split())
        text = text if len(text) <= chars else text[:chars] + " …"
        head = f"{item.passage.title} — {text}" if item.passage.title else text
        lines.append(fence_text(head, item.passage.ref, ident=item.id))
    return "\n".join(lines)


def evidence_block(evidence: Sequence[EvidenceItem]) -> str:
    """The passages a section is written from, each fenced under its id."""
    blocks = []
    for item in evidence:
        text = item.passage.text.strip()
        text = text if len(text) <= item.shown else text[: item.shown] + " …"
        blocks.append(fence_text(text, item.passage.ref, ident=item.id))
    return "\n".join(blocks)


@dataclass(frozen=True)
class PlannedSection:
    title: str
    focus: str
    evidence: tuple[EvidenceItem, ...]


@dataclass(frozen=True)
class ReportPlan:
    """The sections to write; ``note`` says how a garbled outline was repaired or replaced."""

    title: str
    sections: tuple[PlannedSection, ...]
    note: str = ""


def plan_sections(
    outline: Outline | None, evidence: Sequence[EvidenceItem], *, problem: str = ""
) -> ReportPlan:
    """The model's outline cleaned up; without a usable one, one section per source.

    Unknown evidence ids are dropped, sections left with no evidence are
    dropped, sections under one title are merged, at most `MAX_SECTIONS` are
    kept. ``problem`` is why there is no outline (the model's reply was unusable).
    """
    by_id = {item.id: item for item in evidence}
    if outline is None:
        return _by_source(evidence, f"the outline was unusable ({problem}); one section per source")
    merged: dict[str, PlannedSection] = {}
    dropped = 0
    for i, section in enumerate(outline.sections, start=1):
        title = " ".join(section.title.split())[:80] or f"Part {i}"
        planned = merged.setdefault(
            title.casefold(), PlannedSection(title, section.focus.strip(), ())
        )
        items = list(planned.evidence)
        for cid in dict.fromkeys(section.evidence):
            item = by_id.get(cid.strip())
            if item is None:
                dropped += 1
            elif all(item.id != had.id for had in items):
                items.append(item)
        merged[title.casefold()] = replace(planned, evidence=tuple(items[:_MAX_PER_SECTION]))
    sections = [s for s in merged.values() if s.evidence]
    notes = []
    if dropped:
        notes.append(f"{dropped} unknown evidence id{'s' if dropped > 1 else ''} dropped")
    if len(sections) > MAX_SECTIONS:
        notes.append(f"{len(sections) - MAX_SECTIONS} sections beyond {MAX_SECTIONS} dropped")
        sections = sections[:MAX_SECTIONS]
    if not sections:
        return _by_source(
            evidence,
            "the outline assigned no known evidence to any section; one section per source",
        )
    title = " ".join(outline.title.split())[:120]
    return ReportPlan(title, tuple(sections), "; ".join(notes))


def _by_source(evidence: Sequence[EvidenceItem], note: str) -> ReportPlan:
    groups: dict[str, list[EvidenceItem]] = {}
    for item in evidence:
        groups.setdefault(item.passage.ref, []).append(item)
    sources = list(groups.values())
    # Sources beyond the cap join a section, taking turns with its own passages.
    shared: list[list[list[EvidenceItem]]] = [[g] for g in sources[:MAX_SECTIONS]]
    for i, extra in enumerate(sources[MAX_SECTIONS:]):
        shared[i % MAX_SECTIONS].append(extra)
    sections = []
    for section in shared:
        turns = [g[k] for k in range(max(len(g) for g in section)) for g in section if k < len(g)]
        first = section[0][0].passage
        sections.append(
            PlannedSection(first.title or first.ref, "", tuple(turns[:_MAX_PER_SECTION]))
        )
    return ReportPlan("", tuple(sections), note)


@dataclass(frozen=True)
class WrittenPart:
    """A section as written and checked; ``assessment`` None when it could not be written."""

    title: str
    assessment: ClaimsAssessment | None
    problem: str = ""


def _quote(claim: ClaimDraft, passage: Passage, support: Support) -> str:
    """The model's own quote, else the sentence that supports the claim (as a short answer)."""
    return claim.quote.strip() or (
        passage.text.strip() if passage.kind == "output" else support.span.strip()
    )


def merge_parts(
    summary: WrittenPart | None, parts: Sequence[WrittenPart]
) -> tuple[ClaimsAssessment, tuple[tuple[int, int], ...]]:
    """Every part's claims as one assessment (summary first), and each part's claim range.

    One assessment, so a model judgement (`agent.support_judge`) can see the whole report
    in one call; `assemble_report` takes the judged one back.
    """
    claims: list[ClaimDraft] = []
    verdicts: list[CitationVerdict] = []
    spans: list[tuple[int, int]] = []
    for part in [*([summary] if summary else []), *parts]:
        start = len(claims)
        if part.assessment is not None:
            claims.extend(part.assessment.claims)
            verdicts.extend(replace(v, claim=v.claim + start) for v in part.assessment.verdicts)
        spans.append((start, len(claims)))
    return ClaimsAssessment(tuple(claims), tuple(verdicts)), tuple(spans)


def assemble_report(
    title: str,
    summary: WrittenPart | None,
    parts: Sequence[WrittenPart],
    *,
    gaps: Sequence[str] = (),
    judged: ClaimsAssessment | None = None,
    written_by: Literal["model", "evidence"] = "model",
) -> CitationCheck:
    """One report from checked parts: summary, sections, references numbered by source.

    ``judged``: `merge_parts`'s assessment after a model judgement withdrew support.
    """
    ordered = [*([summary] if summary else []), *parts]
    combined, spans = merge_parts(summary, parts)
    if judged is not None:
        if judged.claims != combined.claims:
            raise ValueError("the judged assessment is not this report's")
        combined = judged
    claims = list(combined.claims)
    refs: dict[str, Reference] = {}
    cites: dict[tuple[str, str], Citation] = {}
    per_claim: dict[int, list[Citation]] = {}
    rejected: list[str] = []
    for v in combined.verdicts:
        if not v.verified or v.item is None or v.support is None:
            rejected.append(f"{v.passage_id}: {v.reason or 'not supported'}")
            continue
        passage = v.item.passage
        if passage.ref not in refs:
            refs[passage.ref] = Reference(
                n=len(refs) + 1, source=passage.ref, title=passage.title, kind=passage.kind
            )
        quote = _quote(combined.claims[v.claim], passage, v.support)
        key = (passage.ref, normalize_text(quote))
        if key not in cites:
            cites[key] = Citation(
                n=refs[passage.ref].n,
                passage_id=v.passage_id,
                source=passage.ref,
                title=passage.title,
                quote=quote[:_QUOTE_SHOWN],
                kind=passage.kind,
            )
        found = per_claim.setdefault(v.claim, [])
        if cites[key] not in found:
            found.append(cites[key])
    report_claims = [
        ReportClaim(text=c.text.strip(), citations=tuple(per_claim.get(i, ())))
        for i, c in enumerate(claims)
    ]
    built = [
        ReportSection(title=part.title, claims=tuple(c for c in report_claims[a:b] if c.text))
        for part, (a, b) in zip(ordered, spans, strict=True)
    ]
    summary_section = built[0] if summary else None
    sections = built[1:] if summary else built
    unsupported = sum(1 for c in report_claims if c.text and not c.citations)
    tally = tally_assessment(combined, unsupported)
    references = tuple(refs.values())
    gaps = [*gaps, *(f"{p.title}: not written ({p.problem})" for p in parts if p.problem)]
    answer = Answer(
        markdown=_markdown(summary_section, sections, references, cites.values(), gaps, tally),
        citations=tuple(cites.values()),
        gaps=tuple(gaps),
        rejected=tuple(rejected),
        tally=tally,
        written_by=written_by if tally.claims else "none",
        title=title,
        summary=summary_section.claims if summary_section else (),
        sections=tuple(s for s in sections if s.claims),
        references=references,
    )
    return CitationCheck(answer=answer, checked=tally.checked)


def _paragraph(claims: Sequence[ReportClaim]) -> str:
    out = []
    for claim in claims:
        marks = "".join(f"[{n}]" for n in dict.fromkeys(c.n for c in claim.citations))
        out.append(f"{claim.text} {marks}" if marks else f"{claim.text} *(unsupported)*")
    return " ".join(out)


def _markdown(
    summary: ReportSection | None,
    sections: Sequence[ReportSection],
    references: Sequence[Reference],
    citations: Any,
    gaps: Sequence[str],
    tally: Any,
) -> str:
    parts = []
    if summary and summary.claims:
        parts.append("## Summary\n\n" + _paragraph(summary.claims))
    parts += [f"## {s.title}\n\n{_paragraph(s.claims)}" for s in sections if s.claims]
    if not parts:
        parts.append("The gathered evidence does not answer the task.")
    if gaps:
        parts.append("**Not established by the evidence:**\n" + "\n".join(f"- {g}" for g in gaps))
    if references:
        quotes: dict[int, list[str]] = {}
        for c in citations:
            quotes.setdefault(c.n, []).append(" ".join(c.quote.split()))
        rows = []
        for r in references:
            label = "(search snippet) " if r.kind == "snippet" else ""
            rows.append(f"{r.n}. {label}{r.title + ' — ' if r.title else ''}{r.source}")
            rows += [f"   > {q}" for q in quotes.get(r.n, [])]
        parts.append("## References\n\n" + "\n".join(rows))
    if tally.checked:
        parts.append(f"_Citation check: {tally_line(tally)}._")
    return "\n\n".join(parts)
