"""``ponder batch``: many tasks, each its own resumable run, with one summary.

Every task becomes a run in the store (so ``ponder show`` and ``ponder resume``
work on each one); one task failing stops none of the others. The options of
``ponder run`` that make sense for every task are accepted here too. A batch
is recorded in the store under its id, so ``--resume BATCH_ID`` continues it
after its driver died; ``--out`` appends each result as it ends; ``--ray``
runs the tasks on a Ray cluster (see `agent.cli.batch_ray`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from agent.cli import options as o
from agent.cli.app import EXIT, _fail_on, _store

if TYPE_CHECKING:  # imported when a batch runs, so `ponder --help` stays instant
    from agent.cli.batch_tasks import BatchItem, TaskSpec
    from agent.report import RunReport
    from agent.store import Store

__all__ = ["batch"]


async def _run_here(
    specs: list[TaskSpec],
    store: Store,
    *,
    concurrency: int,
    search_rate: float,
    on_start: Callable[[TaskSpec], None],
    on_result: Callable[[BatchItem], None],
    stop_launching: Callable[[], bool],
) -> None:
    """Run the tasks in this process, ``concurrency`` at a time; one failure stops none."""
    import asyncio

    from agent.cli.batch_tasks import run_task
    from tools.search_limiter import LocalSearchLimiter, using_search_limiter

    gate = asyncio.Semaphore(concurrency)

    async def one(spec: TaskSpec) -> None:
        async with gate:
            if stop_launching():
                return
            on_start(spec)
            on_result(await run_task(spec, store))

    with using_search_limiter(LocalSearchLimiter(search_rate)):  # one pace for all tasks
        await asyncio.gather(*(one(s) for s in specs))


def batch(
    file: Annotated[
        Path | None, typer.Argument(help="Tasks, one per line (# comments allowed).")
    ] = None,
    model: o.ModelOpt = "auto",
    fast_model: o.FastModelOpt = None,
    notes: o.NotesOpt = None,
    base_url: o.BaseUrlOpt = None,
    effort: o.EffortOpt = o.Effort.auto,
    corpus: o.CorpusOpt = None,
    search: o.SearchOpt = None,
    searxng_url: o.SearxngUrlOpt = None,
    local_web: o.LocalWebOpt = None,
    local_web_port: o.LocalWebPortOpt = 0,
    corpus_semantic: o.CorpusSemanticOpt = False,
    tools: o.ToolsOpt = None,
    mcp: o.McpOpt = None,
    allow_host: o.AllowHostOpt = None,
    samples: o.SamplesOpt = "1",
    plan_samples: o.PlanSamplesOpt = 1,
    plan_format: o.PlanFormatOpt = o.PlanFormat.auto,
    report_kind: o.ReportOpt = o.ReportKind.short,
    reports: Annotated[
        Path | None,
        typer.Option(
            help="Write each run's report into this folder as RUN_ID.md (see --reports-format)."
        ),
    ] = None,
    reports_format: Annotated[
        o.ReportFormat, typer.Option(help="The format of the --reports files: md, html or json.")
    ] = o.ReportFormat.md,
    concurrency: Annotated[int, typer.Option(min=1, max=32, help="Runs at once.")] = 4,
    search_rate: Annotated[
        float,
        typer.Option(min=0.01, max=100, help="Web searches per second, all tasks together."),
    ] = 1.0,
    max_steps: o.MaxStepsOpt = 48,
    max_replans: o.MaxReplansOpt = 3,
    max_model_calls: o.MaxModelCallsOpt = 24,
    max_tokens: o.MaxTokensOpt = 400_000,
    timeout: o.TimeoutOpt = 900.0,
    step_timeout: o.StepTimeoutOpt = 60.0,
    jsonl: Annotated[bool, typer.Option(help="Print each run's report as a JSON line.")] = False,
    out: Annotated[
        Path | None, typer.Option(help="Append each result to this JSONL file as it ends.")
    ] = None,
    batch_id: Annotated[
        str | None, typer.Option(help="Name the batch (default: random); runs are ID-0001…")
    ] = None,
    resume: Annotated[
        str | None, typer.Option(help="Continue the batch BATCH_ID; finished tasks stay done.")
    ] = None,
    ray: Annotated[
        str | None, typer.Option(help="Run on a Ray cluster: auto or HOST:PORT.")
    ] = None,
    worker_concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="With --ray: tasks at once per worker CPU.")
    ] = 1,
    ray_retries: Annotated[
        int, typer.Option(min=0, max=20, help="With --ray: retries of a task whose worker died.")
    ] = 5,
    batch_max_model_calls: Annotated[
        int | None, typer.Option(min=1, help="Start no task once the batch used this many.")
    ] = None,
    batch_max_tokens: Annotated[
        int | None, typer.Option(min=1, help="Start no task once the batch used this many.")
    ] = None,
    store: o.StoreOpt = None,
) -> None:
    """Research many tasks, each as its own resumable run; print how each ended."""
    from agent.cli.batch_tasks import Progress, ResultsFile, TaskSpec
    from agent.cli.session import RunOptions
    from agent.errors import ConfigError, UserError
    from agent.store import RunStore

    try:
        run_store = _store(store)
        if ray is not None and isinstance(run_store, RunStore):
            raise ConfigError(
                "--ray needs a store every worker can reach",
                hint="pass --store postgresql://… (or set PONDER_STORE)",
            )
        if resume is not None:
            manifest = run_store.get_batch(resume)
            batch_name, tasks = resume, list(manifest["tasks"])
            base = RunOptions.model_validate(manifest["options"])
            out = out or (Path(manifest["out"]) if manifest.get("out") else None)
            if reports is None and manifest.get("reports"):
                reports = Path(manifest["reports"])
                reports_format = o.ReportFormat(manifest.get("reports_format", "md"))
        else:
            if file is None:
                raise ConfigError("give a FILE of tasks, or --resume BATCH_ID")
            from agent.cli.task_input import read_batch

            tasks = read_batch(file)
            args = o.ResearchArgs(
                model=model, fast_model=fast_model, notes=notes, base_url=base_url,
                effort=effort, corpus=corpus, search=search, searxng_url=searxng_url,
                local_web=local_web, local_web_port=local_web_port,
                corpus_semantic=corpus_semantic, max_steps=max_steps, max_replans=max_replans,
                max_model_calls=max_model_calls, max_tokens=max_tokens, timeout=timeout,
                step_timeout=step_timeout, samples=samples, plan_samples=plan_samples,
                report=report_kind, plan_format=plan_format, tools=tools, mcp=mcp,
                allow_host=list(allow_host or []), search_rate=search_rate,
            )  # fmt: skip
            base = args.to_run_options(tasks[0])  # no one is there to answer: never clarify
            import uuid

            batch_name = batch_id or uuid.uuid4().hex[:8]
            if not batch_name.replace("-", "").replace("_", "").isalnum():
                raise ConfigError("--batch-id may hold only letters, digits, - and _")
            run_store.save_batch(
                batch_name,
                {
                    "tasks": tasks,
                    "options": base.model_dump(mode="json"),
                    "out": str(out.resolve()) if out else None,
                    "reports": str(reports.resolve()) if reports else None,
                    "reports_format": reports_format.value,
                    "created_at": time.time(),
                },
            )
        results = ResultsFile(out) if out else None
        if reports is not None:
            _make_folder(reports)
    except UserError as exc:
        _fail_on(exc, 2)
    specs = [
        TaskSpec(batch_id=batch_name, index=i, options=base.model_copy(update={"task": t}))
        for i, t in enumerate(tasks, start=1)
        if results is None or i not in results.written
    ]
    rate = base.settings.web_search.rate_per_s  # a resumed batch keeps its own rate
    progress = Progress(total=len(tasks), already=len(tasks) - len(specs), search_rate=rate)
    items: list[BatchItem] = []
    typer.echo(
        f"batch {batch_name}: {len(specs)} of {len(tasks)} tasks to run"
        f" (web search at most {rate:g}/s in all)",
        err=True,
    )

    def started(spec: TaskSpec) -> None:
        progress.running += 1

    def finished(item: BatchItem) -> None:
        progress.running -= 1
        progress.record(item)
        items.append(item)
        if results is not None:
            results.append(item)
        if reports is not None and item.report is not None:
            _save_report(item.report, reports / f"{item.run_id}.{reports_format.value}")
        typer.echo(f"batch {batch_name} {progress.line()}", err=True)

    def over_budget() -> bool:
        return bool(
            (batch_max_model_calls and progress.model_calls >= batch_max_model_calls)
            or (batch_max_tokens and progress.tokens >= batch_max_tokens)
        )

    if ray is not None:
        from agent.cli.batch_ray import run_on_ray

        run_on_ray(
            specs,
            store_spec=store or os.environ["PONDER_STORE"],
            address=ray,
            in_flight=concurrency,
            task_cpus=1 / worker_concurrency,
            retries=ray_retries,
            batch_id=batch_name,
            search_rate=rate,
            on_start=started,
            on_result=finished,
            stop_launching=over_budget,
            on_tick=lambda: None,
        )
    else:
        import asyncio

        asyncio.run(
            _run_here(
                specs,
                run_store,
                concurrency=concurrency,
                search_rate=rate,
                on_start=started,
                on_result=finished,
                stop_launching=over_budget,
            )
        )
    _report(sorted(items, key=lambda i: i.index), len(specs), batch_name, jsonl, rate)


def _make_folder(path: Path) -> None:
    from agent.errors import ConfigError

    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the --reports folder {path}: {exc.strerror}") from exc


def _save_report(report: RunReport, path: Path) -> None:
    """Write one run's report; a failed write is one line, and the batch goes on."""
    try:
        report.save(path)
    except OSError as exc:
        typer.echo(f"batch: could not write {path}: {exc.strerror}", err=True)


def _report(
    items: list[BatchItem], wanted: int, batch_name: str, jsonl: bool, search_rate: float
) -> NoReturn:
    from agent.cli.batch_tasks import summary_line

    for item in items:
        if jsonl:
            typer.echo(item.model_dump_json(exclude={"report": {"plans", "reflections"}}))
        else:
            detail = item.error or (item.report.stop_reason if item.report else "")
            typer.echo(
                f"{item.index:>3} {item.run_id} {item.status:<16} {item.task[:60]}"
                + (f"  ({detail})" if item.status != "done" and detail else "")
            )
    skipped = wanted - len(items)
    typer.echo(
        f"batch {batch_name}: {summary_line([i.status for i in items])}"
        + (f" / not started {skipped} (batch budget; --resume {batch_name} continues)"
           if skipped else "")
        + f" · web search ≤ {search_rate:g}/s",
        err=True,
    )  # fmt: skip
    codes = [EXIT.get(i.status, 1) for i in items] + ([3] if skipped else [])
    raise typer.Exit(max(codes, key=lambda c: (c != 0, c)) if codes else 0)
