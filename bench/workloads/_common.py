"""What every workload shares: the workload contract and Ponder reply builders."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Literal

from bench.meter import ModelTurn, Reply, Script
from bench.world import World, thought

__all__ = [
    "Flavor",
    "Workload",
    "evidence",
    "judgement",
    "synthesis",
]

# How a framework is scripted: Ponder's plan (within its shipped limits), one
# tool call per turn, or all independent calls at once.
Flavor = Literal["ponder", "seq", "par"]

_EVIDENCE = re.compile(
    r'<untrusted_data id="(s\d+\.\d+)" source="[^"]*">\n(.*?)\n</untrusted_data>', re.S
)


@dataclass(frozen=True)
class Workload(ABC):
    """One benchmark task: its tools, its world, and a script per flavor.

    ``thoughts=False`` scripts every reply without its ~40 tokens of visible
    reasoning (ReAct turns and Ponder's plan alike), to show how much that
    assumption moves the ratios.
    """

    thoughts: bool = field(default=True, kw_only=True)

    def say(self, topic: str, turn: int) -> str:
        """The scripted visible reasoning of one reply, or none."""
        return thought(topic, turn) if self.thoughts else ""

    @property
    def tagged_label(self) -> str:
        """The label the report groups by: ``label``, marked when thoughts are off."""
        return self.label if self.thoughts else f"{self.label}, no thought"

    @property
    @abstractmethod
    def name(self) -> str: ...

    @property
    @abstractmethod
    def label(self) -> str: ...

    @property
    @abstractmethod
    def task(self) -> str: ...

    @property
    @abstractmethod
    def tools(self) -> tuple[str, ...]: ...

    @abstractmethod
    def script(self, flavor: Flavor, world: World) -> Script: ...

    def world(self, seed: int, scale: float) -> World:
        return World(seed=seed, scale=scale)

    def score(self, answer: str, world: World) -> dict[str, float]:
        """Answer-quality figures (exact values found), to show work was really done."""
        return {}

    def max_steps(self) -> int:
        """Ponder's step budget this workload needs."""
        return 16


def judgement(decision: str, reason: str, failed: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "verdicts": [{"step_id": s, "verdict": "failed", "reason": "error"} for s in failed],
        "decision": decision,
        "reason": reason,
        "retry": [],
    }


def evidence(turn: ModelTurn) -> list[tuple[str, str]]:
    """The (id, text) evidence passages a synthesis prompt shows."""
    return _EVIDENCE.findall(turn.transcript)


def synthesis(claims: list[tuple[str, str]]) -> Reply:
    """Ponder's answer: one claim per (sentence, evidence id)."""
    return Reply(
        structured={
            "claims": [{"text": text, "cites": [cite]} for text, cite in claims],
            "gaps": [],
        }
    )


class ScriptError(RuntimeError):
    """The framework asked for a turn the workload's script has no reply for."""


def unexpected(turn: ModelTurn) -> Reply:
    raise ScriptError(f"no scripted reply for role {turn.role!r} (call {turn.index})")
