"""``ponder batch``: many tasks, each its own resumable run, with one summary.

Every task becomes a run in the store (so ``ponder show`` and ``ponder resume``
work on each one); one task failing stops none of the others. The options of
``ponder run`` that make sense for every task of a batch are accepted here too.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel

from agent.cli.app import EXIT, Effort, Search, _fail, _store
from agent.cli.render import RunView
from agent.cli.session import RunOptions, start_run
from agent.report import RunReport
from agent.store import Store

__all__ = ["BatchItem", "batch", "run_batch", "summary_line"]

# The order outcomes are counted in a summary; statuses not listed follow.
_SUMMARY_ORDER = ("done", "failed", "unanswered", "budget_exhausted", "interrupted")


class BatchItem(BaseModel):
    """One task of a batch and how it ended."""

    index: int
    task: str
    run_id: str
    status: str
    error: str = ""
    report: RunReport | None = None


def summary_line(statuses: list[str]) -> str:
    """``done 3 / failed 1 / unanswered 0``: every outcome counted apart."""
    counts = Counter(statuses)
    names = [*_SUMMARY_ORDER, *sorted(set(counts) - set(_SUMMARY_ORDER))]
    shown = [n for n in names if n in _SUMMARY_ORDER[:3] or counts[n]]
    return " / ".join(f"{n} {counts[n]}" for n in shown)


async def run_batch(
    tasks: list[str],
    base: RunOptions,
    *,
    store: Store,
    concurrency: int,
    make_view: Callable[[str], RunView],
    env: Mapping[str, str] | None = None,
    on_result: Callable[[BatchItem], None] | None = None,
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
                item = BatchItem(
                    index=index, task=task, run_id=run_id, status=report.status, report=report
                )
            except PonderError as exc:
                item = BatchItem(
                    index=index, task=task, run_id=run_id, status="failed", error=str(exc)
                )
        if on_result is not None:
            on_result(item)
        return item

    return list(await asyncio.gather(*(one(i, t) for i, t in enumerate(tasks, start=1))))


def batch(
    file: Annotated[Path, typer.Argument(help="Tasks, one per line (# comments allowed).")],
    model: Annotated[str, typer.Option(help="Model spec, as for `ponder run`.")] = "auto",
    base_url: Annotated[str | None, typer.Option()] = None,
    effort: Annotated[Effort, typer.Option()] = Effort.auto,
    corpus: Annotated[Path | None, typer.Option()] = None,
    search: Annotated[Search | None, typer.Option()] = None,
    tools: Annotated[
        str | None, typer.Option(help="Only these tools, comma-separated (e.g. corpus_search).")
    ] = None,
    allow_host: Annotated[
        list[str] | None, typer.Option(help="Let web tools reach this host[:port].")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=32, help="Runs at once.")] = 4,
    max_steps: Annotated[int, typer.Option(min=1, max=200)] = 48,
    max_replans: Annotated[int, typer.Option(min=0, max=20)] = 3,
    max_model_calls: Annotated[int, typer.Option(min=1, max=1000)] = 24,
    max_tokens: Annotated[int, typer.Option(min=100)] = 400_000,
    timeout: Annotated[float, typer.Option(min=1.0, help="Wall-clock budget per run (s).")] = 900.0,
    step_timeout: Annotated[float, typer.Option(min=0.1)] = 60.0,
    jsonl: Annotated[bool, typer.Option(help="Print each run's report as a JSON line.")] = False,
    store: Annotated[
        str | None, typer.Option(help="Run store (file or postgresql:// URL).")
    ] = None,
) -> None:
    """Research many tasks, each as its own resumable run; print how each ended."""
    from agent.errors import ConfigError, UserError

    try:
        from agent.cli.task_input import read_batch

        tasks = read_batch(file)
        if corpus is not None and not corpus.is_dir():
            raise ConfigError(f"corpus folder {corpus} does not exist or is not a folder")
        chosen = (search or (Search.corpus if corpus else Search.web)).value
        if chosen == "corpus" and corpus is None:
            raise ConfigError("--search corpus needs --corpus DIR")
        from agent.settings import Budgets, Settings

        base = RunOptions(
            task=tasks[0],
            model=model,
            base_url=base_url,
            corpus=str(corpus.resolve()) if corpus else None,
            search=chosen,
            allow_hosts=list(allow_host or []),
            tools=[t.strip() for t in (tools or "").split(",") if t.strip()],
            settings=Settings(
                effort=effort.value,
                budgets=Budgets(
                    max_steps=max_steps,
                    max_replans=max_replans,
                    max_model_calls=max_model_calls,
                    max_tokens=max_tokens,
                    timeout_s=timeout,
                    step_timeout_s=step_timeout,
                ),
            ),
        )
        run_store = _store(store)
    except UserError as exc:
        _fail(str(exc), 2)
    from agent.cli.render import PlainView

    items = asyncio.run(
        run_batch(
            tasks,
            base,
            store=run_store,
            concurrency=concurrency,
            make_view=lambda rid: PlainView(show_answer=False, prefix=rid),
        )
    )
    for item in items:
        if jsonl:
            typer.echo(item.model_dump_json(exclude={"report": {"plans", "reflections"}}))
        else:
            detail = item.error or (item.report.stop_reason if item.report else "")
            typer.echo(
                f"{item.index:>3} {item.run_id} {item.status:<16} {item.task[:60]}"
                + (f"  ({detail})" if item.status != "done" and detail else "")
            )
    typer.echo(f"batch: {summary_line([i.status for i in items])}", err=True)
    worst = max((EXIT.get(i.status, 1) for i in items), key=lambda c: (c != 0, c))
    raise typer.Exit(worst)
