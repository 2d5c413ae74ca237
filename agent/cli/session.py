"""One CLI run end to end: model, tools, store, graph, live events, approvals, report.

Everything needed to rebuild a run's graph is saved as `RunOptions` in the run
store, so ``ponder resume`` continues with exactly the same model, tools and
settings (API keys are never saved: they are read from the environment again).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, cast

from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel

from agent.cli.render import RunView
from agent.errors import AgentRunError, ApprovalRequiredError
from agent.events import parse_event
from agent.report import RunReport
from agent.settings import RunContext, Settings
from agent.state import ResearchState
from agent.store import RunStore

__all__ = ["BatchItem", "RunOptions", "resume_run", "run_batch", "show_run", "start_run"]

Approver = Callable[[dict[str, Any]], dict[str, Any]]


class RunOptions(BaseModel):
    """What rebuilds a run's graph; saved with the run."""

    task: str
    model: str = "auto"
    base_url: str | None = None
    corpus: str | None = None
    search: Literal["web", "corpus", "none"] = "web"
    allow_hosts: list[str] = []
    allow_private_network: bool = False
    code_sandbox: Literal["required", "best-effort", "off"] = "required"
    tools: list[str] = []
    mcp_config: str | None = None  # the path only: its env/headers secrets are never stored
    settings: Settings = Settings()


def _model(opts: RunOptions, env: Mapping[str, str], view: RunView) -> Any:
    from agent.models.resolve import resolve_model_spec

    resolved = resolve_model_spec(opts.model, base_url=opts.base_url, env=env)
    if resolved.notice:
        view.notice(resolved.notice)
    return resolved


def _tools(opts: RunOptions, store: RunStore, view: RunView) -> list[Any]:
    from tools.toolbox import ToolboxOptions, build_toolbox

    box = build_toolbox(
        ToolboxOptions(
            search=opts.search,
            corpus=Path(opts.corpus) if opts.corpus else None,
            index_dir=store.path.parent / "corpus-index",
            allow_hosts=tuple(opts.allow_hosts),
            allow_private_network=opts.allow_private_network,
            code_sandbox=opts.code_sandbox,
            only=tuple(opts.tools),
            web_search=opts.settings.web_search,
            mcp=Path(opts.mcp_config) if opts.mcp_config else None,
        )
    )
    for notice in box.notices:
        view.notice(notice)
    return list(box.tools)


class _Prepared(BaseModel):
    """The model and tools of a run, made before the run is recorded (so a typo
    in a flag fails as a usage error, leaving no failed run behind)."""

    model_config = {"arbitrary_types_allowed": True}

    resolved: Any
    tools: list[Any]


def _prepare(
    opts: RunOptions, store: RunStore, view: RunView, env: Mapping[str, str] | None
) -> _Prepared:
    return _Prepared(
        resolved=_model(opts, env or os.environ, view), tools=_tools(opts, store, view)
    )


async def _drive(
    opts: RunOptions,
    run_id: str,
    store: RunStore,
    view: RunView,
    approver: Approver | None,
    prepared: _Prepared,
    *,
    resume: bool,
) -> RunReport:
    from langgraph.types import Command, StreamMode

    from graphs.research import build_research_graph

    resolved, tools = prepared.resolved, prepared.tools
    view.start(opts.task, resolved.spec)
    config: RunnableConfig = {"configurable": {"thread_id": run_id}}
    context = RunContext(settings=opts.settings)
    async with store.checkpointer() as saver:
        graph = build_research_graph(
            resolved.model, tools, checkpointer=saver, settings=opts.settings
        )
        snapshot = await graph.aget_state(config)
        feed: Any = None if resume and snapshot.values else {"task": opts.task}
        if resume and snapshot.interrupts:
            feed = Command(resume=_ask(approver, snapshot.interrupts[0].value))
        while True:
            pending = None
            modes: list[StreamMode] = ["custom", "updates"]
            async for mode, chunk in graph.astream(
                feed, config, context=context, stream_mode=modes
            ):
                if mode == "custom":
                    view.on_event(parse_event(cast(dict[str, Any], chunk)))
                elif isinstance(chunk, dict) and "__interrupt__" in chunk:
                    pending = chunk["__interrupt__"][0].value
            if pending is None:
                break
            feed = Command(resume=_ask(approver, pending))
        state = cast(ResearchState, (await graph.aget_state(config)).values)
    report = RunReport.from_state(state)
    store.set_status(run_id, report.status)
    return report


def _ask(approver: Approver | None, request: dict[str, Any]) -> dict[str, Any]:
    if approver is None:
        raise ApprovalRequiredError(f"run paused for {request.get('kind', 'approval')}")
    return approver(request)


async def start_run(
    opts: RunOptions,
    *,
    store: RunStore,
    view: RunView,
    approver: Approver | None,
    run_id: str | None = None,
    env: Mapping[str, str] | None = None,
) -> RunReport:
    run_id = run_id or uuid.uuid4().hex[:12]
    prepared = _prepare(opts, store, view, env)
    store.save(run_id, opts.task, opts.model_dump(mode="json"))
    return await _guarded(opts, run_id, store, view, approver, prepared, resume=False)


async def resume_run(
    run_id: str,
    *,
    store: RunStore,
    view: RunView,
    approver: Approver | None,
    env: Mapping[str, str] | None = None,
) -> RunReport:
    record = store.get(run_id)
    opts = RunOptions.model_validate(record.options)
    prepared = _prepare(opts, store, view, env)
    store.save(run_id, record.task, record.options)
    return await _guarded(opts, run_id, store, view, approver, prepared, resume=True)


async def _guarded(
    opts: RunOptions,
    run_id: str,
    store: RunStore,
    view: RunView,
    approver: Approver | None,
    prepared: _Prepared,
    *,
    resume: bool,
) -> RunReport:
    """Run with a hard wall-clock backstop; record the outcome whatever happens."""
    backstop = opts.settings.budgets.timeout_s * 1.5 + 30
    try:
        report = await asyncio.wait_for(
            _drive(opts, run_id, store, view, approver, prepared, resume=resume),
            backstop,
        )
    except TimeoutError as exc:
        store.set_status(run_id, "interrupted")
        raise AgentRunError(
            f"run {run_id} exceeded its hard time limit of {backstop:.0f}s",
            hint=f"finished steps are saved: `ponder resume {run_id}`",
        ) from exc
    except (asyncio.CancelledError, KeyboardInterrupt):
        store.set_status(run_id, "interrupted")
        raise
    except BaseException:
        store.set_status(run_id, "failed")
        raise
    view.finish(report)
    return report


async def show_run(run_id: str, *, store: RunStore) -> RunReport:
    """The report of a stored run, read straight from its last checkpoint."""
    record = store.get(run_id)
    async with store.checkpointer() as saver:
        found = await saver.aget_tuple({"configurable": {"thread_id": run_id}})
    values = dict(found.checkpoint["channel_values"]) if found else {}
    values.setdefault("task", record.task)
    values.setdefault("run_id", run_id)
    status = record.status if record.status != "running" or not found else None
    return RunReport.from_state(values, status=status)  # type: ignore[arg-type]


class BatchItem(BaseModel):
    """One task of a batch and how it ended."""

    index: int
    task: str
    run_id: str
    status: str
    error: str = ""
    report: RunReport | None = None


async def run_batch(
    tasks: list[str],
    base: RunOptions,
    *,
    store: RunStore,
    concurrency: int,
    make_view: Callable[[str], RunView],
    env: Mapping[str, str] | None = None,
) -> list[BatchItem]:
    """Run many tasks as separate runs, ``concurrency`` at a time; one failure stops none."""
    from agent.errors import PonderError

    gate = asyncio.Semaphore(concurrency)

    async def one(index: int, task: str) -> BatchItem:
        run_id = uuid.uuid4().hex[:12]
        opts = base.model_copy(update={"task": task})
        async with gate:
            try:
                report = await start_run(
                    opts, store=store, view=make_view(run_id), approver=None, run_id=run_id, env=env
                )
            except PonderError as exc:
                return BatchItem(
                    index=index, task=task, run_id=run_id, status="failed", error=str(exc)
                )
        return BatchItem(index=index, task=task, run_id=run_id, status=report.status, report=report)

    return list(await asyncio.gather(*(one(i, t) for i, t in enumerate(tasks, start=1))))
