"""Evidence notes and model roles, pinned down with scripted models and a page-reading tool.

A step that reads a page gets notes from the fast model; each note's quote must be
on the stored page or the note is dropped; the writer reads the notes instead of
the raw text; a garbled notes reply leaves the raw text in use; usage is counted
per model role.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.tools import BaseTool, StructuredTool
from langgraph.checkpoint.memory import InMemorySaver

from agent.checkpointing import checkpoint_serde
from agent.events import StepFinishedEvent, UsageEvent
from agent.notes import NoteDraft, check_notes, locate_span
from agent.observation import Observation, Passage
from agent.report import RunReport
from agent.settings import RunContext, Settings
from agent.testing import ScriptedChatModel, count_tokens, plan_step
from graphs.research import build_research_graph
from tests.agent.graph_run import run_research
from tests.conftest import planning, recording_tool, step, synthesis

GATHER = "https://docs.example/gather"
TASKGROUP = "https://docs.example/taskgroup"
PAGES = {
    GATHER: (
        "Release notes of the documentation site were moved to a new server in May.\n\n"
        "With the default return_exceptions=False, the first exception raised by any of the "
        "awaitables is immediately propagated to the code awaiting gather(). The other "
        "awaitables are not cancelled: they keep running in the background."
    ),
    TASKGROUP: (
        "The site's colour scheme follows the operating system.\n\n"
        "The first time a task in the group fails with an exception other than "
        "asyncio.CancelledError, the remaining tasks in the group are cancelled."
    ),
}
QUOTES = {
    GATHER: "The other awaitables are not cancelled: they keep running in the background.",
    TASKGROUP: "The first time a task in the group fails with an exception other than "
    "asyncio.CancelledError, the remaining tasks in the group are cancelled.",
}
FACTS = {
    GATHER: "gather leaves the other awaitables running after the first exception",
    TASKGROUP: "TaskGroup cancels the remaining tasks when one fails",
}
CLAIMS = {
    GATHER: "The other awaitables are not cancelled and keep running in the background.",
    TASKGROUP: "When a task in the group fails, the remaining tasks in the group are cancelled.",
}


def page_tool(pages: dict[str, str] = PAGES) -> BaseTool:
    """Reads a page as fetch_url does: the full text stored, citable paragraphs, untrusted."""

    async def read_page(url: str) -> tuple[str, Observation]:
        text = pages[url]
        paragraphs = []
        start = 0
        for part in text.split("\n\n"):
            at = text.index(part, start)
            end = at + len(part)
            paragraphs.append(Passage(ref=url, title="Docs", text=part, start=at, end=end))
            start = end
        obs = Observation(
            tool="read_page", ok=True, content=text, passages=tuple(paragraphs),
            documents={url: text}, value=text, untrusted=True, via="http",
        )  # fmt: skip
        return obs.content, obs

    return StructuredTool.from_function(
        coroutine=read_page,
        name="read_page",
        description="read_page: fetch one page by URL",
        response_format="content_and_artifact",
    )


def two_reads() -> dict[str, Any]:
    return planning(
        plan_step("s1", "read_page", {"url": GATHER}, goal="how gather treats exceptions"),
        plan_step("s2", "read_page", {"url": TASKGROUP}, goal="how TaskGroup treats failures"),
    )


def _url_in(messages: Sequence[BaseMessage]) -> str:
    prompt = "\n".join(str(m.content) for m in messages)
    return GATHER if GATHER in prompt else TASKGROUP


def honest_notes(messages: Sequence[BaseMessage]) -> dict[str, Any]:
    """The page's relevant sentence, quoted exactly (the calls run concurrently, so the
    reply is chosen by the page in the prompt, not by call order)."""
    url = _url_in(messages)
    return {"notes": [{"quote": QUOTES[url], "fact": FACTS[url]}]}


def cited(*ids: str) -> dict[str, Any]:
    urls = {"s1": GATHER, "s2": TASKGROUP}
    return {
        "claims": [{"text": CLAIMS[urls[i.split(".")[0]]], "cites": [i]} for i in ids],
        "gaps": [],
    }


NOTES_ON = Settings(notes=True)


# -- spans ---------------------------------------------------------------------------


def test_a_quote_is_found_exactly_or_with_spacing_and_case_folded() -> None:
    text = PAGES[GATHER]
    exact = locate_span(QUOTES[GATHER], text)
    assert exact is not None and text[exact[0] : exact[1]] == QUOTES[GATHER]
    loose = locate_span("THE FIRST exception raised   by any of\nthe awaitables", text)
    assert loose is not None
    assert text[loose[0] : loose[1]] == "the first exception raised by any of the awaitables"
    assert locate_span("the awaitables are all cancelled at once", text) is None
    assert locate_span("awaitables", text) is None, "a quote this short proves nothing"


def test_notes_whose_quote_is_not_on_the_page_are_dropped() -> None:
    drafts = [
        NoteDraft(quote=QUOTES[GATHER], fact=FACTS[GATHER]),
        NoteDraft(quote="gather cancels every other awaitable at once", fact="invented"),
        NoteDraft(quote=QUOTES[GATHER], fact="  "),
    ]
    taken = check_notes(drafts, {GATHER: PAGES[GATHER]})
    assert taken.dropped == 2
    (note,) = taken.notes
    assert note.source == GATHER and PAGES[GATHER][note.start : note.end] == note.span


# -- in a run ------------------------------------------------------------------------


def test_pages_become_notes_and_the_writer_reads_notes_not_raw_text() -> None:
    model = ScriptedChatModel(
        script={
            "Planning": [two_reads()],
            "Notes": [honest_notes, honest_notes],
            "Synthesis": [cited("s1.1", "s2.1")],
        }
    )
    state, events = run_research(model, [page_tool()], config=NOTES_ON)
    for sid, url in (("s1", GATHER), ("s2", TASKGROUP)):
        (note,) = state["steps"][sid].notes
        assert (note.source, note.span, note.fact) == (url, QUOTES[url], FACTS[url])
    (written,) = model.calls_for("Synthesis")
    assert FACTS[GATHER] in written.prompt and QUOTES[TASKGROUP] in written.prompt
    assert "colour scheme" not in written.prompt and "Release notes" not in written.prompt
    answer = state["answer"]
    assert state["status"] == "done" and answer is not None
    assert answer.tally.supported == 2 and answer.tally.checked == 2
    assert {c.quote for c in answer.citations} <= set(QUOTES.values())
    noted = {e.step_id: e.notes for e in events if isinstance(e, StepFinishedEvent)}
    assert noted == {"s1": 1, "s2": 1}


def test_notes_on_two_pages_are_taken_at_the_same_time() -> None:
    model = ScriptedChatModel(
        role_latency_s={"Notes": 0.4},
        script={
            "Planning": [two_reads()],
            "Notes": [honest_notes, honest_notes],
            "Synthesis": [cited("s1.1", "s2.1")],
        },
    )
    state, _ = run_research(model, [page_tool()], config=NOTES_ON)
    first, second = sorted(c.started for c in model.calls_for("Notes"))
    assert second - first < 0.4, "the second page's notes waited for the first's"
    assert all(r.notes for r in state["steps"].values())


def test_by_default_notes_follow_the_depth() -> None:
    assert Settings().notes_on("high") and not Settings().notes_on("medium")
    assert Settings(effort="high").notes_on() and not Settings(effort="low").notes_on("high")
    assert not Settings(notes=False, effort="high").notes_on()
    assert Settings(notes=True, effort="low").notes_on()


def test_a_high_depth_chosen_by_triage_turns_notes_on_for_steps_started_early() -> None:
    high = {**two_reads(), "depth": "high"}
    model = ScriptedChatModel(
        repeat_last=True,
        script={
            "Planning": [high],
            "Notes": [honest_notes],
            "Reflection": [{"verdicts": [], "decision": "continue", "reason": "on track"}],
            "SupportJudgement": [{"judgements": []}],
            "Synthesis": [cited("s1.1", "s2.1")],
        },
    )
    state, events = run_research(model, [page_tool()])  # effort auto, notes unset
    kinds = [e.type for e in events]
    assert kinds.index("step_started") < kinds.index("plan"), "the steps started early"
    assert state["triage"] is not None and state["triage"].depth == "high"
    assert all(r.notes for r in state["steps"].values())
    assert len(model.calls_for("Notes")) == 2


def test_notes_are_off_by_default_below_high_effort() -> None:
    model = ScriptedChatModel(
        script={"Planning": [two_reads()], "Synthesis": [cited("s1.2", "s2.2")]}
    )
    state, _ = run_research(model, [page_tool()])
    assert model.calls_for("Notes") == []
    assert state["status"] == "done"
    (written,) = model.calls_for("Synthesis")
    assert "colour scheme" in written.prompt, "without notes the writer reads the raw text"


def test_invented_spans_leave_no_note_and_the_raw_text_in_use() -> None:
    def invented(messages: Sequence[BaseMessage]) -> dict[str, Any]:
        return {"notes": [{"quote": "gather() stops every awaitable at once", "fact": "made up"}]}

    model = ScriptedChatModel(
        script={
            "Planning": [two_reads()],
            "Notes": [invented, honest_notes],
            "Synthesis": [cited("s1.2", "s2.1")],
        }
    )
    state, _ = run_research(model, [page_tool()], config=NOTES_ON)
    records = state["steps"]
    noted = sorted(sid for sid, r in records.items() if r.notes)
    (plain,) = {"s1", "s2"} - set(noted)
    assert records[plain].notes_dropped == 1 and "no note's quote" in records[plain].notes_error
    (written,) = model.calls_for("Synthesis")
    assert "made up" not in written.prompt
    assert ("Release notes" in written.prompt) == (plain == "s1")


def test_a_garbled_notes_reply_recovers_with_the_raw_text() -> None:
    model = ScriptedChatModel(
        repeat_last=True,
        script={
            "Planning": [planning(plan_step("s1", "read_page", {"url": GATHER}))],
            "Notes": [{"notes": "these are my notes"}],
            "Synthesis": [cited("s1.2")],
        },
    )
    state, _ = run_research(model, [page_tool()], config=Settings(notes=True, output_retries=1))
    record = state["steps"]["s1"]
    assert record.ok and record.notes == ()
    assert "unusable" in record.notes_error
    assert len(model.calls_for("Notes")) == 2, "one ask and one re-ask, then the raw text"
    assert state["status"] == "done"
    assert state["answer"] is not None and state["answer"].tally.supported == 1


def test_notes_leave_the_last_model_calls_to_the_writer() -> None:
    model = ScriptedChatModel(
        script={"Planning": [two_reads()], "Synthesis": [cited("s1.2", "s2.2")]}
    )
    # Steps start while the plan streams in, before the plan's own call is counted.
    config = Settings(notes=True, budgets={"max_model_calls": 3})  # type: ignore[arg-type]
    state, _ = run_research(model, [page_tool()], config=config)
    assert model.calls_for("Notes") == []
    assert all("kept for the writer" in r.notes_error for r in state["steps"].values())
    assert state["status"] == "done"


# -- model roles -----------------------------------------------------------------------


def test_the_fast_model_takes_notes_and_usage_is_counted_per_role() -> None:
    main = ScriptedChatModel(
        script={"Planning": [two_reads()], "Synthesis": [cited("s1.1", "s2.1")]}
    )
    fast = ScriptedChatModel(script={"Notes": [honest_notes, honest_notes]})
    graph = build_research_graph(
        main,
        [page_tool()],
        checkpointer=InMemorySaver(serde=checkpoint_serde()),
        settings=NOTES_ON,
        fast_model=fast,
    )
    thread = {"configurable": {"thread_id": uuid.uuid4().hex}}
    events = list(graph.stream({"task": "How do they fail?"}, thread, stream_mode="custom"))
    state = graph.get_state(thread).values
    assert {c.role for c in main.calls} == {"Planning", "Synthesis"}
    assert {c.role for c in fast.calls} == {"Notes"}
    report = RunReport.from_state(state)  # type: ignore[arg-type]
    roles = report.usage_by_role
    assert roles["model"].model_calls == 2 and roles["fast_model"].model_calls == 2
    fast_in = sum(count_tokens(str(m.content)) for c in fast.calls for m in c.messages)
    assert roles["fast_model"].input_tokens == fast_in
    assert report.usage["model_calls"] == 4 and report.notes == 2
    assert "By role: fast_model 2 calls" in report.to_markdown()
    dumped = report.model_dump(mode="json")["usage_by_role"]
    assert dumped["fast_model"]["model_calls"] == 2
    (usage,) = [e for e in events if e.get("type") == "usage"]
    assert UsageEvent.model_validate(usage).by_role["fast_model"].model_calls == 2


def test_a_fast_model_in_the_run_context_wins_over_the_graphs() -> None:
    main = ScriptedChatModel(
        script={"Planning": [two_reads()], "Synthesis": [cited("s1.1", "s2.1")]}
    )
    per_run = ScriptedChatModel(script={"Notes": [honest_notes, honest_notes]})
    graph = build_research_graph(
        main, [page_tool()], checkpointer=InMemorySaver(serde=checkpoint_serde())
    )
    thread = {"configurable": {"thread_id": uuid.uuid4().hex}}
    graph.invoke(
        {"task": "How do they fail?"},
        thread,
        context=RunContext(settings=NOTES_ON, fast_model=per_run),
    )
    assert len(per_run.calls_for("Notes")) == 2 and main.calls_for("Notes") == []
    assert graph.get_state(thread).values["status"] == "done"


def _graph_run(
    main: ScriptedChatModel, fast: ScriptedChatModel, tools: list[BaseTool], task: str
) -> dict[str, Any]:
    graph = build_research_graph(
        main, tools, checkpointer=InMemorySaver(serde=checkpoint_serde()), fast_model=fast
    )
    thread = {"configurable": {"thread_id": uuid.uuid4().hex}}
    graph.invoke({"task": task}, thread)
    return graph.get_state(thread).values


def test_extraction_and_trivial_answers_are_the_fast_models() -> None:
    tool, _ = recording_tool(answer=lambda q: f"Python 3.11 was released in 2022 ({q}).")
    main = ScriptedChatModel(
        script={
            "Planning": [
                planning(
                    step("s1", "release"),
                    {**step("s2", "x", ("s1",)), "input": {"query": "events of {{s1 | the year}}"}},
                )
            ],
            "Synthesis": [synthesis("s2.1")],
        }
    )
    fast = ScriptedChatModel(script={"Extraction": [{"value": "2022"}], "text": ["Hello!"]})
    state = _graph_run(main, fast, [tool], "What happened in Python's release year?")
    assert state["steps"]["s2"].input == {"query": "events of 2022"}
    assert [c.role for c in fast.calls] == ["Extraction"]
    assert state["usage"].by_role()["fast_model"].model_calls == 1
    greeted = _graph_run(main, fast, [tool], "hello")
    assert greeted["answer"].markdown == "Hello!" and fast.calls[-1].role == "text"
    assert {c.role for c in main.calls} == {"Planning", "Synthesis"}
