"""Long reports (``Settings(report="long")``): outline, sections in parallel, summary, references.

A scripted model pins the writer's logic: which evidence each section sees, that the
sections are asked at once, how sources are numbered, that the citation check still marks
an unsupported claim, how a garbled outline is recovered and how budgets are kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk

from agent.long_report import MAX_SECTIONS, plan_sections
from agent.observation import Observation, Passage
from agent.settings import Budgets, Settings
from agent.state import StepRecord
from agent.step_views import EvidenceItem
from agent.testing import ScriptedChatModel
from tests.agent.graph_run import run_research
from tests.conftest import planning, recording_tool, step

TOPICS = ("alpha", "beta", "gamma")
LONG = Settings(report="long", effort="medium")


def _plan() -> dict[str, Any]:
    return planning(*(step(f"s{i}", t) for i, t in enumerate(TOPICS, start=1)))


def _outline(*sections: tuple[str, list[str]], title: str = "Three values") -> dict[str, Any]:
    return {
        "title": title,
        "sections": [{"title": t, "focus": f"what {t} is", "evidence": ids} for t, ids in sections],
    }


def _claim(topic: str, cite: str, text: str = "") -> dict[str, Any]:
    # The recording tool answers "Fact about alpha: the value of alpha is 5."
    return {"text": text or f"The value of {topic} is {len(topic)}.", "cites": [cite]}


def _section_title(messages: list[BaseMessage]) -> str:
    prompt = "\n".join(str(m.content) for m in messages)  # a re-ask keeps the first prompt
    found = re.search(r'Write the section "([^"]+)"', prompt)
    return found.group(1) if found else ""


def _sections(by_title: dict[str, list[dict[str, Any]]]) -> Callable[[list[BaseMessage]], Any]:
    """A section reply chosen by the section the prompt asks for (calls come in any order)."""

    def reply(messages: list[BaseMessage]) -> dict[str, Any]:
        return {"claims": by_title[_section_title(messages)]}

    return reply


THREE = _outline(("Alpha", ["s1.1"]), ("Beta", ["s2.1"]), ("Gamma", ["s3.1"]))
THREE_SECTIONS = _sections(
    {
        "Alpha": [_claim("alpha", "s1.1")],
        "Beta": [_claim("beta", "s2.1")],
        "Gamma": [_claim("gamma", "s3.1")],
    }
)
SUMMARY = {"claims": [_claim("beta", "s2.1")]}


class OverlapModel(ScriptedChatModel):
    """Holds every section call until all of them have started (or a deadline passes), and
    records how many were in flight at once: sequential sections would peak at one."""

    expected: int = 3
    peak: int = 0
    in_flight: int = 0
    _started: Any = None

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        section = _section_title(messages) != ""
        if section:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            if self._started is None:
                self._started = asyncio.Event()
            if self.in_flight >= self.expected:
                self._started.set()
            with contextlib.suppress(TimeoutError):  # the test fails on the peak, not a hang
                await asyncio.wait_for(self._started.wait(), timeout=5)
        try:
            async for chunk in super()._astream(messages, stop, run_manager, **kwargs):
                yield chunk
        finally:
            if section:
                self.in_flight -= 1


def test_outline_then_sections_at_once_then_summary() -> None:
    tool, _ = recording_tool()
    model = OverlapModel(
        script={
            "Planning": [_plan()],
            "Outline": [THREE],
            "Section": [THREE_SECTIONS] * 3,
            "ReportSummary": [SUMMARY],
        }
    )
    state, events = run_research(model, [tool], "What are alpha, beta and gamma?", config=LONG)
    assert model.peak == 3, f"sections were not written concurrently (peak {model.peak})"
    roles = [c.role for c in model.calls]
    assert roles == ["Planning", "Outline", "Section", "Section", "Section", "ReportSummary"]
    # Each section saw its own evidence and no other section's.
    for call in model.calls_for("Section"):
        title = _section_title(list(call.messages))
        own = {"Alpha": "alpha", "Beta": "beta", "Gamma": "gamma"}[title]
        shown = re.findall(r'<untrusted_data id="(s\d\.\d)"', call.prompt)
        assert shown == [f"s{TOPICS.index(own) + 1}.1"], (title, shown)
    answer = state["answer"]
    assert state["status"] == "done"
    assert answer.title == "Three values"
    assert [s.title for s in answer.sections] == ["Alpha", "Beta", "Gamma"]
    assert [c.text for c in answer.summary] == ["The value of beta is 4."]
    md = answer.markdown
    assert md.index("## Summary") < md.index("## Alpha") < md.index("## Gamma")
    assert md.index("## Gamma") < md.index("## References")
    assert answer.tally.checked == 4 and answer.tally.supported == 4
    check = next(e for e in events if e.type == "citation_check")
    assert (check.kept, check.checked) == (4, 4)
    assert state["usage"].by_node["write_report"].model_calls == 5


def test_references_are_numbered_by_source_in_reading_order() -> None:
    tool, _ = recording_tool()
    sections = _sections(
        {
            # gamma is cited first (in the summary), so it is [1] everywhere.
            "Alpha": [_claim("alpha", "s1.1"), _claim("gamma", "s3.1")],
            "Beta": [_claim("beta", "s2.1"), _claim("alpha", "s1.1", "Alpha's value is 5.")],
        }
    )
    model = ScriptedChatModel(
        script={
            "Planning": [_plan()],
            "Outline": [_outline(("Alpha", ["s1.1", "s3.1"]), ("Beta", ["s2.1"]))],
            "Section": [sections] * 2,
            "ReportSummary": [{"claims": [_claim("gamma", "s3.1")]}],
        }
    )
    state, _ = run_research(model, [tool], "alpha, beta, gamma?", config=LONG)
    answer = state["answer"]
    refs = {r.source: r.n for r in answer.references}
    assert refs == {"lookup:s3": 1, "lookup:s1": 2, "lookup:s2": 3}
    marks = [[c.n for c in claim.citations] for s in answer.sections for claim in s.claims]
    assert marks == [[2], [1], [3], [2]]
    assert "The value of alpha is 5. [2] The value of gamma is 5. [1]" in answer.markdown
    refs_md = answer.markdown.split("## References")[1]
    assert refs_md.index("1. lookup — lookup:s3") < refs_md.index("2. lookup — lookup:s1")
    # One source, two different quotes: one reference number, each quote kept.
    assert sum(1 for c in answer.citations if c.n == 2) == 1  # same sentence: quoted once
    assert len(answer.references) == 3


def test_an_unsupported_claim_in_a_section_is_marked_and_counted() -> None:
    tool, _ = recording_tool()
    sections = _sections(
        {
            "Alpha": [_claim("alpha", "s1.1")],
            "Beta": [_claim("beta", "s2.1", "Beta was discovered in 1887 by Hertz.")],
            "Gamma": [_claim("gamma", "s3.1")],
        }
    )
    model = ScriptedChatModel(
        script={
            "Planning": [_plan()],
            "Outline": [THREE],
            "Section": [sections] * 3,
            "ReportSummary": [{"claims": [_claim("alpha", "s1.1")]}],
        }
    )
    state, _ = run_research(model, [tool], "alpha, beta, gamma?", config=LONG)
    answer = state["answer"]
    beta = next(s for s in answer.sections if s.title == "Beta")
    assert beta.claims[0].citations == ()
    assert "Beta was discovered in 1887 by Hertz. *(unsupported)*" in answer.markdown
    assert answer.tally.claims_unsupported == 1 and answer.tally.unsupported == 1
    assert any(r.startswith("s2.1:") for r in answer.rejected)
    assert "lookup:s2" not in {r.source for r in answer.references}
    assert state["status"] == "done"  # the other claims kept their citations


def test_a_garbled_outline_falls_back_to_one_section_per_source() -> None:
    tool, _ = recording_tool()
    garbled = {"title": "x", "sections": "first alpha then beta"}  # not a list: refused
    by_source = _sections(
        {
            "lookup": [_claim("alpha", "s1.1")],  # the fallback titles sections by source
        }
    )
    model = ScriptedChatModel(
        script={
            "Planning": [planning(step("s1", "alpha"))],
            "Outline": [garbled, garbled, garbled],
            "Section": [by_source],
            "ReportSummary": [{"claims": [_claim("alpha", "s1.1")]}],
        }
    )
    state, _ = run_research(model, [tool], "alpha?", config=LONG)
    answer = state["answer"]
    assert len(model.calls_for("Outline")) == 3  # asked again twice with the problem
    assert "That reply was rejected" in model.calls_for("Outline")[1].prompt
    assert state["status"] == "done"
    assert [s.title for s in answer.sections] == ["lookup"]
    assert any(
        "the outline was unusable" in g and "one section per source" in g for g in answer.gaps
    )
    assert "the outline was unusable" in answer.markdown


def test_a_section_the_model_cannot_write_is_listed_and_the_others_kept() -> None:
    tool, _ = recording_tool()
    good = _sections({"Alpha": [_claim("alpha", "s1.1")], "Gamma": [_claim("gamma", "s3.1")]})

    def reply(messages: list[BaseMessage]) -> dict[str, Any]:
        if _section_title(messages) == "Beta":
            return {"claims": "beta is 4"}  # not a list, every time
        return dict(good(messages))

    model = ScriptedChatModel(
        script={
            "Planning": [_plan()],
            "Outline": [THREE],
            "Section": [reply] * 5,  # Alpha, Gamma, and Beta asked three times
            "ReportSummary": [{"claims": [_claim("alpha", "s1.1")]}],
        }
    )
    state, _ = run_research(model, [tool], "alpha, beta, gamma?", config=LONG)
    answer = state["answer"]
    assert len(model.calls_for("Section")) == 5
    assert [s.title for s in answer.sections] == ["Alpha", "Gamma"]
    assert any(
        g.startswith("Beta: not written (the model's section was unusable") for g in answer.gaps
    )
    assert state["status"] == "done"


def test_an_outline_of_unknown_evidence_ids_is_repaired() -> None:
    tool, _ = recording_tool()
    outline = _outline(
        ("Alpha", ["s1.1", "s9.9"]), ("Nothing", ["s7.1"]), ("alpha", ["s2.1"])
    )  # "alpha" merges into "Alpha"; "Nothing" has no known evidence
    model = ScriptedChatModel(
        script={
            "Planning": [planning(step("s1", "alpha"), step("s2", "beta"))],
            "Outline": [outline],
            "Section": [{"claims": [_claim("alpha", "s1.1"), _claim("beta", "s2.1")]}],
            "ReportSummary": [{"claims": [_claim("alpha", "s1.1")]}],
        }
    )
    state, _ = run_research(model, [tool], "alpha and beta?", config=LONG)
    shown = re.findall(r'<untrusted_data id="(s\d\.\d)"', model.calls_for("Section")[0].prompt)
    assert shown == ["s1.1", "s2.1"]
    answer = state["answer"]
    assert [s.title for s in answer.sections] == ["Alpha"]
    assert "2 unknown evidence ids dropped" in answer.gaps


def test_sections_the_model_call_budget_cannot_pay_for_are_left_out() -> None:
    tool, _ = recording_tool()
    model = ScriptedChatModel(
        script={
            "Planning": [_plan()],
            "Outline": [THREE],
            "Section": [THREE_SECTIONS] * 3,
            "ReportSummary": [SUMMARY],
        }
    )
    # Planning + outline leave 2 calls: two sections, no summary, no overrun.
    tight = Settings(report="long", effort="medium", budgets=Budgets(max_model_calls=4))
    state, _ = run_research(model, [tool], "alpha, beta, gamma?", config=tight)
    assert state["usage"].model_calls == 4
    answer = state["answer"]
    assert [s.title for s in answer.sections] == ["Alpha", "Beta"]
    assert answer.summary == ()
    assert "Gamma: not written (the model-call budget ran out)" in answer.gaps
    assert state["status"] == "done"


def test_no_call_left_after_planning_gives_the_synthesizers_partial_answer() -> None:
    tool, _ = recording_tool()
    model = ScriptedChatModel(script={"Planning": [_plan()]})
    tight = Settings(report="long", effort="medium", budgets=Budgets(max_model_calls=1))
    state, _ = run_research(model, [tool], "alpha, beta, gamma?", config=tight)
    assert state["usage"].model_calls == 1
    assert state["status"] == "budget_exhausted"
    assert state["answer"].written_by == "evidence" and state["answer"].citations


def test_at_high_effort_one_judgement_of_the_whole_report_can_withdraw_support() -> None:
    tool, _ = recording_tool()
    fine = {"verdicts": [], "decision": "continue", "reason": "fine"}
    judgement = {
        "judgements": [
            {"claim": n, "supported": n != 3, "reason": "ok" if n != 3 else "another value"}
            for n in (1, 2, 3, 4)
        ]
    }  # claims in reading order: the summary's, then Alpha's, Beta's, Gamma's
    model = ScriptedChatModel(
        script={
            "Planning": [
                planning(*(step(f"s{i}", t) for i, t in enumerate(TOPICS, 1)), depth="high")
            ],
            "Reflection": [fine] * 4,
            "Outline": [THREE],
            "Section": [THREE_SECTIONS] * 3,
            "ReportSummary": [SUMMARY],
            "SupportJudgement": [judgement],
        }
    )
    high = Settings(report="long", effort="high")
    state, _ = run_research(model, [tool], "alpha, beta, gamma?", config=high)
    (call,) = model.calls_for("SupportJudgement")
    assert all(f"The value of {t} is {len(t)}." in call.prompt for t in TOPICS)
    answer = state["answer"]
    beta = next(s for s in answer.sections if s.title == "Beta")
    assert beta.claims[0].citations == ()
    assert answer.summary[0].citations  # the same words in the summary were confirmed
    assert answer.tally.judged_by == "words+model" and answer.tally.supported == 3
    assert any("another value" in r for r in answer.rejected)
    assert state["usage"].by_node["write_report"].model_calls == 6


def test_the_short_answer_stays_the_default() -> None:
    tool, _ = recording_tool()
    model = ScriptedChatModel(
        script={
            "Planning": [planning(step("s1", "alpha"))],
            "Synthesis": [{"claims": [_claim("alpha", "s1.1")], "gaps": []}],
        }
    )
    state, _ = run_research(model, [tool], "alpha?")
    assert state["answer"].sections == () and state["status"] == "done"
    assert [c.role for c in model.calls] == ["Planning", "Synthesis"]


def _items(sources: int, per_source: int) -> list[EvidenceItem]:
    items = []
    for s in range(1, sources + 1):
        text = " ".join(f"Fact {s}.{p} is here." for p in range(1, per_source + 1))
        passages = tuple(
            Passage(ref=f"page{s}", title=f"Page {s}", text=f"Fact {s}.{p} is here.")
            for p in range(1, per_source + 1)
        )
        obs = Observation(tool="fetch_url", ok=True, content=text, passages=passages)
        record = StepRecord(
            step_id=f"s{s}", plan_version=1, tool="fetch_url", input={}, status="done",
            observation=obs,
        )  # fmt: skip
        items += [
            EvidenceItem(f"s{s}.{p}", passages[p - 1], record) for p in range(1, per_source + 1)
        ]
    return items


def test_without_an_outline_every_source_gets_a_share_of_a_section() -> None:
    plan = plan_sections(None, _items(8, 8), problem="bad JSON")
    assert len(plan.sections) == MAX_SECTIONS == 6
    first = plan.sections[0]
    # Page 7 shares the first section with page 1, passage for passage, within the cap.
    assert [i.id for i in first.evidence] == [
        "s1.1", "s7.1", "s1.2", "s7.2", "s1.3", "s7.3", "s1.4", "s7.4",
    ]  # fmt: skip
    assert first.title == "Page 1" and "bad JSON" in plan.note
    cited = {i.passage.ref for s in plan.sections for i in s.evidence}
    assert cited == {f"page{n}" for n in range(1, 9)}
