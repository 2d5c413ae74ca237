"""Property tests of `check_plan`: it accepts exactly the plans that are DAGs within budget.

Plans are drawn as specs (id, dependencies, placeholder references, tool,
whether the input is valid) from a small pool of ids, so duplicates, dangling
and self references, ids of earlier plan versions and cycles all come up.
`broken_rules` restates the rules independently of `agent.plan_rules`; the
validator must agree with it on every plan, in every order of its steps.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.plan_rules import StepDraft, check_plan, to_plan_steps
from agent.toolset import Toolset
from tests.conftest import recording_tool

TOOLSET = Toolset([recording_tool()[0]])
POOL = tuple(f"s{i}" for i in range(1, 7))
FINISHED = ("s5", "s8")  # done in an earlier version: may be depended on, not redefined
KEPT = ("s6", "s9")  # unfinished earlier steps a replan keeps
DANGLING = ("s42",)
FORMS = ("{{%s}}", "{{ %s.url }}", "{{%s | the year it came out}}")
PROPERTY = settings(max_examples=250, deadline=None)


@dataclass(frozen=True)
class Spec:
    id: str
    deps: tuple[str, ...]
    refs: tuple[str, ...]  # steps named by placeholders in the input
    tool: str = "lookup"
    valid_input: bool = True

    def draft(self, form: int = 0) -> StepDraft:
        query = " and ".join(
            ["find"] + [FORMS[(form + i) % 3] % r for i, r in enumerate(self.refs)]
        )
        return StepDraft(
            id=self.id,
            goal=f"goal of {self.id}",
            tool=self.tool,
            input={"query": query} if self.valid_input else {},
            depends_on=list(self.deps),
        )


@dataclass(frozen=True)
class Case:
    specs: tuple[Spec, ...]
    max_steps: int
    finished: frozenset[str]
    kept: frozenset[str]

    def drafts(self) -> list[StepDraft]:
        return [s.draft(i) for i, s in enumerate(self.specs)]

    def check(self, drafts: list[StepDraft] | None = None) -> str | None:
        return check_plan(
            self.drafts() if drafts is None else drafts,
            TOOLSET,
            max_steps=self.max_steps,
            finished=self.finished,
            kept=self.kept,
        )


def edges(specs: tuple[Spec, ...]) -> dict[str, set[str]]:
    """Each step's dependencies on other steps of the same plan (placeholders included)."""
    ids = {s.id for s in specs}
    return {s.id: (set(s.deps) | set(s.refs)) & ids for s in specs}


def topological_order(graph: dict[str, set[str]]) -> list[str] | None:
    """Kahn's algorithm, written out: an order with dependencies first, or None on a cycle."""
    waiting = {node: set(deps) for node, deps in graph.items()}
    order: list[str] = []
    ready = sorted(n for n, deps in waiting.items() if not deps)
    while ready:
        node = ready.pop()
        order.append(node)
        for other, deps in waiting.items():
            if node in deps:
                deps.discard(node)
                if not deps and other not in order and other not in ready:
                    ready.append(other)
    return order if len(order) == len(graph) else None


def broken_rules(case: Case) -> list[str]:
    """Every rule the plan breaks, decided without `agent.plan_rules`."""
    specs, earlier = case.specs, case.finished | case.kept
    ids = [s.id for s in specs]
    broken = []
    if not specs and not case.kept:
        broken.append("empty")
    if len(specs) > case.max_steps:
        broken.append("over budget")
    if len(set(ids)) != len(ids):
        broken.append("duplicate id")
    if set(ids) & earlier:
        broken.append("redefines an earlier step")
    if any(s.tool != "lookup" or not s.valid_input for s in specs):
        broken.append("bad tool or input")
    known = set(ids) | earlier
    if any((set(s.deps) | set(s.refs)) - known for s in specs):
        broken.append("unknown dependency")
    if any(s.id in s.deps or s.id in s.refs for s in specs):
        broken.append("self reference")
    if len(set(ids)) == len(ids) and topological_order(edges(specs)) is None:
        broken.append("cycle")
    return broken


_TOOL = st.sampled_from(("lookup",) * 19 + ("no_such_tool",))
_VALID_INPUT = st.sampled_from((True,) * 19 + (False,))


@st.composite
def cases(draw: st.DrawFn) -> Case:
    finished = frozenset(draw(st.sets(st.sampled_from(FINISHED))))
    kept = frozenset(draw(st.sets(st.sampled_from(KEPT))))
    # Usually fresh, unique ids; sometimes any id of the pool, repeats allowed.
    fresh = [p for p in POOL if p not in finished | kept]
    if draw(st.integers(0, 5)):
        ids = draw(st.permutations(fresh))[: draw(st.integers(0, len(fresh)))]
    else:
        ids = draw(st.lists(st.sampled_from(POOL), max_size=len(POOL)))
    # Most plans only look back (DAGs, so acceptance is common); the rest may also name
    # themselves, later steps (cycles) or, now and then, a step that exists nowhere.
    wild = draw(st.integers(0, 2)) == 0
    anywhere = sorted({*ids, *finished, *kept, *(() if draw(st.integers(0, 3)) else DANGLING)})
    itself = draw(st.integers(0, 3)) == 0
    specs = []
    for i, sid in enumerate(ids):
        pool = [p for p in anywhere if itself or p != sid]
        pool = pool if wild else sorted({*ids[:i], *finished, *kept})
        refer = st.lists(st.sampled_from(pool), max_size=3) if pool else st.just([])
        valid_input = draw(_VALID_INPUT)  # an invalid input is empty: no placeholders
        deps, refs = draw(refer), draw(refer) if valid_input else []
        specs.append(Spec(sid, tuple(deps), tuple(refs[:2]), draw(_TOOL), valid_input))
    # Steps need not be listed in dependency order.
    order = draw(st.permutations(specs))
    max_steps = max(1, len(ids) + draw(st.integers(-1, 2)))
    return Case(tuple(order), max_steps, finished, kept)


@st.composite
def cyclic_cases(draw: st.DrawFn) -> Case:
    """A ring of 2-5 steps, each needing the next (by depends_on or a placeholder), plus
    sound steps around it: the cycle is the only rule broken."""
    ids = draw(st.permutations(POOL))
    ring = draw(st.integers(2, 5))
    specs = []
    for i, sid in enumerate(ids[:ring]):
        nxt = ids[(i + 1) % ring]
        by_placeholder = draw(st.booleans())
        specs.append(Spec(sid, () if by_placeholder else (nxt,), (nxt,) if by_placeholder else ()))
    for i, sid in enumerate(ids[ring:], start=ring):
        deps = draw(st.lists(st.sampled_from(ids[:i]), max_size=2))
        specs.append(Spec(sid, tuple(deps), ()))
    order = draw(st.permutations(specs))
    return Case(tuple(order), len(specs), frozenset(), frozenset())


@PROPERTY
@given(case=st.one_of(cases(), cyclic_cases()), data=st.data())
def test_validator_accepts_exactly_the_sound_plans_in_any_order(
    case: Case, data: st.DataObject
) -> None:
    broken = broken_rules(case)
    verdict = case.check()
    assert (verdict is None) == (not broken), (verdict, broken)
    shuffled = data.draw(st.permutations(case.drafts()))
    assert (case.check(shuffled) is None) == (verdict is None), "the verdict depends on order"


@PROPERTY
@given(case=cases())
def test_an_accepted_plan_is_a_dag_within_budget(case: Case) -> None:
    drafts = case.drafts()
    if case.check(drafts) is not None:
        return
    steps = to_plan_steps(drafts)
    ids = [s.id for s in steps]
    assert len(steps) <= case.max_steps
    assert len(set(ids)) == len(ids)
    assert not set(ids) & (case.finished | case.kept)
    known = set(ids) | case.finished | case.kept
    graph: dict[str, set[str]] = {}
    for s in steps:
        refs = {ref for ref, _field, _how in s.placeholders()}
        assert refs <= set(s.depends_on), "a placeholder names a step it does not depend on"
        assert set(s.depends_on) <= known
        assert s.id not in s.depends_on
        graph[s.id] = set(s.depends_on) & set(ids)
    order = topological_order(graph)
    assert order is not None, "accepted a cyclic plan"
    position = {sid: i for i, sid in enumerate(order)}
    assert all(position[d] < position[sid] for sid, deps in graph.items() for d in deps)


@PROPERTY
@given(case=cyclic_cases())
def test_a_cyclic_plan_is_rejected_as_a_cycle(case: Case) -> None:
    verdict = case.check()
    assert verdict is not None and "cycle" in verdict, verdict


@settings(max_examples=100, deadline=None)
@given(sid=st.sampled_from(POOL), by_placeholder=st.booleans())
def test_a_step_that_needs_itself_is_rejected(sid: str, by_placeholder: bool) -> None:
    spec = Spec(sid, () if by_placeholder else (sid,), (sid,) if by_placeholder else ())
    verdict = Case((spec,), 3, frozenset(), frozenset()).check()
    assert verdict is not None and ("itself" in verdict or "own result" in verdict), verdict


def test_the_generator_reaches_both_verdicts() -> None:
    """Guards the properties above against a generator that only ever draws one kind."""
    seen: set[bool] = set()
    reasons: set[str] = set()

    @settings(max_examples=300, deadline=None, database=None)
    @given(case=cases())
    def collect(case: Case) -> None:
        broken = broken_rules(case)
        seen.add(not broken)
        reasons.update(broken)

    collect()
    assert seen == {True, False}
    assert {"cycle", "unknown dependency", "self reference", "over budget"} <= reasons, reasons
