"""``python -m bench``: Ponder against LangChain's create_agent and smolagents' ToolCallingAgent.

Sections (``--only`` picks some; all by default):

    b1    fan-out: N independent search-then-fetch sub-questions
    b2    dependencies, skewed tool latency (100 ms vs 2 s), 30% scripted replans
    b3    pure overhead per step (no/in-memory/SQLite checkpointer), memory drift
    b4    token growth over a chain of K large observations
    b5    the demo model: time to the first plan through Ponder's real graph
    cold  ``ponder --help`` / ``ponder run --help`` wall time
    tokens plan output tokens per step, JSON vs compact plans (B1's plans)
    real  B1 at N=4 with the real fetch tool against a loopback server
    reading  HTTP-first reading of 50 local Python-docs pages, 1 and 4 at a time
    mainjob  the README's main job (its first command, the demo model), timed from launch
    depth  short answers and long reports on the local web: 5 pages against 20 read and noted

Model latency is injected at the adapters (``--profile api``: 0.5 s to the
first token, 2000 tok/s prompt, 80 tok/s output; ``cpu-small``: the demo
model's measured speeds, one slot). To fit ten repetitions of everything in
ten minutes, every injected delay (model and tools) is multiplied by
``--scale`` (0.05 by default); streamed chunks grow by the same factor, so a
framework's CPU per chunk keeps its real-time weight. Fixed costs do not
shrink, which makes the heavier framework look a little worse, not better.

Prints one table and the goals, writes ``bench/results/peers.json`` and
``bench/results/peers.png``. The other engineers' benchmarks keep their own
commands (``bench/demo_model.py``, ``reading.py``, ``code_runner.py``,
``corpus_recall.py``); ``--others`` runs them after this suite.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from dataclasses import replace
from typing import Any

from bench.protocol import Zygotes, eprint
from bench.report import RESULTS_DIR, goals, table, write_chart, write_json
from bench.suite import QUICK, Plan, b1, b2, b3, b4, b5, cold_start

LEGEND = """
Frameworks: ponder = Ponder as shipped; *-seq = ReAct scripted one tool call per turn;
*-par = all independent calls in one turn. Each run is a fresh forked process that first
makes a zero-latency warm-up run. Ratios are paired by repetition (same seed). B4's ratio
is input tokens; B3 is the cost of one more no-op step at zero model latency.
"""

SECTIONS = ("b1", "b2", "b3", "b4", "b5", "cold", "real", "tokens", "reading", "mainjob", "depth")
OTHERS = ("demo_model", "reading", "code_runner", "corpus_recall")


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one tiny repetition of everything")
    p.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    p.add_argument("--reps", type=int, help="repetitions per cell (default 10)")
    p.add_argument("--scale", type=float, help="time scale of injected latency (default 0.05)")
    p.add_argument("--profile", choices=("api", "cpu-small"), default="api")
    p.add_argument("--serialize", action="store_true", help="one model call at a time")
    p.add_argument("--fanout", help="B1 sizes, e.g. 1,2,4,8,16")
    p.add_argument("--frameworks", help="only these, e.g. ponder,langchain-par")
    p.add_argument("--others", action="store_true", help="also run the other bench scripts")
    p.add_argument("--no-write", action="store_true", help="print only; keep results files")
    p.add_argument("--out", default="peers", help="results name: bench/results/NAME.json/.png")
    return p.parse_args(argv)


def _plan(args: argparse.Namespace) -> Plan:
    plan = QUICK if args.quick else Plan()
    changes: dict[str, Any] = {"profile": args.profile, "serialize": args.serialize}
    if args.reps:
        changes["reps"] = args.reps
    if args.scale is not None:
        changes["scale"] = args.scale
    if args.fanout:
        changes["fanout"] = tuple(int(n) for n in args.fanout.split(","))
    if args.frameworks:
        changes["frameworks"] = tuple(f.strip() for f in args.frameworks.split(","))
    return replace(plan, **changes)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = _args(argv)
    plan = _plan(args)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown sections: {', '.join(sorted(unknown))}")
    latency = plan.latency()
    report: dict[str, Any] = {
        "title": f"Ponder vs peers — {latency.describe()}, {plan.reps} reps",
        "plan": {k: v for k, v in plan.__dict__.items()},
        "profile": latency.describe(),
    }
    began = time.monotonic()
    with Zygotes() as z:
        for section in chosen:
            started = time.monotonic()
            eprint(f"[{section}] running ({time.monotonic() - began:.0f}s so far)")
            if section == "b1":
                report["b1"] = b1(z, plan, eprint)
            elif section == "b2":
                report["b2"] = b2(z, plan, eprint)
            elif section == "b3":
                report["b3"] = b3(z, plan, eprint)
            elif section == "b4":
                report["b4"] = b4(z, plan, eprint)
            elif section == "b5":
                report["b5"] = b5(plan, eprint)
            elif section == "tokens":
                from bench.plan_tokens import measure_plan_tokens

                report["plan_tokens"] = measure_plan_tokens()
            elif section == "cold":
                report["cold"] = cold_start(plan, eprint)
            elif section == "reading":
                import asyncio

                from bench.reading import DOCS, pick_pages, run_http

                pages = 10 if args.quick else 50
                report["reading"] = {
                    "pages": len(pick_pages(DOCS, pages)),
                    **asyncio.run(run_http(DOCS, pages)),
                }
            elif section == "mainjob":
                from bench.main_job import measure_main_job

                report["main_job"] = measure_main_job(plan.demo_repeats)
            elif section == "depth":
                from bench.long_report import measure_depth

                report["depth"] = measure_depth(5 if args.quick else 20, log=eprint)
            elif section == "real":
                from bench.real import real_tools

                report["real"] = real_tools(z, plan, eprint)
            report.setdefault("seconds", {})[section] = round(time.monotonic() - started, 1)
        report["import_s"] = z.import_s
    report["total_s"] = round(time.monotonic() - began, 1)
    print(table(report))
    if "plan_tokens" in report:
        from bench.plan_tokens import lines

        print("\n".join(lines(report["plan_tokens"])))
    print()
    print("Goals:")
    report["goals"] = [{"goal": g, "measured": v, "met": ok} for g, v, ok in goals(report)]
    for g in report["goals"]:
        mark = {True: "met", False: "MISSED", None: "n/a"}[g["met"]]
        print(f"  [{mark:6}] {g['goal']}: {g['measured']}")
    print(LEGEND)
    print(f"{report['profile']}; total {report['total_s']}s")
    if not args.no_write:
        print(f"wrote {write_json(report, RESULTS_DIR / f'{args.out}.json')}")
        chart = write_chart(report, RESULTS_DIR / f"{args.out}.png")
        if chart:
            print(f"wrote {chart}")
    if args.others:
        for name in OTHERS:
            module = importlib.import_module(f"bench.{name}")
            eprint(f"[{name}] running its own main()")
            module.main([])
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
