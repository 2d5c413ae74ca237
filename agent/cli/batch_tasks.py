"""One task of a batch, wherever it runs (this process or a Ray worker), and its result file.

A task's run id is fixed by its batch and position (``BATCH-0007``), so any
process can tell from the store alone whether the task finished (its result is
read back, nothing runs), started (it is resumed from its checkpoint, redoing
no finished step) or never began (it starts). That makes a task safe to run
again after its worker or the driver died. A store outage while a task runs is
waited out, up to a bound, and the run resumed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from agent.cli.render import PlainView, RunView
from agent.cli.session import RunOptions, resume_run, show_run, start_run
from agent.errors import PonderError, RunNotFoundError, StoreUnavailableError
from agent.report import RunReport
from agent.store import Store

__all__ = [
    "FINISHED",
    "BatchItem",
    "Progress",
    "ResultsFile",
    "TaskSpec",
    "run_task",
    "summary_line",
    "task_run_id",
]

_log = logging.getLogger(__name__)
FINISHED = frozenset({"done", "failed", "unanswered", "budget_exhausted"})
_STORE_WAIT_S = 120.0  # how long a task waits out a store outage before giving up
# The order outcomes are counted in a summary; statuses not listed follow.
_SUMMARY_ORDER = ("done", "failed", "unanswered", "budget_exhausted", "interrupted")


class TaskSpec(BaseModel):
    """What a worker needs to run one task of a batch."""

    batch_id: str
    index: int
    options: RunOptions

    @property
    def run_id(self) -> str:
        return task_run_id(self.batch_id, self.index)


class BatchItem(BaseModel):
    """One task of a batch and how it ended."""

    index: int
    task: str
    run_id: str
    status: str
    error: str = ""
    report: RunReport | None = None


def task_run_id(batch_id: str, index: int) -> str:
    return f"{batch_id}-{index:04d}"


async def _attempt(
    spec: TaskSpec, store: Store, view: RunView, env: Mapping[str, str]
) -> RunReport:
    try:
        record = await asyncio.to_thread(store.get, spec.run_id)
    except RunNotFoundError:
        return await start_run(
            spec.options, store=store, view=view, approver=None, run_id=spec.run_id, env=env
        )
    if record.status in FINISHED:
        return await show_run(spec.run_id, store=store)
    return await resume_run(spec.run_id, store=store, view=view, approver=None, env=env)


async def run_task(
    spec: TaskSpec,
    store: Store,
    *,
    view: RunView | None = None,
    env: Mapping[str, str] | None = None,
) -> BatchItem:
    """Run, resume or read back one task; a failure is an item, never an exception."""
    view = view or PlainView(show_answer=False, prefix=spec.run_id)
    deadline = time.monotonic() + _STORE_WAIT_S
    pause = 1.0
    while True:
        try:
            report = await _attempt(spec, store, view, env or os.environ)
            return BatchItem(
                index=spec.index,
                task=spec.options.task,
                run_id=spec.run_id,
                status=report.status,
                report=report,
            )
        except StoreUnavailableError as exc:
            if time.monotonic() + pause > deadline:
                return _failed(spec, exc)
            view.notice(f"{exc}; trying again in {pause:.0f}s")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 10.0)
        except PonderError as exc:
            return _failed(spec, exc)
        except Exception as exc:  # a bug in one run must not end the other runs of the batch
            _log.exception("task %s of batch %s crashed", spec.index, spec.batch_id)
            return _failed(spec, RuntimeError(f"internal error {type(exc).__name__}: {exc}"))


def _failed(spec: TaskSpec, exc: BaseException) -> BatchItem:
    return BatchItem(
        index=spec.index,
        task=spec.options.task,
        run_id=spec.run_id,
        status="failed",
        error=str(exc),
    )


def summary_line(statuses: list[str]) -> str:
    """``done 3 / failed 1 / unanswered 0``: every outcome counted apart."""
    counts = Counter(statuses)
    names = [*_SUMMARY_ORDER, *sorted(set(counts) - set(_SUMMARY_ORDER))]
    shown = [n for n in names if n in _SUMMARY_ORDER[:3] or counts[n]]
    return " / ".join(f"{n} {counts[n]}" for n in shown)


class ResultsFile:
    """``--out results.jsonl``: one line per finished task, appended as each ends.

    Lines are flushed and synced one by one; a line cut short by a killed
    driver is dropped when the batch resumes, so each task appears once.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.written: set[int] = set()
        if path.exists():
            raw = path.read_bytes()
            whole = raw[: raw.rfind(b"\n") + 1]
            if len(whole) != len(raw):
                path.write_bytes(whole)
            for line in whole.decode("utf-8").splitlines():
                if line.strip():
                    self.written.add(int(json.loads(line)["index"]))

    def append(self, item: BatchItem) -> None:
        if item.index in self.written:
            return
        line = item.model_dump_json(exclude={"report": {"plans", "reflections"}})
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.written.add(item.index)


class Progress:
    """Counts and throughput of a batch, as one line (``--progress``)."""

    def __init__(self, total: int, already: int = 0, search_rate: float | None = None) -> None:
        self.total = total
        self.search_rate = search_rate
        self.counts: Counter[str] = Counter()
        self.already = already
        self.running = 0
        self.model_calls = 0
        self.tokens = 0
        self.t0 = time.monotonic()

    def record(self, item: BatchItem) -> None:
        self.counts[item.status] += 1
        if item.report is not None:
            usage: dict[str, Any] = item.report.usage
            self.model_calls += int(usage.get("model_calls", 0))
            self.tokens += int(usage.get("input_tokens", 0)) + int(usage.get("output_tokens", 0))

    def line(self) -> str:
        finished = sum(self.counts.values())
        rate = finished / max(time.monotonic() - self.t0, 1e-6)
        statuses = list(self.counts.elements())
        return (
            f"[{finished + self.already:>4}/{self.total}] {summary_line(statuses)} / "
            f"running {self.running} · {rate:.2f} runs/s"
            + (f" · search ≤ {self.search_rate:g}/s" if self.search_rate else "")
        )
