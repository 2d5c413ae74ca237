"""What the synthesizer gets to see: every successful step, leaves of the plan first."""

from __future__ import annotations

from agent.observation import Observation, Passage
from agent.plan import Plan, PlanStep
from agent.state import ResearchState, StepRecord
from agent.step_views import gather_evidence


def _record(sid: str, text: str) -> StepRecord:
    passage = Passage(ref=f"doc-{sid}", text=text, start=0, end=len(text))
    obs = Observation(tool="lookup", ok=True, content=text, passages=(passage,))
    return StepRecord(
        step_id=sid,
        plan_version=1,
        tool="lookup",
        input={"query": sid},
        status="done",
        observation=obs,
    )


def _state(n: int, *, chain: bool) -> ResearchState:
    steps = tuple(
        PlanStep(
            id=f"s{i}",
            goal=f"g{i}",
            tool="lookup",
            input={"query": f"s{i}"},
            depends_on=(f"s{i - 1}",) if chain and i > 1 else (),
        )
        for i in range(1, n + 1)
    )
    records = {f"s{i}": _record(f"s{i}", f"fact {i} " + "x" * 1500) for i in range(1, n + 1)}
    return {"task": "t", "plans": [Plan(version=1, reasoning="", steps=steps)], "steps": records}


def test_every_step_gets_its_best_passage_however_many_steps() -> None:
    evidence = gather_evidence(_state(16, chain=False), task="t", limit_chars=6000)
    assert {e.record.step_id for e in evidence} == {f"s{i}" for i in range(1, 17)}
    assert all(300 <= e.shown <= 800 for e in evidence)


def test_the_end_of_a_chain_comes_first() -> None:
    evidence = gather_evidence(_state(8, chain=True), task="t", limit_chars=6000)
    assert evidence[0].record.step_id == "s8"
    assert [e.record.step_id for e in evidence][1:] == [f"s{i}" for i in range(1, 8)]
