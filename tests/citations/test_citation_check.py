"""The citation check inside a run: it can fail, it counts quoted/supported/unsupported apart,
snippets are not pages, and at high effort a model judgement can only take support away."""

from __future__ import annotations

from typing import Any

from langchain_core.tools import BaseTool

from agent.citations import ClaimDraft, assess_claims, claims_schema
from agent.nodes.reflect import ReflectionReply
from agent.observation import Observation, Passage
from agent.report import RunReport
from agent.state import StepRecord
from agent.step_views import EvidenceItem
from agent.support import best_support, support_in_context
from agent.testing import ScriptedChatModel
from tests.agent.graph_run import run_research, settings
from tests.conftest import planning, recording_tool, step
from tools._search_backends import SearchOptions, SearchResult
from tools.search import WebSearch, WebSearchTool

REFLECT_ROLE = ReflectionReply.SCRIPT_KEY  # the reflector's scripted role
FINE = {"verdicts": [], "decision": "continue", "reason": "fine"}
FACT = "Fact about a: the value of a is 1."  # what recording_tool answers for "a"


def claims(*items: dict[str, Any]) -> dict[str, Any]:
    return {"claims": list(items), "gaps": []}


def test_a_claim_its_passage_does_not_support_is_rejected_without_a_quote() -> None:
    """The small-model path: no quote, so the passage's best sentence is judged, and can fail."""
    tool, _ = recording_tool()
    model = ScriptedChatModel(
        script={
            "Planning": [planning(step("s1", "a"))],
            "Synthesis": [
                claims(
                    {"text": "The value of a is 1.", "cites": ["s1.1"]},
                    {"text": "The value of a is 7.", "cites": ["s1.1"]},
                    {"text": "The value of a is not 1.", "cites": ["s1.1"]},
                    {"text": "Paris is the capital of France.", "cites": ["s1.1"]},
                )
            ],
        }
    )
    state, events = run_research(model, [tool])
    answer = state["answer"]
    assert [c.quote for c in answer.citations] == [FACT]  # the supporting sentence, not a blob
    assert "The value of a is 1. [1]" in answer.markdown
    for wrong in ("7.", "not 1.", "France."):
        assert f"{wrong} *(unsupported)*" in answer.markdown
    assert any("7 not in the source" in r for r in answer.rejected)
    assert any("negates what the source does not" in r for r in answer.rejected)
    check = next(e for e in events if e.type == "citation_check")
    assert (check.checked, check.quoted, check.supported, check.unsupported) == (4, 4, 1, 3)
    assert (check.kept, check.claims, check.claims_unsupported) == (1, 4, 3)
    assert (
        "_Citation check: 1 of 4 citations verified (4 quoted, 1 supported, 3 unsupported)._"
        in (answer.markdown)
    )
    report = RunReport.from_state(state).model_dump(mode="json")
    assert report["citation_check"]["unsupported"] == 3
    assert report["citation_check"]["supported"] == 1
    assert report["answer_by"] == "model"


def test_a_found_quote_still_has_to_support_the_claim() -> None:
    tool, _ = recording_tool()
    model = ScriptedChatModel(
        script={
            "Planning": [planning(step("s1", "a"))],
            "Synthesis": [
                claims(
                    {"text": "a is 1.", "cites": ["s1.1"], "quote": "the value of a is 1"},
                    {"text": "a is 2.", "cites": ["s1.1"], "quote": "the value of a is 1"},
                    {"text": "a is 1.", "cites": ["s1.1"], "quote": "the value of a is 2"},
                )
            ],
        }
    )
    state, events = run_research(model, [tool])
    check = next(e for e in events if e.type == "citation_check")
    # quoted: the first two (the third quote is not in the source); supported: the first only.
    assert (check.checked, check.quoted, check.supported, check.unsupported) == (3, 2, 1, 1)
    assert [c.quote for c in state["answer"].citations] == ["the value of a is 1"]


def test_a_quote_is_judged_with_its_whole_sentence() -> None:
    source = "Intro line. When the delay expires, the task is cancelled and TimeoutError is raised."
    found = support_in_context(
        "An expired delay raises TimeoutError.", "the task is cancelled", source
    )
    assert found is not None and found.span.startswith("When the delay expires")
    assert support_in_context("x", "not in there", source) is None
    assert not best_support("The delay never expires.", source).supported


class _Backend:
    name = "scripted"

    async def search(self, query: str, options: SearchOptions) -> list[SearchResult]:
        return [
            SearchResult(
                title="asyncio.TaskGroup",
                url="https://example.org/taskgroup",
                snippet="TaskGroup was added in Python 3.11.",
            )
        ]


def test_a_search_snippet_is_cited_as_a_snippet_never_as_a_fetched_page() -> None:
    search: BaseTool = WebSearchTool(session=WebSearch(_Backend()))
    model = ScriptedChatModel(
        script={
            "Planning": [
                planning(
                    {
                        "id": "s1",
                        "goal": "find when TaskGroup came",
                        "tool": "web_search",
                        "input": {"query": "TaskGroup python version"},
                        "depends_on": [],
                    }
                )
            ],
            "Synthesis": [
                claims({"text": "TaskGroup was added in Python 3.11.", "cites": ["s1.1"]})
            ],
        }
    )
    state, events = run_research(model, [search])
    (citation,) = state["answer"].citations
    assert (citation.kind, citation.source) == ("snippet", "https://example.org/taskgroup")
    check = next(e for e in events if e.type == "citation_check")
    assert (check.snippets, check.supported, check.kept) == (1, 0, 0)
    assert "[1] (search snippet) asyncio.TaskGroup — https://example.org/taskgroup" in (
        state["answer"].markdown
    )
    record = state["steps"]["s1"]
    assert not record.observation.documents  # no page text was stored for the URL


def test_at_high_effort_one_model_call_judges_all_claims_and_can_only_withdraw_support() -> None:
    tool, _ = recording_tool()
    model = ScriptedChatModel(
        script={
            "Planning": [planning(step("s1", "a"), step("s2", "b"), depth="high")],
            REFLECT_ROLE: [FINE] * 4,
            "Synthesis": [
                claims(
                    {"text": "The value of a is 1.", "cites": ["s1.1"]},
                    {"text": "The value of b is 1.", "cites": ["s2.1"]},
                    {"text": "The value of b is 9.", "cites": ["s2.1"]},
                )
            ],
            "SupportJudgement": [
                {
                    "judgements": [
                        {"claim": 1, "supported": True, "reason": "says so"},
                        {"claim": 2, "supported": False, "reason": "b is another name"},
                    ]
                }
            ],
        }
    )
    state, events = run_research(model, [tool], config=settings(effort="high"))
    (judge_call,) = model.calls_for("SupportJudgement")
    # Only claims the word test kept reach the model; the wrong number never does.
    assert "The value of a is 1." in judge_call.prompt and "b is 9" not in judge_call.prompt
    assert "<untrusted_data" in judge_call.prompt
    answer = state["answer"]
    assert "The value of a is 1. [1]" in answer.markdown
    assert "The value of b is 1. *(unsupported)*" in answer.markdown
    assert any("the model judged it unsupported: b is another name" in r for r in answer.rejected)
    check = next(e for e in events if e.type == "citation_check")
    assert (check.supported, check.unsupported, check.judged_by) == (1, 2, "words+model")


def test_the_model_judgement_is_budget_gated_and_the_word_test_then_stands() -> None:
    tool, _ = recording_tool()
    model = ScriptedChatModel(
        script={
            "Planning": [planning(step("s1", "a"), depth="high")],
            REFLECT_ROLE: [FINE] * 2,
            "Synthesis": [claims({"text": "The value of a is 1.", "cites": ["s1.1"]})],
        }
    )
    calls_before_judge = 3  # plan, reflection, synthesis
    state, events = run_research(
        model, [tool], config=settings(effort="high", max_model_calls=calls_before_judge)
    )
    assert not model.calls_for("SupportJudgement")
    check = next(e for e in events if e.type == "citation_check")
    assert check.judged_by == "words (model judgement skipped: budget)"
    assert check.supported == 1 and state["status"] == "done"


def _evidence(text: str, ref: str = "doc.md") -> EvidenceItem:
    record = StepRecord(
        step_id="s1",
        plan_version=1,
        tool="read_document",
        input={"path": ref},
        status="done",
        observation=Observation(
            tool="read_document",
            ok=True,
            content=text,
            passages=(Passage(ref=ref, text=text),),
            documents={ref: text},
        ),
    )
    return EvidenceItem("s1.1", record.observation.passages[0], record)


def test_a_small_model_picks_its_quote_from_the_evidence_and_its_claim_is_still_judged() -> None:
    """Under a grammar the quote is an enum of the evidence's sentences, chosen before the claim
    is written; the quote names the passage cited, and the free-text claim can still fail."""
    text = (
        "asyncio.TaskGroup was added in Python 3.11. "
        "When a task fails, the group cancels the remaining tasks."
    )
    item = _evidence(text)
    schema = claims_schema([item], grammar=True)
    claim = schema["items"]["properties"]  # type: ignore[index]
    assert list(claim) == ["quote", "text"] and schema["items"]["required"] == ["quote", "text"]  # type: ignore[index]
    assert claim["quote"]["enum"] == [  # type: ignore[index]
        "asyncio.TaskGroup was added in Python 3.11.",
        "When a task fails, the group cancels the remaining tasks.",
    ]
    quote = "When a task fails, the group cancels the remaining tasks."
    drafts = [
        ClaimDraft(text="A failed task makes the group cancel the remaining tasks.", quote=quote),
        ClaimDraft(text="A failed task makes the group wait for the remaining tasks.", quote=quote),
        ClaimDraft(text="TaskGroup came in Python 3.11.", quote="not a sentence of the evidence"),
    ]
    verdicts = assess_claims(drafts, [item]).verdicts
    assert [v.passage_id for v in verdicts[:2]] == ["s1.1", "s1.1"]
    assert [v.verified for v in verdicts] == [True, False, False]
    assert "wait" in verdicts[1].reason
    # Models that can copy get ids to cite and an optional quote of their own.
    free = claims_schema([item], grammar=False)["items"]  # type: ignore[index]
    assert free["required"] == ["text", "cites"] and "quote" in free["properties"]


def test_a_partial_answer_built_without_the_model_quotes_sentences_that_pass_the_check() -> None:
    tool, _ = recording_tool()
    model = ScriptedChatModel(script={"Planning": [planning(step("s1", "a"), step("s2", "b"))]})
    state, events = run_research(model, [tool], config=settings(max_model_calls=1))
    assert state["status"] == "budget_exhausted"
    answer = state["answer"]
    assert answer.written_by == "evidence" and answer.markdown.startswith("_Partial answer")
    assert "find a: Fact about a: the value of a is 1. [" in answer.markdown
    check = next(e for e in events if e.type == "citation_check")
    assert (check.checked, check.supported, check.unsupported) == (2, 2, 0)
    assert RunReport.from_state(state).answer_by == "evidence"
