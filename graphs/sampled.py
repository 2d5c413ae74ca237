"""Several independent reasoning paths for one task, and a verifier that picks one answer.

    decide ─Send×N→ path (the research graph as a subgraph) → verify → END

Each path researches the task on its own, with its own planning hint (path 0
sees the task unchanged), and drafts a cited answer. Identical tool calls
across paths run once (`SharedToolCalls`). The budgets cover all paths
together: each path gets an equal share of model calls, tokens and steps,
and the paths run concurrently within the run's wall-clock budget. A path
that fails becomes a rejected candidate, not a failed run. The verifier
(`agent.verifier.choose`) rejects candidates the citation check does not
support, votes over normalised short answers and keeps the chosen path's
plans, steps and reflections as the run's own, so reports and ``ponder
resume`` work as for a single path. Every candidate, its score and the vote
are in ``state["sampling"]`` and in a ``vote`` event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Checkpointer, Send

from agent.checkpointing import checkpoint_allowlist
from agent.events import VoteEvent, emit
from agent.nodes.triage import rules_triage, run_id_for
from agent.plan import Plan, TriageDecision
from agent.plan_critic import sampled_task
from agent.settings import Budgets, RunContext, Settings
from agent.state import (
    Answer,
    InputState,
    OutputState,
    Reflection,
    ResearchState,
    StepRecord,
    Usage,
    add_usage,
    append_plans,
    append_reflections,
    merge_step_records,
)
from agent.verifier import candidate_from, choose, samples_for
from graphs._build import build_graph
from graphs._shared_tools import SharedToolCalls

__all__ = ["build_sampled_graph"]


def _merge_paths(
    left: dict[str, dict[str, Any]] | None, right: dict[str, dict[str, Any]] | None
) -> dict[str, dict[str, Any]]:
    """Paths write under their own number, so any order merges the same."""
    return {**(left or {}), **(right or {})}


class SampledState(ResearchState, total=False):
    paths: Annotated[dict[str, dict[str, Any]], _merge_paths]
    samples: int
    sampling: dict[str, Any]


class _PathInput(ResearchState, total=False):
    path: int


def _settings(runtime: Runtime[RunContext], default: Settings) -> Settings:
    return (runtime.context.settings if runtime.context else None) or default


def _path_settings(settings: Settings, paths: int) -> Settings:
    """An equal share of the run's budgets for one path (at least one of each)."""
    b = settings.budgets
    share = Budgets(
        max_steps=max(1, b.max_steps // paths),
        max_replans=b.max_replans,
        max_model_calls=max(1, b.max_model_calls // paths),
        max_tokens=max(100, b.max_tokens // paths),
        timeout_s=b.timeout_s,
        step_timeout_s=b.step_timeout_s,
        model_timeout_s=b.model_timeout_s,
    )
    return settings.model_copy(update={"budgets": share, "samples": 1})


def _fold(into: dict[str, Any], update: Mapping[str, Any]) -> None:
    """Merge one node's update into a path's state with the state's own reducers."""
    reducers = {
        "plans": append_plans,
        "steps": merge_step_records,
        "reflections": append_reflections,
        "usage": add_usage,
    }
    for key, value in update.items():
        merge = reducers.get(key)
        into[key] = merge(into.get(key), value) if merge else value  # type: ignore[operator]


def build_sampled_graph(
    model: BaseChatModel,
    tools: Sequence[BaseTool | Any],
    *,
    checkpointer: Checkpointer = None,
    settings: Settings | None = None,
    fast_model: BaseChatModel | None = None,
    name: str = "ponder_sampled",
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """A graph that runs ``settings.samples`` research paths and answers with the verified one."""
    settings = settings or Settings()
    cache = SharedToolCalls()
    shared = [cache.share(t) if isinstance(t, BaseTool) else t for t in tools]
    research = build_graph(
        model, shared, purpose="research", settings=settings, name="path", fast_model=fast_model
    )

    def decide(
        state: SampledState, config: RunnableConfig, runtime: Runtime[RunContext]
    ) -> dict[str, Any]:
        chosen = _settings(runtime, settings)
        task = state.get("task", "")
        n = samples_for(chosen.samples, chosen.effort, task, trivial=rules_triage(task) is not None)
        return {"samples": n, "run_id": state.get("run_id") or run_id_for(config)}

    def fan_out(state: SampledState) -> list[Send]:
        n = state.get("samples", 1)
        return [Send("path", {"task": state["task"], "path": i}) for i in range(n)]

    async def path(
        state: _PathInput, config: RunnableConfig, runtime: Runtime[RunContext]
    ) -> dict[str, Any]:
        i = int(state.get("path", 0))
        chosen = _settings(runtime, settings)
        n = samples_for(chosen.samples, chosen.effort, state["task"], trivial=False)
        n = max(n, i + 1)
        task = sampled_task(state["task"], i, n)
        fold: dict[str, Any] = {}
        error = ""
        # A path runs as its own thread, not nested under the parent's config: its
        # updates then reach this fold alone, and its events are forwarded.
        thread = str((config.get("configurable") or {}).get("thread_id", "run"))
        own: RunnableConfig = {"configurable": {"thread_id": f"{thread}:path{i}"}}
        writer = get_stream_writer()
        try:
            context = RunContext(
                settings=_path_settings(chosen, n),
                fast_model=runtime.context.fast_model if runtime.context else None,
            )
            async for mode, chunk in research.astream(
                {"task": task}, own, context=context, stream_mode=["updates", "custom"]
            ):
                if mode == "custom":
                    writer(chunk)
                    continue
                for part in chunk.values() if isinstance(chunk, Mapping) else ():
                    if isinstance(part, Mapping):
                        _fold(fold, part)
        except Exception as exc:  # one path's failure is a rejected candidate, not the run's
            error = f"{type(exc).__name__}: {exc}"[:500]
        record = {
            "triage": _dump(fold.get("triage")),
            "plans": [p.model_dump(mode="json") for p in fold.get("plans") or []],
            "steps": {k: r.model_dump(mode="json") for k, r in (fold.get("steps") or {}).items()},
            "reflections": [r.model_dump(mode="json") for r in fold.get("reflections") or []],
            "answer": _dump(fold.get("answer")),
            "status": "failed" if error else fold.get("status", "done"),
            "stop_reason": error or fold.get("stop_reason", ""),
            "error": error,
        }
        return {"paths": {str(i): record}, "usage": fold.get("usage") or Usage()}

    def verify(state: SampledState) -> dict[str, Any]:
        paths = state.get("paths") or {}
        candidates = []
        for key in sorted(paths, key=int):
            p = paths[key]
            answer = Answer.model_validate(p["answer"]) if p.get("answer") else None
            reflections = [Reflection.model_validate(r) for r in p.get("reflections") or []]
            candidates.append(
                candidate_from(
                    int(key), answer, reflections, status=p["status"], error=p.get("error", "")
                )
            )
        verdict = choose(candidates)
        sampling = {
            "samples": len(candidates),
            "chosen": verdict.chosen,
            "vote": verdict.vote,
            "candidates": verdict.candidates,
            "tool_calls_run": cache.runs,
            "tool_calls_reused": cache.reused,
        }
        emit(
            get_stream_writer(),
            VoteEvent(
                run_id=state.get("run_id", ""),
                chosen=verdict.chosen,
                vote=verdict.vote,
                candidates=verdict.candidates,  # type: ignore[arg-type]
            ),
        )
        if verdict.chosen is None:
            first = paths.get("0", {})
            return {
                "sampling": sampling,
                "status": "failed",
                "stop_reason": first.get("stop_reason") or "no path produced an answer",
            }
        best = paths[str(verdict.chosen)]
        return {
            "sampling": sampling,
            "triage": TriageDecision.model_validate(best["triage"]) if best["triage"] else None,
            "plans": [Plan.model_validate(p) for p in best["plans"]],
            "steps": {k: StepRecord.model_validate(r) for k, r in best["steps"].items()},
            "reflections": [Reflection.model_validate(r) for r in best["reflections"]],
            "answer": Answer.model_validate(best["answer"]),
            "status": best["status"] if best["status"] != "failed" else "done",
            "stop_reason": best["stop_reason"],
        }

    g = StateGraph(
        SampledState, context_schema=RunContext, input_schema=InputState, output_schema=OutputState
    )
    g.add_node("decide", decide)  # type: ignore[call-overload,arg-type,unused-ignore]
    g.add_node("path", path)  # type: ignore[call-overload,arg-type,unused-ignore]
    g.add_node("verify", verify)
    g.add_edge(START, "decide")
    g.add_conditional_edges("decide", fan_out, ["path"])
    g.add_edge("path", "verify")
    g.add_edge("verify", END)
    if isinstance(checkpointer, BaseCheckpointSaver):
        checkpointer = checkpointer.with_allowlist(checkpoint_allowlist())
    compiled = g.compile(checkpointer=checkpointer, name=name)
    return compiled.with_config(recursion_limit=settings.recursion_limit())


def _dump(value: Any) -> Any:
    return value.model_dump(mode="json") if value is not None else None
