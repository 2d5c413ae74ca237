"""``python -m tests.reliability.report``: every reliability and security suite, one table.

Runs the suites of ``tests/reliability`` (faults, kills, concurrency, attacks,
leaks, tampers, budgets) outside pytest and prints one Markdown table, ready to
quote: what each area tried, how many held (survived, contained, refused…) and
how many failed, then each failure. Writes ``bench/results/reliability.json``
with every suite's full result and prints the total wall time. Exits 1 when
anything failed. A suite that cannot run here (no bubblewrap, no Chromium) is
shown as skipped, never as passed; browser cases a suite leaves out without
Chromium are named in its row.

``--only kill,budgets`` picks areas; ``--quick`` runs fewer kill trials and
concurrent runs. Run it from the repository root, which makes ``tests``
importable.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results" / "reliability.json"


class Row(NamedTuple):
    area: str
    tried: int | None  # None: skipped
    held: str
    failures: int | None


def _no_sandbox() -> str | None:
    from tests.reliability.sandbox_attacks import SUITE_OPTIONS
    from tools._sandbox import probe_sandbox

    probe = probe_sandbox(SUITE_OPTIONS.bwrap, SUITE_OPTIONS.python)
    return None if probe.ok else f"no sandbox ({probe.reason})"


def _browser_note() -> dict[str, str]:
    from bench.site_server import chromium_missing

    missing = chromium_missing()
    return {"note": f"no Chromium, browser cases not run: {missing}"} if missing else {}


def _kill(quick: bool) -> dict[str, Any]:
    from tests.reliability.kill_trials import run_kill_trials

    if reason := _no_sandbox():
        return {"skipped": reason}
    return run_kill_trials(trials=4 if quick else 20)


def _concurrency(quick: bool) -> dict[str, Any]:
    from tests.reliability import concurrency as cc

    runs, processes = (8, 2) if quick else (20, 4)
    one, each = (asyncio.run(cc.run_in_process(runs, shared_saver=s)) for s in (True, False))
    return {"in_process": {"one_saver": one, "saver_per_run": each},
            "processes": cc.run_processes(processes)}  # fmt: skip


def _suite(module: str, function: str, browser: bool = False) -> Callable[[bool], dict[str, Any]]:
    def run(quick: bool) -> dict[str, Any]:
        suite = getattr(importlib.import_module(f"tests.reliability.{module}"), function)
        return {**suite(), **(_browser_note() if browser else {})}

    return run


AREAS: dict[str, Callable[[bool], dict[str, Any]]] = {
    "model": _suite("model_faults", "run_model_fault_suite"),
    "tool": _suite("tool_faults", "run_tool_fault_suite", browser=True),
    "cli": _suite("cli_faults", "run_cli_fault_suite"),
    "fuzz": _suite("cli_fuzz", "run_cli_fuzz_suite"),
    "kill": _kill,
    "concurrency": _concurrency,
    "sandbox": _suite("sandbox_attacks", "run_sandbox_suite"),
    "ssrf": _suite("ssrf_suite", "run_ssrf_suite", browser=True),
    "injection": _suite("injection", "run_injection_suite", browser=True),
    "secrets": _suite("secret_leaks", "run_secret_leak_suite"),
    "tamper": _suite("checkpoint_tamper", "run_tamper_suite"),
    "budgets": _suite("budget_suite", "run_budget_suite"),
}

LABELS = {
    "model": "model faults injected / survived",
    "tool": "tool faults injected / survived",
    "cli": "CLI model faults (real process) / survived",
    "fuzz": "CLI fuzz inputs / clean",
    "kill": "kill -9 / resumed clean",
    "concurrency": "concurrent runs / clean",
    "sandbox": "sandbox escapes tried / contained",
    "ssrf": "SSRF attempts / refused",
    "injection": "prompt injections / without effect",
    "secrets": "secret-leak runs / clean",
    "tamper": "checkpoint tampers / refused",
    "budgets": "budgets tested / respected",
}


def _count(failures: Any) -> int:
    return len(failures or ())


def rows_for(area: str, r: dict[str, Any]) -> list[Row]:
    """The table rows of one area's result."""
    label = LABELS[area] + (f" ({r['note']})" if r.get("note") else "")
    if "error" in r:
        return [Row(label, None, f"ERROR: {r['error']}", 1)]
    if "skipped" in r:
        return [Row(label, None, f"skipped: {r['skipped']}", None)]
    if area in ("model", "tool", "cli"):
        return [Row(label, r["injected"], f"{r['survived']} survived", _count(r["failures"]))]
    if area == "fuzz":
        return [Row(label, r["tried"], f"{r['clean']} clean", _count(r["failures"]))]
    if area == "kill":
        held = (
            f"{r['resumed_clean']} resumed; {r['steps_redone']} steps redone, "
            f"{r['results_lost']} results lost, {r['stores_intact']} stores intact"
        )
        return [Row(label, r["kills"], held, _count(r["failures"]))]
    if area == "concurrency":
        runs = list(r["in_process"].values())
        n, p = runs[0]["runs"], r["processes"]
        locked = sum(x["database_locked"] for x in runs)
        return [
            Row(f"{n} runs at once in one process (one saver; a saver each) / clean",
                sum(x["runs"] for x in runs), f"{sum(x['clean'] for x in runs)} clean, "
                f"{locked} 'database is locked'", sum(_count(x["failures"]) for x in runs)),
            Row(f"{p['runs']} processes on one store / clean", p["runs"], f"{p['clean']} clean",
                _count(p["failures"])),
        ]  # fmt: skip
    if area == "sandbox":
        harmless = r["harmless_tried"] - r["harmless_passed"]
        return [
            Row(label, r["attacks_tried"], f"{r['attacks_contained']} contained",
                _count(r["failures"])),
            Row("harmless snippets / passed", r["harmless_tried"],
                f"{r['harmless_passed']} passed", harmless),
        ]  # fmt: skip
    if area == "ssrf":
        # A canary hit means a request got out, whatever the verdicts said: it counts as failed.
        held = f"{r['refused']} refused, {r['canary_hits']} canary hits ({'+'.join(r['tools'])})"
        return [Row(label, r["tried"], held, _count(r["failures"]) + r["canary_hits"])]
    if area == "injection":
        return [Row(label, r["tried"], f"{r['without_effect']} without effect",
                    _count(r["failures"]))]  # fmt: skip
    if area == "secrets":
        return [Row(label, r["runs"], f"{r['clean']} clean", _count(r["failures"]))]
    if area == "tamper":
        held = f"{r['refused']} refused, {r['code_ran']} ran code"
        return [Row(label, r["tried"], held, _count(r["failures"]) + r["code_ran"])]
    return [Row(label, r["tested"], f"{r['respected']} respected", _count(r["failures"]))]


def format_table(rows: list[Row]) -> str:
    """A Markdown table, padded so it also reads in a terminal."""
    cells = [("area", "tried", "held", "failures")] + [
        (r.area, "-" if r.tried is None else str(r.tried), r.held,
         "-" if r.failures is None else str(r.failures))
        for r in rows
    ]  # fmt: skip
    widths = [max(len(c[i]) for c in cells) for i in range(4)]

    def line(c: tuple[str, ...]) -> str:
        a, t, h, f = (c[0].ljust(widths[0]), c[1].rjust(widths[1]), c[2].ljust(widths[2]),
                      c[3].rjust(widths[3]))  # fmt: skip
        return f"| {a} | {t} | {h} | {f} |"

    rule = f"|{'-' * (widths[0] + 2)}|{'-' * (widths[1] + 1)}:|{'-' * (widths[2] + 2)}|" + (
        f"{'-' * (widths[3] + 1)}:|"
    )
    return "\n".join([line(cells[0]), rule, *(line(c) for c in cells[1:])])


def failure_lines(results: dict[str, dict[str, Any]]) -> list[str]:
    """One line per failure, for under the table."""
    out = []
    for area, r in results.items():
        found = r.get("failures")
        if area == "concurrency":
            found = [f for part in (*r["in_process"].values(), r["processes"])
                     for f in part["failures"]]  # fmt: skip
        if isinstance(found, dict):
            found = [f"{name}: {'; '.join(map(str, problems))}" for name, problems in found.items()]
        out += [f"{area}: {str(f)[:300]}" for f in found or ()]
        if "error" in r:
            out.append(f"{area}: {r['error']}")
    return out


def run_areas(names: list[str], quick: bool) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        print(f"[{name}] running", file=sys.stderr, flush=True)
        started = time.monotonic()
        try:
            results[name] = AREAS[name](quick)
        except Exception as exc:  # a suite that crashes is a finding; the others still run
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        results[name]["seconds"] = round(time.monotonic() - started, 1)
    return results


def _json_default(obj: Any) -> Any:
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else str(obj)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.reliability.report",
                                description=__doc__.splitlines()[0])  # fmt: skip
    p.add_argument("--only", default=",".join(AREAS), help=f"areas: {','.join(AREAS)}")
    p.add_argument("--quick", action="store_true", help="4 kill trials, fewer concurrent runs")
    p.add_argument(
        "--out",
        type=Path,
        help=f"where to write the JSON (default: {RESULTS.name}, written only by a full run)",
    )
    args = p.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    if unknown := sorted(set(names) - set(AREAS)):
        p.error(f"unknown areas: {', '.join(unknown)} (known: {', '.join(AREAS)})")
    began = time.monotonic()
    results = run_areas(names, args.quick)
    rows = [row for name in names for row in rows_for(name, results[name])]
    wall = round(time.monotonic() - began, 1)
    print(format_table(rows))
    if failures := failure_lines(results):
        print("\nfailures:\n" + "\n".join(f"  {f}" for f in failures))
    print(f"\ntotal wall time {wall}s{' (quick)' if args.quick else ''}")
    report = {"quick": args.quick, "wall_s": wall, "rows": [r._asdict() for r in rows],
              "areas": results}  # fmt: skip
    out = args.out
    if out is None and not args.quick and set(names) == set(AREAS):
        out = RESULTS  # a partial or quick run must not replace the full results
    if out is None:
        print("not written (a partial or quick run); --out PATH writes it")
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1, default=_json_default) + "\n")
        print(f"wrote {out}")
    return 1 if any(r.failures for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
