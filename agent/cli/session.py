"""One CLI run end to end: model, tools, store, graph, live events, approvals, report.

Everything needed to rebuild a run's graph is saved as `RunOptions` in the run
store, so ``ponder resume`` continues with exactly the same model, tools and
settings (API keys are never saved: they are read from the environment again).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any, Literal, cast

from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel

from agent.cli.render import RunView
from agent.errors import (
    AgentRunError,
    ApprovalRequiredError,
    ConfigError,
    StoreUnavailableError,
)
from agent.events import parse_event
from agent.report import RunReport
from agent.settings import RunContext, Settings
from agent.state import ResearchState
from agent.store import Store

__all__ = [
    "RunOptions",
    "checkpointed_state",
    "new_run_id",
    "resume_run",
    "show_run",
    "start_run",
]

Approver = Callable[[dict[str, Any]], dict[str, Any]]


class RunOptions(BaseModel):
    """What rebuilds a run's graph; saved with the run."""

    task: str
    model: str = "auto"
    fast_model: str | None = None  # notes, extraction, trivial answers; None: ``model``
    base_url: str | None = None
    corpus: str | None = None
    corpus_semantic: bool = False
    search: Literal["web", "corpus", "none"] = "web"
    allow_hosts: list[str] = []
    allow_private_network: bool = False
    code_sandbox: Literal["required", "best-effort", "off"] = "required"
    tools: list[str] = []
    mcp_config: str | None = None  # the path only: its env/headers secrets are never stored
    settings: Settings = Settings()
    follow_up_of: str | None = None  # an earlier run whose evidence this one starts from


def _model(opts: RunOptions, env: Mapping[str, str], view: RunView) -> Any:
    from agent.models.resolve import resolve_model_spec

    resolved = resolve_model_spec(opts.model, base_url=opts.base_url, env=env)
    if resolved.notice:
        view.notice(resolved.notice)
    return resolved


def _fast_model(opts: RunOptions, env: Mapping[str, str]) -> Any:
    """The ``--fast-model``, or None when one model plays both roles."""
    from agent.errors import UserError
    from agent.models.resolve import resolve_model_spec

    if opts.fast_model is None or opts.fast_model == opts.model:
        return None
    try:
        return resolve_model_spec(opts.fast_model, base_url=opts.base_url, env=env)
    except UserError as exc:
        raise type(exc)(f"--fast-model: {exc.message}", hint=exc.hint) from exc


def _tools(opts: RunOptions, store: Store, view: RunView) -> list[Any]:
    from tools.toolbox import ToolboxOptions, build_toolbox

    box = build_toolbox(
        ToolboxOptions(
            search=opts.search,
            corpus=Path(opts.corpus) if opts.corpus else None,
            index_dir=store.local_dir / "corpus-index",
            allow_hosts=tuple(opts.allow_hosts),
            allow_private_network=opts.allow_private_network,
            code_sandbox=opts.code_sandbox,
            only=tuple(opts.tools),
            web_search=opts.settings.web_search,
            corpus_semantic=opts.corpus_semantic,
            mcp=Path(opts.mcp_config) if opts.mcp_config else None,
            extract_in_processes=True,  # the `ponder` script guards its main module
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
    fast: Any = None
    tools: list[Any]


def _prepare(
    opts: RunOptions, store: Store, view: RunView, env: Mapping[str, str] | None
) -> _Prepared:
    env = env or os.environ
    fast = _fast_model(opts, env)  # first: a typo in it fails before a local model loads
    return _Prepared(resolved=_model(opts, env, view), fast=fast, tools=_tools(opts, store, view))


async def _drive(
    opts: RunOptions,
    run_id: str,
    store: Store,
    view: RunView,
    approver: Approver | None,
    prepared: _Prepared,
    *,
    resume: bool,
) -> RunReport:
    from langgraph.types import Command, StreamMode

    from graphs.research import build_research_graph
    from graphs.sampled import build_sampled_graph

    resolved, tools, fast = prepared.resolved, prepared.tools, prepared.fast
    view.start(opts.task, resolved.spec + (f" · fast model {fast.spec}" if fast else ""))
    config: RunnableConfig = {
        "configurable": {"thread_id": run_id},
        "callbacks": view.callbacks(),
    }
    context = RunContext(settings=opts.settings)
    async with store.checkpointer() as saver:
        build = build_research_graph if opts.settings.samples == 1 else build_sampled_graph
        graph = build(
            resolved.model,
            tools,
            checkpointer=saver,
            settings=opts.settings,
            fast_model=fast.model if fast else None,
        )
        snapshot = await graph.aget_state(config)
        feed: Any = None if resume and snapshot.values else await _first_input(opts, saver)
        if resume and snapshot.interrupts:
            feed = Command(resume=_ask(approver, snapshot.interrupts[0].value, view))
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
            feed = Command(resume=_ask(approver, pending, view))
        state = cast(ResearchState, (await graph.aget_state(config)).values)
    report = RunReport.from_state(state)
    await asyncio.to_thread(store.set_status, run_id, report.status)
    return report


def _ask(approver: Approver | None, request: dict[str, Any], view: RunView) -> dict[str, Any]:
    if approver is None:
        raise ApprovalRequiredError(f"run paused for {request.get('kind', 'approval')}")
    from agent.cli.interrupt import asking

    with view.paused(), asking():
        return approver(request)


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


async def start_run(
    opts: RunOptions,
    *,
    store: Store,
    view: RunView,
    approver: Approver | None,
    run_id: str | None = None,
    env: Mapping[str, str] | None = None,
) -> RunReport:
    run_id = run_id or new_run_id()
    return await _record_and_run(opts, run_id, store, view, approver, env, resume=False)


async def _earlier_values(run_id: str, saver: Any) -> dict[str, Any]:
    found = await saver.aget_tuple({"configurable": {"thread_id": run_id}})
    return dict(found.checkpoint["channel_values"]) if found else {}


async def _first_input(opts: RunOptions, saver: Any) -> dict[str, Any]:
    if opts.follow_up_of is None:
        return {"task": opts.task}
    from agent.follow_up import follow_up_input

    return follow_up_input(opts.task, await _earlier_values(opts.follow_up_of, saver))


async def ask_run(
    earlier_id: str,
    question: str,
    *,
    store: Store,
    view: RunView,
    approver: Approver | None,
    run_id: str | None = None,
    env: Mapping[str, str] | None = None,
) -> RunReport:
    """A new run answering ``question`` from the evidence of finished run ``earlier_id``."""
    from agent.follow_up import follow_up_input

    record = await asyncio.to_thread(store.get, earlier_id)
    if record.status == "running":
        raise ConfigError(
            f"run {earlier_id} is still running", hint="wait for it, or `ponder resume` it"
        )
    async with store.checkpointer() as saver:
        follow_up_input(question, await _earlier_values(earlier_id, saver))  # refuse early
    opts = RunOptions.model_validate(record.options).model_copy(
        update={"task": question.strip(), "follow_up_of": earlier_id}
    )
    return await start_run(opts, store=store, view=view, approver=approver, run_id=run_id, env=env)


async def resume_run(
    run_id: str,
    *,
    store: Store,
    view: RunView,
    approver: Approver | None,
    env: Mapping[str, str] | None = None,
) -> RunReport:
    record = await asyncio.to_thread(store.get, run_id)
    opts = RunOptions.model_validate(record.options)
    return await _record_and_run(opts, run_id, store, view, approver, env, resume=True)


async def _record_and_run(
    opts: RunOptions,
    run_id: str,
    store: Store,
    view: RunView,
    approver: Approver | None,
    env: Mapping[str, str] | None,
    *,
    resume: bool,
) -> RunReport:
    """Make the model and tools (a bad flag fails before anything is recorded), record
    the run as running, then run it with a hard wall-clock backstop, recording the outcome
    whatever happens."""
    from agent.lease import Heartbeat

    prepared = _prepare(opts, store, view, env)
    # Store calls run off the event loop: a blocking write there would wait for a lock
    # that another run's checkpointer can release only on this same loop.
    await asyncio.to_thread(store.save, run_id, opts.task, opts.model_dump(mode="json"))

    backstop = opts.settings.budgets.timeout_s * 1.5 + 30
    try:
        with Heartbeat(lambda: store.beat(run_id)):
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
        await _mark_interrupted(store, run_id)
        await _show_where_it_stopped(run_id, store, view)
        raise
    except StoreUnavailableError:  # not the run's fault: leave it resumable
        with suppress(StoreUnavailableError):
            store.set_status(run_id, "interrupted")
        raise
    except BaseException:
        await asyncio.to_thread(store.set_status, run_id, "failed")
        raise
    view.finish(report)
    return report


async def _mark_interrupted(store: Store, run_id: str, wait_s: float = 1.0) -> None:
    """Mark the run interrupted without holding up Ctrl-C.

    The write runs in a daemon thread, not on this loop (a checkpoint write still in
    flight here may hold the database's write lock, and blocking the loop would keep
    it from finishing) and not in the loop's executor (``asyncio.run`` joins those
    threads at exit, so a write stuck behind a lock would stall the exit for the
    store's whole busy timeout). Past ``wait_s`` the exit goes on: the run's lease
    names this process as its owner, so once it is gone every reader shows the run
    as ``interrupted`` anyway.
    """
    done = threading.Event()

    def write() -> None:
        with suppress(Exception):  # a store error must not turn Ctrl-C into a crash
            store.set_status(run_id, "interrupted")
        done.set()

    threading.Thread(target=write, name="mark-interrupted", daemon=True).start()
    deadline = time.monotonic() + wait_s
    while not done.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


async def _show_where_it_stopped(run_id: str, store: Store, view: RunView) -> None:
    """Give the view the run as its last checkpoint left it (what a resume starts from)."""
    try:
        report = await asyncio.wait_for(show_run(run_id, store=store), 2.0)
    except (TimeoutError, AgentRunError, OSError):
        report = RunReport(run_id=run_id, task="", status="interrupted")
    view.finish(report)


async def show_run(run_id: str, *, store: Store) -> RunReport:
    """The report of a stored run, read straight from its last checkpoint."""
    record = await asyncio.to_thread(store.get, run_id)
    values = await checkpointed_state(store, run_id)
    status = record.status if record.status != "running" or not values else None
    state = {"task": record.task, "run_id": run_id, **values}
    return RunReport.from_state(state, status=status)  # type: ignore[arg-type]


async def checkpointed_state(store: Store, run_id: str) -> dict[str, Any]:
    """A run's last checkpointed state; empty if it has none yet."""
    async with store.checkpointer() as saver:
        return await _earlier_values(run_id, saver)
