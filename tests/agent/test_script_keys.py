"""Scripted replies are keyed by a constant each reply schema declares, not its class name."""

from __future__ import annotations

from agent.dispatch import Extraction
from agent.long_report import Outline, SectionDraft, SummaryDraft
from agent.models.structured import ReplySchema, json_schema_for
from agent.nodes.clarify import ClarifyReply
from agent.nodes.reflect import ReflectionReply
from agent.nodes.synthesizer import Synthesis
from agent.notes import NotesReply
from agent.plan_critic import PlanPick
from agent.plan_rules import Planning, Replanning, planning_json_schema
from agent.support_judge import SupportJudgement
from agent.toolset import Toolset
from tests.conftest import recording_tool

SCHEMAS: tuple[type[ReplySchema], ...] = (
    Planning,
    Replanning,
    ReflectionReply,
    Synthesis,
    Extraction,
    ClarifyReply,
    SupportJudgement,
    PlanPick,
    NotesReply,
    Outline,
    SectionDraft,
    SummaryDraft,
)


def test_every_reply_schema_declares_its_own_unique_key() -> None:
    ours = {s for s in ReplySchema.__subclasses__() if s.__module__.startswith("agent.")}
    assert ours == set(SCHEMAS)
    keys = [s.__dict__.get("SCRIPT_KEY") for s in SCHEMAS]
    assert all(isinstance(k, str) and k for k in keys), keys
    assert len(set(keys)) == len(keys)
    assert ReflectionReply.SCRIPT_KEY == "Reflection"


def test_the_key_is_the_forced_tool_name_whatever_the_class_is_called() -> None:
    for schema in SCHEMAS:
        assert json_schema_for(schema)["title"] == schema.SCRIPT_KEY
    renamed = type("SomethingElse", (ReflectionReply,), {"__module__": __name__})
    assert json_schema_for(renamed)["title"] == "Reflection"
    tools = Toolset([recording_tool()[0]])
    assert (
        planning_json_schema(tools, max_steps=3, triage=True, allow_direct=True)["title"]
        == Planning.SCRIPT_KEY
    )
    replan = planning_json_schema(tools, max_steps=3, triage=False, allow_direct=False, replan=True)
    assert replan["title"] == Replanning.SCRIPT_KEY
