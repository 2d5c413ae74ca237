"""What every adapter shares: the script's turn and reply types, tokens, and the meter.

A workload's script is one function of `ModelTurn` (role, how many calls of
that role came before, and the text the model was shown) to a `Reply`, written
once and served to all three frameworks. Tokens are counted the same way for
everyone, at the adapter, from what was actually sent and produced:

- input: every message's text (tool calls in the history as name + JSON
  arguments) plus the JSON of the tool definitions sent with the call;
- output: the reply's text plus each tool call's name and JSON arguments.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.testing import count_tokens
from bench.profiles import LatencyProfile, ModelSlot

__all__ = [
    "CallRecord",
    "ModelMeter",
    "ModelTurn",
    "Reply",
    "Script",
    "ToolCall",
    "ToolMeter",
    "ToolSpan",
    "call_tokens",
    "count_tokens",
    "critical_path_s",
]


@dataclass(frozen=True)
class ToolCall:
    name: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Reply:
    """One scripted model reply, in framework-neutral form.

    ReAct turns use ``thought`` + ``calls``, or ``answer`` to finish; Ponder's
    forced-schema calls use ``structured`` (the schema's arguments).
    """

    thought: str = ""
    calls: tuple[ToolCall, ...] = ()
    answer: str | None = None
    structured: dict[str, Any] | None = None


@dataclass(frozen=True)
class ModelTurn:
    role: str  # Ponder's forced schema name, or "react" for the peers
    index: int  # how many calls of this role the run made before this one
    texts: tuple[str, ...]  # the text of every message the model is shown

    @property
    def transcript(self) -> str:
        return "\n".join(self.texts)

    @property
    def last(self) -> str:
        return self.texts[-1] if self.texts else ""


Script = Callable[[ModelTurn], Reply]


def call_tokens(name: str, args: dict[str, Any]) -> int:
    return count_tokens(name + json.dumps(args, ensure_ascii=False))


@dataclass(frozen=True)
class CallRecord:
    role: str
    input_tokens: int
    output_tokens: int
    injected_s: float
    started: float
    ended: float = 0.0


class ModelMeter:
    """Serves the script, paces replies by the profile, and records every call."""

    def __init__(self, script: Script, profile: LatencyProfile) -> None:
        self.script = script
        self.profile = profile
        self.slot = ModelSlot(profile.serialize)
        self.records: list[CallRecord] = []
        self._lock = threading.Lock()
        self._index: dict[str, int] = {}

    def reply(self, role: str, texts: Sequence[str]) -> Reply:
        with self._lock:
            index = self._index.get(role, 0)
            self._index[role] = index + 1
        return self.script(ModelTurn(role=role, index=index, texts=tuple(texts)))

    def record(self, role: str, input_tokens: int, output_tokens: int, started: float) -> None:
        delay = self.profile.delay_s(input_tokens, output_tokens)
        with self._lock:
            self.records.append(
                CallRecord(role, input_tokens, output_tokens, delay, started, time.monotonic())
            )

    @property
    def calls(self) -> int:
        return len(self.records)

    @property
    def input_tokens(self) -> int:
        return sum(r.input_tokens for r in self.records)

    @property
    def output_tokens(self) -> int:
        return sum(r.output_tokens for r in self.records)

    def injected_by_role(self) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for r in self.records:
            out.setdefault(r.role, []).append(r.injected_s)
        return out


@dataclass(frozen=True)
class ToolSpan:
    name: str
    key: str
    started: float
    ended: float
    injected_s: float


@dataclass
class ToolMeter:
    """Records when each simulated tool call ran, for overlap and critical-path checks."""

    spans: list[ToolSpan] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, span: ToolSpan) -> None:
        with self._lock:
            self.spans.append(span)

    @property
    def calls(self) -> int:
        return len(self.spans)

    def max_concurrency(self) -> int:
        """The most tool calls that were running at the same moment."""
        edges = sorted(
            [(s.started, 1) for s in self.spans] + [(s.ended, -1) for s in self.spans],
            key=lambda e: (e[0], e[1]),
        )
        best = level = 0
        for _, step in edges:
            level += step
            best = max(best, level)
        return best


def critical_path_s(calls: Sequence[CallRecord], spans: Sequence[ToolSpan]) -> float:
    """The run's own schedule with every orchestration gap removed: one formula for all.

    Model calls and tool calls are events with their injected latency. An
    event waits for every event that ended before it started (what the run
    actually waited on, whatever the framework); the answer is the longest
    chain of injected latency through that order. ``ideal / wall`` is then
    the share of the wall time that is model and tool latency, not overhead.
    """
    events = sorted(
        [(c.started, c.ended, c.injected_s) for c in calls]
        + [(s.started, s.ended, s.injected_s) for s in spans]
    )
    finish: list[tuple[float, float]] = []  # (ended, longest chain ending here)
    longest = 0.0
    for started, ended, injected in events:
        before = max((chain for end, chain in finish if end <= started), default=0.0)
        finish.append((ended, before + injected))
        longest = max(longest, before + injected)
    return longest
