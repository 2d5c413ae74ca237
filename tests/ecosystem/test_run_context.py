"""Per-run settings as a plain dict context, the form the LangGraph SDK and server send."""

from __future__ import annotations

from typing import Any

import pytest

from agent.settings import RunContext, Settings
from agent.testing import ScriptedChatModel
from graphs.research import build_research_graph
from tests.conftest import planning, recording_tool, step, synthesis


def _graph() -> Any:
    tool_, _ = recording_tool()
    model = ScriptedChatModel(
        script={"Planning": [planning(step("s1", "a"))], "Synthesis": [synthesis("s1.1")]}
    )
    return build_research_graph(model, [tool_])


def test_dict_context_is_validated_into_settings() -> None:
    context = RunContext(**{"settings": {"effort": "low", "budgets": {"max_steps": 3}}})
    assert isinstance(context.settings, Settings)
    assert context.settings.effort == "low" and context.settings.budgets.max_steps == 3


def test_bad_dict_context_is_refused() -> None:
    with pytest.raises(ValueError, match="effort"):
        RunContext(**{"settings": {"effort": "extreme"}})


def test_dict_context_reaches_the_nodes() -> None:
    kinds = [
        e
        for e in _graph().stream(
            {"task": "What is a?"},
            context={"settings": {"effort": "low"}},
            stream_mode="custom",
        )
        if e["type"] == "triage"
    ]
    # effort=low fixes the depth before any model call, and says so.
    assert [(e["depth"], e["decided_by"]) for e in kinds] == [("low", "effort")]


def test_without_context_the_model_triages() -> None:
    kinds = [
        e
        for e in _graph().stream({"task": "What is a?"}, stream_mode="custom")
        if e["type"] == "triage"
    ]
    assert [e["decided_by"] for e in kinds] == ["model"]
