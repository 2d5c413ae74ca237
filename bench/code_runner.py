"""Cost of the sandbox: start-to-finish time of ``print(1)``, sandboxed vs a plain subprocess.

Every figure is the median (and p95) over ``--runs`` runs, after two warm-ups,
of one complete call from the asyncio side:

- plain: ``python3 -I -S -c 'print(1)'`` as a subprocess, output read;
- bwrap only: the same command inside the sandbox's bwrap command line;
- tool, unsandboxed: `PythonTool` in best-effort mode without bwrap
  (trampoline, rlimits, manifest, no namespaces);
- tool, sandboxed: `PythonTool` as shipped, the figure the agent pays.

The ratio is tool-sandboxed over plain. Prints a table and writes
``bench/results/code_runner.json``.

    .venv/bin/python bench/code_runner.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools._sandbox import (  # noqa: E402
    SandboxOptions,
    bwrap_argv,
    host_env,
    probe_sandbox,
    resolve_python,
)
from tools.code import PythonTool  # noqa: E402

RESULTS = Path(__file__).with_name("results") / "code_runner.json"
CODE = "print(1)"


async def _exec(argv: list[str], **kwargs: object) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, **kwargs
    )
    out, err = await proc.communicate()
    if proc.returncode != 0 or out.strip() != b"1":
        raise RuntimeError(f"{argv[0]} failed: {err.decode(errors='replace')[-300:]}")
    return out


async def _tool(tool: PythonTool) -> None:
    obs = await tool.observe(code=CODE)
    if not obs.ok or obs.value != "1":
        raise RuntimeError(f"tool run failed: {obs.content[-300:]}")


async def _time(call: Callable[[], Awaitable[object]], runs: int) -> dict[str, float]:
    for _ in range(2):
        await call()
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return {
        "median_ms": round(statistics.median(samples), 2),
        "p95_ms": round(samples[int(0.95 * (len(samples) - 1))], 2),
        "min_ms": round(samples[0], 2),
    }


async def _measure(runs: int) -> dict[str, object]:
    python = resolve_python()
    probe_sandbox.cache_clear()
    began = time.perf_counter()
    probe = probe_sandbox()
    probe_ms = round((time.perf_counter() - began) * 1000, 2)
    if not probe.ok:
        sys.exit(f"bubblewrap cannot run here: {probe.reason}")
    plain_cmd = [python, "-I", "-S", "-c", CODE]
    bwrap_cmd = bwrap_argv(SandboxOptions(), python, None) + plain_cmd
    drop = {} if probe.host_uid is None else {"user": probe.host_uid, "group": probe.host_uid}
    rows = {
        "plain": await _time(lambda: _exec(plain_cmd), runs),
        "bwrap_only": await _time(lambda: _exec(bwrap_cmd, env=host_env(), **drop), runs),
        "tool_unsandboxed": await _time(
            lambda: _tool(
                PythonTool(options=SandboxOptions(bwrap="/nonexistent", mode="best-effort"))
            ),
            runs,
        ),
        "tool_sandboxed": await _time(lambda: _tool(PythonTool()), runs),
    }
    bwrap_version = subprocess.run(
        ["bwrap", "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "runs": runs,
        "python": python,
        "bwrap": bwrap_version,
        "bwrap_host_uid": probe.host_uid,
        "probe_ms": probe_ms,
        **rows,
        "ratio_sandboxed_over_plain": round(
            rows["tool_sandboxed"]["median_ms"] / rows["plain"]["median_ms"], 2
        ),
    }


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args(argv)
    if args.runs < 20:
        sys.exit("use at least 20 runs")
    result = asyncio.run(_measure(args.runs))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")

    labels = {
        "plain": "plain subprocess",
        "bwrap_only": "bwrap + python, no trampoline",
        "tool_unsandboxed": "tool, best-effort (no bwrap)",
        "tool_sandboxed": "tool, sandboxed",
    }
    print(f"print(1), {args.runs} runs each, {result['python']}, {result['bwrap']}")
    print(f"  {'':<32}{'median':>10}{'p95':>10}{'min':>10}")
    for key, label in labels.items():
        row: dict = result[key]  # type: ignore[assignment]
        print(
            f"  {label:<32}{row['median_ms']:>8.1f}ms{row['p95_ms']:>8.1f}ms{row['min_ms']:>8.1f}ms"
        )
    print(f"  sandboxed / plain (median)      {result['ratio_sandboxed_over_plain']:.2f}x")
    print(f"  first probe (cached afterwards) {result['probe_ms']:.1f} ms")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return result


if __name__ == "__main__":
    main()
