"""Budgets checked before every model call and every step dispatch.

`BudgetExhausted` is control flow, not an error: nodes catch it and end the run
with status ``budget_exhausted`` and the best cited answer the evidence allows.
Usage is counted in state, so budgets hold across resumes; wall time counts the
time nodes were running, not the time a paused or killed run sat on disk.
"""

from __future__ import annotations

import time
from typing import Literal

from agent.settings import Budgets
from agent.state import NodeUsage, ResearchState, Usage

__all__ = ["BudgetExhausted", "BudgetGate", "BudgetName"]

BudgetName = Literal["steps", "replans", "model_calls", "tokens", "wall_time"]


class BudgetExhausted(Exception):
    def __init__(self, budget: BudgetName, detail: str) -> None:
        super().__init__(f"{budget} budget exhausted: {detail}")
        self.budget = budget
        self.detail = detail


class BudgetGate:
    """Tracks one node's spending on top of what the state already records."""

    def __init__(self, state: ResearchState, budgets: Budgets, node: str) -> None:
        usage = state.get("usage") or Usage()
        self.budgets = budgets
        self.node = node
        self._calls_before = usage.model_calls
        self._tokens_before = usage.tokens
        self._wall_before = usage.wall_s
        self._started = time.monotonic()
        self.spent = NodeUsage()

    @property
    def model_calls(self) -> int:
        return self._calls_before + self.spent.model_calls

    @property
    def tokens(self) -> int:
        return self._tokens_before + self.spent.input_tokens + self.spent.output_tokens

    def elapsed_s(self) -> float:
        return self._wall_before + (time.monotonic() - self._started)

    def remaining_s(self) -> float:
        return self.budgets.timeout_s - self.elapsed_s()

    def check_model_call(self) -> None:
        """Raise if one more model call would break a budget."""
        b = self.budgets
        if self.model_calls >= b.max_model_calls:
            raise BudgetExhausted("model_calls", f"{self.model_calls} of {b.max_model_calls}")
        if self.tokens >= b.max_tokens:
            raise BudgetExhausted("tokens", f"{self.tokens} of {b.max_tokens}")
        self.check_time()

    def check_time(self) -> None:
        if self.remaining_s() <= 0:
            raise BudgetExhausted(
                "wall_time", f"{self.elapsed_s():.1f}s of {self.budgets.timeout_s}s"
            )

    def record(self, usage: NodeUsage) -> None:
        self.spent = self.spent + usage

    def usage_update(self, *, tool_calls: int = 0) -> Usage:
        """This node's spending, as a state update (summed by the reducer)."""
        return Usage(
            by_node={self.node: self.spent} if self.spent.model_calls else {},
            tool_calls=tool_calls,
            wall_s=time.monotonic() - self._started,
        )
