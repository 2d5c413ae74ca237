"""B3 pure overhead (K no-op steps) and B4 token growth (a chain of K large records).

B3: Ponder plans K independent no-op steps at depth "high" (so K up to 12
fits one plan; the one judgement it adds is the same for every K and cancels
out of the per-step figure); ``seq`` calls one no-op per turn, ``par`` all K
in one turn.

B4: each record is ~2,000 tokens and names the next key, so the steps form a
chain: Ponder fills ``{{sN.next}}``; a ReAct agent reads the key from its
context, which keeps every record it has seen. A chain cannot run in
parallel, so ``par`` is the same as ``seq`` and is not scripted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from agent.testing import plan_step, planning_reply
from bench.meter import ModelTurn, Reply, Script, ToolCall
from bench.workloads._common import (
    Flavor,
    Workload,
    evidence,
    judgement,
    synthesis,
    unexpected,
)
from bench.world import NOOP_TEXT, World, thought

__all__ = ["Overhead", "TokenGrowth"]

Depth = Literal["low", "medium", "high"]


def _last_key(passage: tuple[str, str]) -> int:
    keys = re.findall(r"names the next key: k(\d+)", passage[1])
    return max((int(k) for k in keys), default=-1)


def _ponder_replies(
    steps: list[dict[str, object]], depth: Depth, answer: Callable[[str], str]
) -> Script:
    def reply(turn: ModelTurn) -> Reply:
        if turn.role == "Planning" and turn.index == 0:
            return Reply(
                structured=planning_reply(
                    *steps, reasoning=thought("plan", 0), depth=depth, triage_reason="needs tools"
                )
            )
        if turn.role == "Reflection" and turn.index == 0:
            return Reply(structured=judgement("finish", thought("judge", 0)))
        if turn.role == "Synthesis":
            found = evidence(turn)
            if found:
                # Cite the passage that goes furthest, wherever the prompt puts it.
                best = max(found, key=_last_key)
                return synthesis([(answer(best[1]), best[0])])
        return unexpected(turn)

    return reply


@dataclass(frozen=True)
class Overhead(Workload):
    k: int

    @property
    def name(self) -> str:
        return "b3"

    @property
    def label(self) -> str:
        return f"overhead K={self.k}"

    @property
    def task(self) -> str:
        return f"Run the no-op tool {self.k} times and say that it ran."

    @property
    def tools(self) -> tuple[str, ...]:
        return ("noop",)

    def max_steps(self) -> int:
        return self.k + 4

    def script(self, flavor: Flavor, world: World) -> Script:
        k = self.k
        if flavor == "seq":
            return lambda turn: (
                Reply(answer=NOOP_TEXT)
                if turn.index == k
                else Reply(thought("noop", turn.index), (ToolCall("noop", {"x": str(turn.index)}),))
            )
        if flavor == "par":
            calls = tuple(ToolCall("noop", {"x": str(i)}) for i in range(k))
            return lambda turn: (
                Reply(thought("noop", 0), calls) if turn.index == 0 else Reply(answer=NOOP_TEXT)
            )
        steps = [plan_step(f"s{i + 1}", "noop", {"x": str(i)}, goal=f"No-op {i}") for i in range(k)]
        return _ponder_replies(steps, "high", lambda _: NOOP_TEXT)


@dataclass(frozen=True)
class TokenGrowth(Workload):
    k: int

    @property
    def name(self) -> str:
        return "b4"

    @property
    def label(self) -> str:
        return f"token growth K={self.k}"

    @property
    def task(self) -> str:
        return f"Follow the archive records from key k0 for {self.k} records; name the last key."

    @property
    def tools(self) -> tuple[str, ...]:
        return ("read_record",)

    def max_steps(self) -> int:
        return self.k + 4

    @staticmethod
    def _answer(text: str) -> str:
        """The last record's own sentence naming the key the chain ends at."""
        found = re.findall(r"Record (k\d+) names the next key: (k\d+)\.", text)
        return "Record {} names the next key: {}.".format(*found[-1]) if found else "Unknown."

    def score(self, answer: str, world: World) -> dict[str, float]:
        last = f"Record k{self.k - 1} names the next key: k{self.k}."
        return {"exact": float(last in answer)}

    def script(self, flavor: Flavor, world: World) -> Script:
        k = self.k
        if flavor in ("seq", "par"):

            def seq(turn: ModelTurn) -> Reply:
                if turn.index == k:
                    return Reply(answer=self._answer(turn.last))
                keys = re.findall(r"names the next key: (k\d+)", turn.transcript)
                key = keys[-1] if keys else "k0"
                return Reply(
                    thought("records", turn.index), (ToolCall("read_record", {"key": key}),)
                )

            return seq
        steps = [plan_step("s1", "read_record", {"key": "k0"}, goal="Read the first record")]
        for i in range(2, k + 1):
            steps.append(
                plan_step(
                    f"s{i}",
                    "read_record",
                    {"key": f"{{{{s{i - 1}.next}}}}"},
                    goal=f"Read record {i}",
                    after=(f"s{i - 1}",),
                )
            )
        return _ponder_replies(steps, "medium" if k <= 6 else "high", self._answer)
