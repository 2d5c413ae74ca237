"""The long report's schemas on the real demo model, decoding under llama.cpp's grammar.

SmolLM2-135M writes poor prose; the point is that the outline, every section and the
summary come back schema-valid from a small local model. The evidence is two documents of
the bundled corpus, as a finished research step leaves them; the writer node runs as the
graph runs it (outline, sections at once, summary) with the demo model.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from agent.budget import BudgetGate
from agent.long_report import SummaryDraft, claims_reply_schema
from agent.models.llamacpp import ChatLlamaCpp
from agent.models.structured import call_structured
from agent.nodes._deps import NodeDeps
from agent.nodes.write_report import write_report
from agent.observation import Observation, Passage
from agent.plan import Plan, PlanStep
from agent.prompts import render_prompt
from agent.settings import Budgets, RunContext, Settings
from agent.state import ResearchState, StepRecord, Usage
from agent.step_views import gather_evidence
from agent.toolset import Toolset
from bench.cli_runner import CORPUS
from tests.models.conftest import needs_llama

TASK = "How does TaskGroup handle a failing task?"
DOCS = ("taskgroup.md", "cancellation.md")


def _record(sid: str, name: str) -> StepRecord:
    text = (CORPUS / name).read_text(encoding="utf-8")[:2400]
    passages = []
    at = 0
    for block in text.split("\n\n"):
        at = text.index(block, at)
        if len(block.strip()) >= 80:
            end = at + len(block)
            passages.append(Passage(ref=name, title=name, text=block, start=at, end=end))
        at += len(block)
    obs = Observation(tool="read_document", ok=True, content=text, passages=tuple(passages[:2]))
    return StepRecord(
        step_id=sid,
        plan_version=1,
        tool="read_document",
        input={"path": name},
        status="done",
        observation=obs,
    )


def _state(settings: Settings) -> ResearchState:
    steps = tuple(
        PlanStep(id=f"s{i}", goal=f"read {d}", tool="read_document", input={"path": d})
        for i, d in enumerate(DOCS, start=1)
    )
    return {
        "task": TASK,
        "run_id": "demo-long",
        "settings": settings,
        "plans": [Plan(version=1, reasoning="read both", steps=steps)],
        "steps": {f"s{i}": _record(f"s{i}", d) for i, d in enumerate(DOCS, start=1)},
        "usage": Usage(),
    }


@needs_llama
def test_the_demo_model_writes_a_long_report_under_its_grammar(demo: ChatLlamaCpp) -> None:
    model = demo.with_options(schema_in_prompt=False)  # as the graph factory sets it
    settings = Settings(
        report="long", effort="medium", output_retries=0, budgets=Budgets(max_model_calls=6)
    )
    state = _state(settings)
    events: list[Any] = []
    runtime: Runtime[Any] = Runtime(context=RunContext(settings), stream_writer=events.append)
    deps = NodeDeps(model=model, toolset=Toolset([]), settings=settings)
    config: RunnableConfig = {}
    update = asyncio.run(write_report(state, runtime, config, deps=deps))

    answer = update["answer"]
    # The outline parsed (no fallback), every planned section was written and checked.
    assert not any("outline" in g for g in answer.gaps), answer.gaps
    assert not any("not written" in g for g in answer.gaps), answer.gaps
    assert answer.sections and all(s.claims for s in answer.sections)
    assert answer.tally.claims >= len(answer.sections)
    assert answer.tally.quoted >= 1, "under the grammar a quote is one of the evidence sentences"
    assert [r.n for r in answer.references] == list(range(1, len(answer.references) + 1))
    calls = update["usage"].by_node["write_report"].model_calls
    assert 1 + len(answer.sections) <= calls <= 6  # outline and sections, within the budget
    assert update["status"] in ("done", "unanswered")

    # The summary's schema too (the node asks for it only when a section claim was verified).
    evidence = gather_evidence(state, task=TASK, limit_chars=6000)
    js = claims_reply_schema(SummaryDraft, evidence, grammar=True, max_claims=3)
    messages = render_prompt(
        "summarize_report",
        task=TASK,
        sections="TaskGroup: a failing task cancels the others.",
        evidence="\n".join(item.passage.text for item in evidence),
    )
    gate = BudgetGate(state, Budgets(max_model_calls=2), node="write_report")
    reply = asyncio.run(
        call_structured(model, messages, SummaryDraft, gate=gate, json_schema=js, retries=0)
    )
    assert 1 <= len(reply.value.claims) <= 3
    sentences = {" ".join(item.passage.text.split()) for item in evidence}
    assert all(any(c.quote in s for s in sentences) for c in reply.value.claims)
