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

from agent.cli.app import EXIT, Effort, Search, _fail_on, _store

if TYPE_CHECKING:  # imported when a batch runs, so `ponder --help` stays instant
    from agent.cli.batch_tasks import BatchItem, TaskSpec
    from agent.cli.session import RunOptions
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
    model: Annotated[str, typer.Option(help="Model spec, as for `ponder run`.")] = "auto",
    fast_model: Annotated[str | None, typer.Option(help="As for `ponder run`.")] = None,
    notes: Annotated[bool | None, typer.Option("--notes/--no-notes")] = None,
    base_url: Annotated[str | None, typer.Option()] = None,
    effort: Annotated[Effort, typer.Option()] = Effort.auto,
    corpus: Annotated[Path | None, typer.Option()] = None,
    search: Annotated[Search | None, typer.Option(help="As for `ponder run`.")] = None,
    searxng_url: Annotated[str | None, typer.Option()] = None,
    local_web: Annotated[Path | None, typer.Option()] = None,
    local_web_port: Annotated[int, typer.Option(min=0, max=65535)] = 0,
    tools: Annotated[
        str | None, typer.Option(help="Only these tools, comma-separated (e.g. corpus_search).")
    ] = None,
    allow_host: Annotated[
        list[str] | None, typer.Option(help="Let web tools reach this host[:port].")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=32, help="Runs at once.")] = 4,
    search_rate: Annotated[
        float,
        typer.Option(min=0.01, max=100, help="Web searches per second, all tasks together."),
    ] = 1.0,
    max_steps: Annotated[int, typer.Option(min=1, max=200)] = 48,
    max_replans: Annotated[int, typer.Option(min=0, max=20)] = 3,
    max_model_calls: Annotated[int, typer.Option(min=1, max=1000)] = 24,
    max_tokens: Annotated[int, typer.Option(min=100)] = 400_000,
    timeout: Annotated[float, typer.Option(min=1.0, help="Wall-clock budget per run (s).")] = 900.0,
    step_timeout: Annotated[float, typer.Option(min=0.1)] = 60.0,
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
    store: Annotated[
        str | None, typer.Option(help="Run store (file or postgresql:// URL).")
    ] = None,
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
        else:
            if file is None:
                raise ConfigError("give a FILE of tasks, or --resume BATCH_ID")
            base, tasks = _new_batch(
                file, model, base_url, effort, corpus, search, tools, allow_host,
                max_steps, max_replans, max_model_calls, max_tokens, timeout, step_timeout,
                (searxng_url, local_web, local_web_port, search_rate),
            )  # fmt: skip
            noted = base.settings.model_copy(update={"notes": notes})
            base = base.model_copy(update={"fast_model": fast_model, "settings": noted})
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
                    "created_at": time.time(),
                },
            )
        results = ResultsFile(out) if out else None
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


def _new_batch(
    file: Path,
    model: str,
    base_url: str | None,
    effort: Effort,
    corpus: Path | None,
    search: Search | None,
    tools: str | None,
    allow_host: list[str] | None,
    max_steps: int,
    max_replans: int,
    max_model_calls: int,
    max_tokens: int,
    timeout: float,
    step_timeout: float,
    web: tuple[str | None, Path | None, int, float],
) -> tuple[RunOptions, list[str]]:
    """The tasks of FILE and the options every one of them runs with."""
    from agent.cli.session import RunOptions
    from agent.cli.task_input import read_batch
    from agent.errors import ConfigError
    from agent.settings import Budgets, Settings

    tasks = read_batch(file)
    if corpus is not None and not corpus.is_dir():
        raise ConfigError(f"corpus folder {corpus} does not exist or is not a folder")
    from agent.cli.web_options import web_search_choice

    searxng_url, local_web, local_web_port, search_rate = web
    chosen, web_search = web_search_choice(
        (search or (Search.corpus if corpus else Search.web)).value,
        searxng_url=searxng_url,
        local_web=local_web,
        local_web_port=local_web_port,
    )
    if chosen == "corpus" and corpus is None:
        raise ConfigError("--search corpus needs --corpus DIR")
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
            clarify=False,  # no one is there to answer: a batch never asks
            web_search=web_search.model_copy(update={"rate_per_s": search_rate}),
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
    return base, tasks


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
