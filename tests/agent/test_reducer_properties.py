"""Property tests of the state reducers: the merged state does not depend on update order.

Executor supersteps finish steps in any order, and LangGraph folds each
superstep's writes onto the state it already holds, so every reducer must give
the same state for any order of the same updates, for any split of them into
batches, and (except usage, which sums) must ignore a replayed write. The
updates are drawn from small pools, so they collide on the same step, plan
version, reflection index or approval key, with different contents.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import reduce
from typing import Any, TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.observation import Observation
from agent.plan import Plan, PlanStep
from agent.state import (
    NodeUsage,
    Reflection,
    StepRecord,
    Usage,
    add_usage,
    append_plans,
    append_reflections,
    merge_approvals,
    merge_step_records,
)

T = TypeVar("T")
PROPERTY = settings(max_examples=200, deadline=None)
_STATUS_RANK = {"skipped": 0, "failed": 1, "done": 2}
_TIMES = st.sampled_from((0.0, 1.0, 2.5))  # few values, so ties are common


def fold(reducer: Callable[[T | None, T | None], T], updates: list[T]) -> T:
    """The state after `updates`, folded onto the empty state as LangGraph does."""
    return reduce(reducer, updates, reducer(None, None))


def assert_order_independent(
    reducer: Callable[[Any, Any], T],
    updates: list[T],
    data: st.DataObject,
    same: Callable[[T, T], bool] = lambda a, b: a == b,
) -> T:
    """The fold of `updates` equals the fold of any permutation, and of any two batches."""
    merged = fold(reducer, updates)
    shuffled = data.draw(st.permutations(updates), label="order")
    assert same(fold(reducer, shuffled), merged), "the merged state depends on update order"
    cut = data.draw(st.integers(0, len(shuffled)), label="batch split")
    batches = reducer(fold(reducer, shuffled[:cut]), fold(reducer, shuffled[cut:]))
    assert same(batches, merged), "the merged state depends on how updates were batched"
    return merged


@st.composite
def step_records(draw: st.DrawFn) -> StepRecord:
    status = draw(st.sampled_from(("done", "failed", "skipped")))
    started = draw(_TIMES)
    return StepRecord(
        step_id=draw(st.sampled_from(("s1", "s2", "s3"))),
        plan_version=draw(st.integers(1, 2)),
        attempt=draw(st.integers(1, 3)),
        tool="lookup",
        input={"query": draw(st.sampled_from(("a", "b")))},
        status=status,
        observation=Observation(
            tool="lookup", ok=status == "done", content=draw(st.sampled_from(("x", "y", "z")))
        ),
        started_at=started,
        finished_at=started + draw(_TIMES),
    )


step_updates = st.lists(
    st.lists(step_records(), max_size=3).map(lambda rs: {r.step_id: r for r in rs}), max_size=6
)


@PROPERTY
@given(updates=step_updates, data=st.data())
def test_step_records_merge_in_any_order(
    updates: list[dict[str, StepRecord]], data: st.DataObject
) -> None:
    merged = assert_order_independent(merge_step_records, updates, data)
    records = [r for u in updates for r in u.values()]
    assert set(merged) == {r.step_id for r in records}
    for sid, kept in merged.items():
        best = max((r.attempt, _STATUS_RANK[r.status]) for r in records if r.step_id == sid)
        assert (kept.attempt, _STATUS_RANK[kept.status]) == best, "not the latest attempt"
    assert fold(merge_step_records, [*updates, *updates[:1]]) == merged, "a replay changed it"


def test_step_records_tie_on_attempt_and_status_resolve_the_same_either_way() -> None:
    """Two writes of one attempt with one status: the later finish wins, whichever came first."""
    early, late = (
        StepRecord(
            step_id="s1",
            plan_version=1,
            tool="lookup",
            input={"query": "q"},
            status="done",
            observation=Observation(tool="lookup", ok=True, content=text),
            finished_at=at,
        )
        for text, at in (("early", 1.0), ("late", 2.0))
    )
    assert merge_step_records({"s1": early}, {"s1": late})["s1"] is late
    assert merge_step_records({"s1": late}, {"s1": early})["s1"] is late


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    version = draw(st.integers(1, 4))
    query = draw(st.sampled_from(("a", "b")))
    return Plan(
        version=version,
        reasoning=draw(st.sampled_from(("first", "second"))),
        steps=(PlanStep(id=f"s{version}", goal="g", tool="lookup", input={"query": query}),),
        origin=draw(st.sampled_from(("planner", "replan", "edited"))),
    )


@PROPERTY
@given(updates=st.lists(st.lists(plans(), max_size=3), max_size=6), data=st.data())
def test_plan_versions_merge_in_any_order(updates: list[list[Plan]], data: st.DataObject) -> None:
    merged = assert_order_independent(append_plans, updates, data)
    versions = [p.version for p in merged]
    assert versions == sorted({p.version for u in updates for p in u})
    assert fold(append_plans, [*updates, *updates[:1]]) == merged, "a replay changed it"


@st.composite
def reflections(draw: st.DrawFn) -> Reflection:
    return Reflection(
        index=draw(st.integers(1, 4)),
        plan_version=draw(st.integers(1, 2)),
        decision=draw(st.sampled_from(("continue", "retry", "replan", "finish"))),
        reason=draw(st.sampled_from(("", "missing", "done"))),
        by=draw(st.sampled_from(("model", "rules"))),
    )


@PROPERTY
@given(updates=st.lists(st.lists(reflections(), max_size=3), max_size=6), data=st.data())
def test_reflections_merge_in_any_order(
    updates: list[list[Reflection]], data: st.DataObject
) -> None:
    merged = assert_order_independent(append_reflections, updates, data)
    assert [r.index for r in merged] == sorted({r.index for u in updates for r in u})
    assert fold(append_reflections, [*updates, *updates[:1]]) == merged, "a replay changed it"


approvals = st.dictionaries(st.sampled_from(("s1:1:ab", "s1:2:cd", "s2:1:ef")), st.booleans())


@PROPERTY
@given(updates=st.lists(approvals, max_size=6), data=st.data())
def test_approvals_merge_in_any_order_and_a_refusal_is_final(
    updates: list[dict[str, bool]], data: st.DataObject
) -> None:
    merged = assert_order_independent(merge_approvals, updates, data)
    for key in {k for u in updates for k in u}:
        assert merged[key] == all(u[key] for u in updates if key in u)
    assert fold(merge_approvals, [*updates, *updates[:1]]) == merged, "a replay changed it"


node_usage = st.builds(
    NodeUsage,
    model_calls=st.integers(0, 5),
    input_tokens=st.integers(0, 10_000),
    output_tokens=st.integers(0, 10_000),
)
usages = st.builds(
    Usage,
    by_node=st.dictionaries(st.sampled_from(("planner", "reflect", "synthesizer")), node_usage),
    tool_calls=st.integers(0, 5),
    wall_s=st.floats(0, 100, allow_nan=False),
)


def same_usage(a: Usage, b: Usage) -> bool:
    """Equal counts; wall time equal up to the rounding of summing floats in another order."""
    return (a.by_node, a.tool_calls) == (b.by_node, b.tool_calls) and math.isclose(
        a.wall_s, b.wall_s, rel_tol=1e-9, abs_tol=1e-9
    )


@PROPERTY
@given(updates=st.lists(usages, max_size=6), data=st.data())
def test_usage_adds_up_in_any_order(updates: list[Usage], data: st.DataObject) -> None:
    merged = assert_order_independent(add_usage, updates, data, same=same_usage)
    assert merged.model_calls == sum(u.model_calls for u in updates)
    assert merged.tokens == sum(u.tokens for u in updates)
    assert math.isclose(merged.wall_s, math.fsum(u.wall_s for u in updates), abs_tol=1e-9)
