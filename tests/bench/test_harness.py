"""The benchmark harness runs one tiny repetition of each workload, for every framework.

Not timed: latency is zero. These check that each framework really does the
work the script describes (model calls, tool calls, exact answers), that the
adapters count tokens alike, and that the fork server and reporting work.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

# The peers and the chart are benchmark-only dependencies.
pytest.importorskip("langchain.agents")
pytest.importorskip("smolagents")
pytest.importorskip("matplotlib")

from bench.main_job import main_job_command
from bench.meter import ModelMeter, Reply, ToolCall
from bench.profiles import PROFILES, LatencyProfile
from bench.protocol import paired_ratios, summarize
from bench.report import goals, table, write_chart
from bench.runs import Job, RunResult, execute, workload_spec
from bench.workloads import Dependencies, FanOut, Overhead, TokenGrowth, Workload

# No model latency; tools sleep 2% of their seeded latency (so overlap is visible).
ZERO = asdict(PROFILES["zero"].scaled(0.02))
PEERS = ("langchain-seq", "langchain-par", "smolagents-seq", "smolagents-par")


def run(framework: str, workload: Workload, seed: int = 3) -> RunResult:
    result = execute(
        Job(framework=framework, workload=workload_spec(workload), seed=seed, profile=ZERO)
    )
    assert result.error is None, result.answer
    return result


@pytest.mark.parametrize("framework", ["ponder", *PEERS])
def test_fan_out_fetches_every_page_and_reports_every_fact(framework: str) -> None:
    r = run(framework, FanOut(3))
    assert r.score == {"facts": 3, "facts_of": 3}
    assert r.tool_calls == 6  # a search and a fetch per sub-question
    expected_calls = {"ponder": 2, "seq": 7, "par": 3}
    assert r.model_calls == expected_calls[framework.rsplit("-", 1)[-1]]
    if framework.endswith("-par") or framework == "ponder":
        assert r.tool_concurrency >= 3, "independent calls did not overlap"
    else:
        assert r.tool_concurrency == 1


@pytest.mark.parametrize(("n", "calls"), [(8, 2), (16, 3)])
def test_a_fan_out_within_the_shipped_caps_is_one_plan(n: int, calls: int) -> None:
    # N=8 is 16 steps: one "medium" plan, then the answer. N=16 is 32 steps: one
    # "high" plan, one judgement of the finished plan, then the answer.
    r = run("ponder", FanOut(n))
    assert r.model_calls == calls and r.tool_calls == 2 * n
    assert r.score == {"facts": n, "facts_of": n}


@pytest.mark.parametrize("replan", [False, True])
@pytest.mark.parametrize("framework", ["ponder", *PEERS])
def test_dependency_values_flow_into_the_exact_answer(framework: str, replan: bool) -> None:
    workload = Dependencies(replan=replan)
    r = run(framework, workload, seed=7)
    assert r.score == {"exact": 1.0}
    assert str(workload.world(7, 0.0).expected_b2()) in r.answer
    if framework == "ponder":
        assert r.model_calls == (4 if replan else 2)  # + judgement and replan
        assert r.ideal_s is not None


@pytest.mark.parametrize("framework", ["ponder", *PEERS])
def test_overhead_workload_runs_k_no_op_steps(framework: str) -> None:
    assert run(framework, Overhead(3)).tool_calls == 3


def test_token_growth_chain_is_followed_and_react_contexts_grow() -> None:
    ponder = run("ponder", TokenGrowth(3))
    react = run("langchain-seq", TokenGrowth(3))
    smol = run("smolagents-seq", TokenGrowth(3))
    for r in (ponder, react, smol):
        assert r.score == {"exact": 1.0} and r.tool_calls == 3
    assert ponder.input_tokens < react.input_tokens < smol.input_tokens


def test_both_adapters_count_the_same_reply_alike() -> None:
    from langchain_core.messages import HumanMessage

    from bench.adapters import BenchChatModel
    from bench.smol_model import BenchSmolModel

    reply = Reply(thought="think " * 20, calls=(ToolCall("web_search", {"query": "x y z"}),))
    zero = LatencyProfile(name="t", ttft_s=0.0, prompt_tps=1.0, gen_tps=0.0)
    lc, smol = ModelMeter(lambda turn: reply, zero), ModelMeter(lambda turn: reply, zero)
    BenchChatModel(lc).invoke([HumanMessage("hello there")])
    BenchSmolModel(smol).generate([{"role": "user", "content": "hello there"}])
    assert lc.records[0].output_tokens == smol.records[0].output_tokens > 20
    assert lc.records[0].input_tokens == smol.records[0].input_tokens > 0


def test_streamed_reply_reassembles_into_the_scripted_plan_with_its_usage() -> None:
    from functools import reduce
    from operator import add

    from langchain_core.messages import HumanMessage

    from bench.adapters import BenchChatModel

    plan = {"reasoning": "r" * 80, "steps": [{"id": "s1", "tool": "noop", "input": {"x": "1"}}]}
    meter = ModelMeter(lambda turn: Reply(structured=plan), PROFILES["api"].scaled(0.0))
    schema = {"title": "Planning", "type": "object", "properties": {}}
    model = BenchChatModel(meter).bind_tools([schema], tool_choice="Planning")
    chunks = list(model.stream([HumanMessage("plan")]))
    assert len(chunks) > 10, "the reply was not streamed in pieces"
    whole = reduce(add, chunks)
    assert whole.tool_calls[0]["name"] == "Planning" and whole.tool_calls[0]["args"] == plan
    assert whole.usage_metadata["output_tokens"] == meter.records[0].output_tokens
    assert meter.records[0].role == "Planning"


def test_a_repetition_runs_in_a_forked_child_of_the_zygote() -> None:
    from bench.zygote import Zygote

    job = Job(framework="smolagents-par", workload=workload_spec(FanOut(2)), profile=ZERO)
    with Zygote("smolagents") as z:
        first = z.call(asdict(job))
        second = z.call(asdict(job))
    assert first["score"] == second["score"] == {"facts": 2, "facts_of": 2}
    assert first["peak_rss_mb"] > 0


@pytest.mark.sandbox
def test_real_fetch_and_sandbox_variant_answers_exactly() -> None:
    from bench.real import FactServer

    with FactServer() as server:
        workload = FanOut(2, real=True, base=server.base)
        for framework in ("ponder", "langchain-par", "smolagents-seq"):
            r = run(framework, workload)
            assert r.score == {"facts": 2, "facts_of": 2, "exact": 1.0}, framework


def test_summary_ratios_goals_and_chart(tmp_path: Path) -> None:
    results = []
    for framework in ("ponder", "langchain-par", "langchain-seq", "smolagents-par"):
        for seed in (0, 1):
            r = run(framework, FanOut(2), seed=seed)
            results.append({**asdict(r), "section": "b1", "wall_s": r.model_calls * (seed + 1)})
    rows = summarize(results)
    assert {r["framework"] for r in rows} == {
        "ponder",
        "langchain-par",
        "langchain-seq",
        "smolagents-par",
    }
    ratio = paired_ratios(results, "ponder", "langchain-seq")["fan-out N=2"]
    assert ratio == {"median": 0.4, "min": 0.4, "max": 0.4}  # 2 calls vs 5, paired by seed
    report = {"b1": {"summary": rows, "ratios": {"langchain-seq": {"fan-out N=2": ratio}}}}
    assert "fan-out N=2" in table(report)
    assert all(met is None for _, _, met in goals(report)[:4])  # N=8 was not run
    assert write_chart(report, tmp_path / "peers.png") is not None
    assert (tmp_path / "peers.png").stat().st_size > 10_000


def test_the_main_job_bench_times_the_readme_first_command() -> None:
    argv = main_job_command()
    assert argv[0].endswith("/.venv/bin/ponder") and argv[1] == "run"
    assert argv[argv.index("--model") + 1] == "demo"
    assert argv[argv.index("--corpus") + 1] == "examples/corpus"


def test_reading_and_main_job_goals_are_judged_against_the_issue_limits() -> None:
    report = {
        "reading": {"pages": 50, "http_x4_pages_s": 19.9},
        "main_job": {"runs": [{"wall_s": 14.0}], "wall_s": 14.0, "first_step_s": 6.5},
    }
    assert [(g.split(" ")[0], met) for g, _, met in goals(report)] == [
        ("HTTP-first", False),
        ("README", True),
        ("README", False),
    ]
    report["main_job"]["runs"] = [{"wall_s": 14.0, "error": "crashed"}]
    assert [met for _, _, met in goals(report)][1:] == [False, False]
