"""Tool faults through the real graph: the run goes on; the bad step fails cleanly or is capped."""

from __future__ import annotations

import os
import threading

import pytest

from agent.settings import Budgets, Settings
from agent.testing import ScriptedChatModel
from tests.agent.graph_run import run_research
from tests.conftest import planning, recording_tool, step, synthesis
from tests.reliability import tool_faults as tf
from tests.tools.site_server import requires_chromium


@pytest.mark.parametrize("fault", tf.TOOL_FAULTS, ids=lambda f: f.name)
async def test_tool_fault_is_survived(fault: tf.ToolFault) -> None:
    outcome = await tf.run_tool_fault(fault)
    assert outcome.survived, outcome.problems


@pytest.mark.browser
@requires_chromium
def test_chromium_killed_mid_step_is_relaunched_and_the_step_retried() -> None:
    outcome = tf.browser_crash_outcome()
    assert outcome is not None
    assert outcome.survived, outcome.problems


def _run_with_blocking_tool(release: threading.Event) -> dict:
    model = ScriptedChatModel(
        script={
            "Planning": [planning(step("s1", "alpha"), step("s2", "beta", tool="flaky"))],
            "Reflection": [{"verdicts": [], "decision": "finish", "reason": "enough"}],
            "Synthesis": [synthesis("s1.1")],
        }
    )
    healthy, _ = recording_tool()
    settings = Settings(budgets=Budgets(step_timeout_s=0.3, timeout_s=20))
    state, _ = run_research(model, [healthy, tf.blocking_tool(release)], config=settings)
    return state


def test_sync_tools_blocked_forever_do_not_starve_later_runs() -> None:
    """LangGraph cannot stop a blocked sync call; Ponder abandons it after the step timeout.

    Each abandoned call keeps its thread until the call returns. More of them than
    the I/O loop's default executor has workers must not stall later runs (model
    callbacks, DNS lookups and other sync tools use that executor).
    """
    release = threading.Event()
    workers = min(32, (os.cpu_count() or 1) + 4)  # asyncio's default executor size
    try:
        for _ in range(workers + 2):
            state = _run_with_blocking_tool(release)
            assert state["status"] == "done", state.get("stop_reason")
            assert state["steps"]["s2"].observation.error.kind == "timeout"
            assert state["steps"]["s1"].status == "done"
        blocked = [t for t in threading.enumerate() if t.name.startswith("ponder-tool-")]
        assert len(blocked) >= workers, "the abandoned calls should still hold their threads"
        assert all(t.daemon for t in blocked), "a blocked tool thread would hold up exit"
    finally:
        release.set()
