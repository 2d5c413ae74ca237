"""The runs of ``ponder eval``: one resumable run per item and configuration.

Each (item, configuration) is one run in the store with a name derived from
the dataset, the model and the configuration, so a second ``ponder eval`` of
the same dataset continues an interrupted eval: finished runs are read back,
unfinished ones resumed, missing ones started.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

from pydantic import Field

from agent.cli.session import RunOptions
from agent.evaluation import EvalConfig, EvalItem, ItemResult

__all__ = ["EvalRunOptions", "run_eval"]

_FINISHED = ("done", "unanswered", "budget_exhausted", "failed")


class EvalRunOptions(RunOptions):
    """A run's options plus its gold answers, so export can score it later."""

    eval: dict[str, Any] = Field(default_factory=dict)


def _item_options(item: EvalItem, base: RunOptions, gold: dict[str, Any]) -> EvalRunOptions:
    from agent.cli.web_options import web_search_choice

    choice = item.search or ("corpus" if item.corpus else base.search)
    local = Path(item.local_web) if item.local_web else None
    port = 0
    allow: list[str] = list(base.allow_hosts)
    if choice == "local" and local is not None:
        port = 20000 + int(hashlib.sha256(str(local).encode()).hexdigest(), 16) % 20000
        allow.append(f"127.0.0.1:{port}")
    kind, web = web_search_choice(choice, searxng_url=None, local_web=local, local_web_port=port)
    settings = base.settings.model_copy(update={"web_search": web})
    return EvalRunOptions(
        **base.model_dump(exclude={"task", "search", "corpus", "allow_hosts", "settings"}),
        task=item.question,
        search=kind,
        corpus=item.corpus,
        allow_hosts=allow,
        settings=settings,
        eval=gold,
    )


def _score(item: EvalItem, index: int, config: EvalConfig, run_id: str, report: Any) -> ItemResult:
    from agent.scoring import claim_counts, score_answer, source_match

    got = score_answer(report.answer, item.answers)
    precision = recall = None
    if item.sources:
        precision, recall = source_match(report.citations, item.sources)
    usage = report.usage
    return ItemResult(
        item=index,
        config=config,
        run_id=run_id,
        status=report.status,
        correct=got.correct,
        exact=got.exact,
        citation_precision=precision,
        citation_recall=recall,
        supported_rate=claim_counts(report.answer).rate,
        model_calls=int(usage.get("model_calls", 0)),
        tokens=int(usage.get("input_tokens", 0)) + int(usage.get("output_tokens", 0)),
        wall_s=float(usage.get("wall_s", 0.0)),
    )


async def _one_run(
    store: Any,
    run_id: str,
    item: EvalItem,
    base: RunOptions,
    settings: Any,
    gold: dict[str, Any],
) -> Any:
    """The item's report: read back if finished, resumed if interrupted, else started."""
    from agent.cli.render import BaseView
    from agent.cli.session import resume_run, show_run, start_run
    from agent.errors import RunNotFoundError

    try:
        status = store.get(run_id).status
    except RunNotFoundError:
        status = None
    if status in _FINISHED:
        return await show_run(run_id, store=store)
    if status is not None:
        return await resume_run(run_id, store=store, view=BaseView(), approver=None)
    opts = _item_options(item, base.model_copy(update={"settings": settings}), gold)
    return await start_run(opts, store=store, view=BaseView(), approver=None, run_id=run_id)


async def run_eval(
    items: list[EvalItem],
    configs: list[EvalConfig],
    base: RunOptions,
    *,
    store: Any,
    concurrency: int,
    key: str,
    dataset: str,
) -> list[ItemResult]:
    """Every item under every configuration, ``concurrency`` runs at a time."""
    from agent.errors import PonderError

    gate = asyncio.Semaphore(concurrency)

    async def one(index: int, item: EvalItem, config: EvalConfig) -> ItemResult:
        run_id = f"eval-{key}-{config.effort}-n{config.samples}-{index:03d}"
        gold = {"dataset": dataset, "item": index, "answers": item.answers}
        settings = base.settings.model_copy(
            update={"samples": config.samples, "effort": config.effort}
        )
        async with gate:
            try:
                # Each run gets its own thread and event loop: the store's synchronous
                # writes then never block another run's checkpoint commit.
                report = await asyncio.to_thread(
                    asyncio.run, _one_run(store, run_id, item, base, settings, gold)
                )
            except PonderError as exc:
                return ItemResult(
                    item=index, config=config, run_id=run_id, status="failed", error=str(exc)
                )
        return _score(item, index, config, run_id, report)

    work = [one(i, item, c) for c in configs for i, item in enumerate(items, start=1)]
    return list(await asyncio.gather(*work))
