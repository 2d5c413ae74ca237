"""B5: time to the first plan through Ponder's real graph with the demo model.

Runs in its own process (``python -m bench.first_plan``): loads SmolLM2-135M
(`agent.models.demo`), builds the research graph over the simulated search and
fetch tools (no latency), streams a two-place question and stops at the first
``plan`` event. Effort is "medium": with "auto" the planner may also answer
directly, and the 135M model tends to pick that with an empty answer. Prints
one JSON object: load time, time to the first token, to the first started
step (the streaming planner) and to the plan, the plan's size, or the error.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from typing import Any

__all__ = ["measure_first_plan"]

TASK = "What was the 2024 population of Aldmere and of Brisca?"


async def _first_plan(timeout_s: float, effort: str, plan_format: str) -> dict[str, Any]:
    from langchain_core.runnables import RunnableConfig

    from agent.events import parse_event
    from agent.models.demo import demo_model
    from agent.settings import Budgets, Settings
    from bench.simtools import make_tools
    from bench.world import World
    from graphs.research import build_research_graph

    started = time.perf_counter()
    model = demo_model()
    out: dict[str, Any] = {
        "load_s": time.perf_counter() - started,
        "task": TASK,
        "effort": effort,
        "plan_format": plan_format,
    }
    world = World(seed=0, scale=0.0)
    budgets = Budgets(model_timeout_s=timeout_s, timeout_s=timeout_s)
    settings = Settings(effort=effort, budgets=budgets, plan_format=plan_format)  # type: ignore[arg-type]
    graph = build_research_graph(
        model, make_tools(world, ["web_search", "fetch_url"]), settings=settings
    )
    config: RunnableConfig = {"configurable": {"thread_id": uuid.uuid4().hex}}
    began = time.perf_counter()
    out["streamed_chunks"] = 0
    try:
        async with asyncio.timeout(timeout_s):
            modes: Any = ["custom", "messages"]
            async for mode, chunk in graph.astream({"task": TASK}, config, stream_mode=modes):
                now = time.perf_counter() - began
                if mode == "messages":  # the model's tokens as they arrive
                    out.setdefault("first_token_s", now)
                    out["streamed_chunks"] += 1
                    continue
                if not isinstance(chunk, dict):  # custom events are dicts
                    continue
                event = parse_event(chunk)
                if event.type == "step_started" and "first_step_s" not in out:
                    out["first_step_s"] = now
                if event.type == "plan":
                    out["first_plan_s"] = now
                    out["plan_steps"] = len(getattr(event, "steps", ()))
                    break
                if event.type == "answer":
                    out["answered_directly_s"] = now
                    break
    except Exception as exc:  # the tiny model may fail to plan; report how
        out["error"] = f"{type(exc).__name__}: {exc}"[:300]
        out["failed_after_s"] = time.perf_counter() - began
    return out


def measure_first_plan(
    timeout_s: float = 180.0, effort: str = "medium", plan_format: str = "auto"
) -> dict[str, Any]:
    """``plan_format`` "auto" is compact for the demo model; "json" is the form before."""
    return asyncio.run(_first_plan(timeout_s, effort, plan_format))


if __name__ == "__main__":
    timeout = float(sys.argv[1]) if len(sys.argv) > 1 else 180.0
    effort = sys.argv[2] if len(sys.argv) > 2 else "medium"
    plan_format = sys.argv[3] if len(sys.argv) > 3 else "auto"
    print(json.dumps(measure_first_plan(timeout, effort, plan_format)))
