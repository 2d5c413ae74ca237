"""Notes keep the citation-verified rate: the labelled pairs checked through notes and raw text.

Each labelled (claim, passage) pair whose source is a file of ``examples/corpus``
is run twice through the real path a writer's citation takes:

- **raw**: the step's observation holds the whole file; its passage is the labelled one;
- **notes**: the same observation, with one note whose quote is the labelled passage
  (what an honest notes model copies) located in the whole file by `check_notes`;
  the writer's evidence comes from `gather_evidence`, so the claim cites the note.

Both must keep the same supported claims and catch the same unsupported ones.
Negative control: notes whose quote is invented (the claim's own words, which for
these paraphrases and wrong claims are not on the page) are dropped before any
writer sees them. The notes here are scripted: this measures the notes pipeline and
the check on it, not a model's note-taking. Printed with ``pytest -s``.
"""

from __future__ import annotations

from pathlib import Path

from agent.citations import ClaimDraft, assess_claims
from agent.notes import NoteDraft, check_notes
from agent.observation import Observation, Passage, normalize_text
from agent.plan import Plan, PlanStep
from agent.state import Note, ResearchState, StepRecord
from agent.step_views import gather_evidence
from bench.citation_check import load

REPO = Path(__file__).resolve().parents[2]
ROWS = [r for r in load() if r["source"].startswith("examples/")]


def _verified(row: dict[str, str], notes: tuple[Note, ...]) -> bool:
    source = row["source"].removeprefix("examples/corpus/")
    document = (REPO / row["source"]).read_text(encoding="utf-8")
    obs = Observation(
        tool="read_document", ok=True, content=document,
        passages=(Passage(ref=source, text=row["passage"]),),
        documents={source: document}, untrusted=True,
    )  # fmt: skip
    record = StepRecord(
        step_id="s1", plan_version=1, tool="read_document", input={"path": source},
        status="done", observation=obs, notes=notes,
    )  # fmt: skip
    step = PlanStep(id="s1", goal="read", tool="read_document", input={"path": source})
    state: ResearchState = {
        "task": row["claim"],
        "plans": [Plan(version=1, reasoning="", steps=(step,))],
        "steps": {"s1": record},
    }
    (item,) = gather_evidence(state, task=row["claim"], limit_chars=6000)
    assert bool(item.note) == bool(notes), "the writer reads notes exactly when there are some"
    claim = ClaimDraft(text=row["claim"], cites=[item.id])
    return assess_claims([claim], [item]).verdicts[0].verified


def _notes(row: dict[str, str], quote: str) -> tuple[Note, ...]:
    source = row["source"].removeprefix("examples/corpus/")
    document = (REPO / row["source"]).read_text(encoding="utf-8")
    return check_notes([NoteDraft(quote=quote, fact=row["claim"])], {source: document}).notes


def test_notes_keep_the_verified_rate_of_raw_text_on_labelled_pairs() -> None:
    assert len(ROWS) >= 100
    honest = {r["id"]: _notes(r, r["passage"]) for r in ROWS}
    lost = [i for i, n in honest.items() if len(n) != 1]
    assert lost == [], f"an exact passage of the file was not found as a span: {lost}"
    raw = {r["id"]: _verified(r, ()) for r in ROWS}
    noted = {r["id"]: _verified(r, honest[r["id"]]) for r in ROWS}
    good = [r["id"] for r in ROWS if r["label"] == "supported"]
    bad = [r["id"] for r in ROWS if r["label"] == "unsupported"]
    rates = {
        name: (sum(got[i] for i in good) / len(good), 1 - sum(got[i] for i in bad) / len(bad))
        for name, got in (("raw", raw), ("notes", noted))
    }
    print(
        f"\n{len(ROWS)} labelled pairs from examples/corpus: "
        + "; ".join(
            f"{name}: {kept:.1%} of supported claims verified, {caught:.1%} of unsupported caught"
            for name, (kept, caught) in rates.items()
        )
    )
    assert noted == raw, [i for i in raw if raw[i] != noted[i]]
    assert rates["notes"][0] >= 0.85 and rates["notes"][1] >= 0.9


def test_negative_control_notes_with_invented_spans_are_dropped() -> None:
    """The claim's own words as the quote: a paraphrase or a wrong claim is not on the page
    (judged apart, by `normalize_text` containment); the few claims that are verbatim on
    the page are real spans and are kept."""
    on_page = {
        r["id"]
        for r in ROWS
        if normalize_text(r["claim"]) in normalize_text((REPO / r["source"]).read_text("utf-8"))
    }
    invented = {r["id"]: _notes(r, r["claim"]) for r in ROWS}
    kept = {i for i, n in invented.items() if n}
    print(f"\ninvented spans kept: {len(kept - on_page)} of {len(ROWS) - len(on_page)}")
    assert len(ROWS) - len(on_page) >= 100
    assert kept - on_page == set(), "a note whose quote is not on the page was kept"
    assert kept == on_page, "a quote that is on the page was not found"
