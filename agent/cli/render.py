"""Views of a run's event stream: plain lines, JSON lines, or nothing (the live
Rich view for a terminal is in `agent.cli.live`).

All render exactly the typed events the graph emits (one source of truth), so
what the CLI shows is what ``--events jsonl`` prints and what any embedding
program can show.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterator
from typing import IO, Protocol

from langchain_core.callbacks import BaseCallbackHandler

from agent.events import Event
from agent.report import RunReport, role_line

__all__ = ["BaseView", "JsonLinesView", "PlainView", "QuietView", "RunView", "counted"]


class RunView(Protocol):
    def start(self, task: str, model: str) -> None: ...
    def on_event(self, event: Event) -> None: ...
    def finish(self, report: RunReport) -> None: ...
    def notice(self, text: str) -> None: ...
    def paused(self) -> contextlib.AbstractContextManager[None]:
        """Give the terminal to a question (an approval prompt) for the block's duration."""
        ...

    def callbacks(self) -> list[BaseCallbackHandler]:
        """LangChain callbacks to attach to the run (the live view's token counter)."""
        ...


def counted(n: int, noun: str) -> str:
    """``1 tool call``, ``2 tool calls``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


class BaseView:
    """A view that shows nothing; the others override what they show."""

    def start(self, task: str, model: str) -> None:
        return None

    def notice(self, text: str) -> None:
        print(f"note: {text}", file=sys.stderr)

    def on_event(self, event: Event) -> None:
        return None

    def finish(self, report: RunReport) -> None:
        return None

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        yield

    def callbacks(self) -> list[BaseCallbackHandler]:
        return []


class QuietView(BaseView):
    """For ``--json`` without a terminal: only notices, on stderr."""


class PlainView(BaseView):
    """One line per event, for logs, pipes and CI."""

    def __init__(
        self,
        out: IO[str] | None = None,
        *,
        show_thinking: bool = False,
        show_answer: bool = True,
        prefix: str = "",
    ) -> None:
        self.out = out or sys.stderr
        self.show_thinking = show_thinking
        self.show_answer = show_answer
        self.prefix = f"{prefix} " if prefix else ""
        self.t0 = time.monotonic()

    def _line(self, text: str) -> None:
        stamp = f"[{time.monotonic() - self.t0:6.2f}s]"
        print(f"{self.prefix}{stamp} {text}", file=self.out, flush=True)

    def start(self, task: str, model: str) -> None:
        self._line(f"run: {task!r} with model {model}")

    def notice(self, text: str) -> None:
        self._line(f"note: {text}")

    def on_event(self, e: Event) -> None:
        if e.type == "triage":
            self._line(f"triage: {e.mode}, depth {e.depth} ({e.decided_by}): {e.reason}")
        elif e.type == "plan":
            diff = f" (+{len(e.diff.added)} -{len(e.diff.removed)})" if e.version > 1 else ""
            self._line(f"plan v{e.version}{diff}: {counted(len(e.steps), 'step')}")
            if self.show_thinking and e.reasoning:
                for row in e.reasoning.strip().splitlines():
                    self._line(f"  thinking: {row}")
            for s in e.steps:
                after = f" after {','.join(s.depends_on)}" if s.depends_on else ""
                self._line(f"  {s.id} {s.tool}{after}: {s.goal}")
            if e.choice:
                pick = e.choice
                self._line(
                    f"  plan {pick.chosen} of {pick.samples} sampled ({pick.by}): {pick.reasons}"
                )
                if self.show_thinking:
                    for sampled in pick.candidates:
                        n = sampled.get("n")
                        why = "chosen" if n == pick.chosen else sampled.get("error") or "not chosen"
                        steps = sampled.get("steps")
                        said = "; ".join(map(str, steps)) if isinstance(steps, list) else ""
                        self._line(f"  sampled plan {n} [{why}]: {said}")
        elif e.type == "step_started":
            retry = f" (attempt {e.attempt})" if e.attempt > 1 else ""
            self._line(f"step {e.step_id} started{retry}: {e.tool} {json.dumps(e.input)[:120]}")
        elif e.type == "step_finished":
            via = f" via {e.via}" if e.via else ""
            noted = f" ({counted(e.notes, 'note')})" if e.notes else ""
            self._line(
                f"step {e.step_id} {e.status} in {e.duration_s:.2f}s{via}{noted}: {e.summary[:140]}"
            )
        elif e.type == "reflection":
            self._line(
                f"reflection ({e.by}): {e.decision}: {e.reason}"
                + (" [stalled]" if e.stalled else "")
            )
        elif e.type == "replan":
            self._line(f"replan from v{e.from_version}: {e.reason}")
        elif e.type == "vote":
            self._line(f"vote: path {e.chosen} chosen; votes {json.dumps(e.vote)}")
            if self.show_thinking:
                for c in e.candidates:
                    why = (
                        "chosen" if c.get("chosen") else c.get("error") or f"{c.get('votes')} votes"
                    )
                    self._line(
                        f"  path {c.get('path')} [{why}] score {c.get('score')}: "
                        f"{c.get('short_answer')}"
                    )
        elif e.type == "approval":
            self._line(
                f"plan v{e.version} {e.decision}d" + (f": {e.feedback}" if e.feedback else "")
            )
        elif e.type == "citation_check":
            self._line(
                f"citations: {e.kept} of {e.checked} verified ({e.quoted} quoted, "
                f"{e.supported} supported, {e.unsupported} unsupported"
                + (f", {e.snippets} search snippets" if e.snippets else "")
                + ")"
            )
        elif e.type == "usage":
            self._line(
                f"usage: {counted(e.model_calls, 'model call')}, "
                f"{e.input_tokens}+{e.output_tokens} tokens, "
                f"{counted(e.tool_calls, 'tool call')}, {e.wall_s:.1f}s"
                + (f" ({role_line(e.by_role)})" if len(e.by_role) > 1 else "")
            )
        elif e.type == "answer":
            self._line(f"answer ({e.status})")

    def finish(self, report: RunReport) -> None:
        if report.plans and report.status != "interrupted":
            unrun = [s.id for s in report.plans[-1].steps if s.status in ("pending", "retry")]
            if unrun:
                self._line(f"not run: {', '.join(unrun)} (the run ended without them)")
        if self.show_answer and report.status != "interrupted":
            print(report.answer, file=sys.stdout, flush=True)


class JsonLinesView(BaseView):
    """Every event as one JSON line on stdout, for other programs."""

    def start(self, task: str, model: str) -> None:
        return None

    def notice(self, text: str) -> None:
        print(text, file=sys.stderr)

    def on_event(self, event: Event) -> None:
        print(event.model_dump_json(), flush=True)

    def finish(self, report: RunReport) -> None:
        return None
