"""The README's main job, timed: its first command's ``ponder run``, as a user runs it.

The command is read from the README's first code block (so the bench times what the
README promises, not a copy of it), run in a fresh process with ``--events jsonl`` in a
fresh ``PONDER_HOME``, and timed from launch: the first step dispatched, the plan, the
end. The demo model loads inside the timing, as it does for a user.

    .venv/bin/python -m bench.main_job [--runs 1]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["main_job_command", "measure_main_job"]

ROOT = Path(__file__).resolve().parents[1]
_FIRST_BLOCK = re.compile(r"```bash\n(.*?)```", re.S)


def main_job_command(readme: Path = ROOT / "README.md") -> list[str]:
    """The ``ponder run …`` of the README's first command, as argv."""
    block = _FIRST_BLOCK.search(readme.read_text(encoding="utf-8"))
    if block is None:
        raise ValueError(f"{readme} has no ```bash block")
    for line in block.group(1).splitlines():
        if "ponder run" in line:
            argv = shlex.split(line.split("&&")[-1].strip())
            argv[0] = str(ROOT / argv[0]) if argv[0].startswith(".venv/") else argv[0]
            return argv
    raise ValueError("the README's first block has no `ponder run` command")


def _one_run(argv: list[str], timeout_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ponder-mainjob-") as home:
        env = {**os.environ, "PONDER_HOME": home}
        env.pop("OPENAI_API_KEY", None)
        env.pop("ANTHROPIC_API_KEY", None)
        began = time.time()
        done = subprocess.run(
            [*argv, "--events", "jsonl"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        wall = time.time() - began
    out: dict[str, Any] = {"wall_s": round(wall, 2), "exit": done.returncode}
    for line in done.stdout.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        kind, at = event.get("type"), round(float(event.get("ts", began)) - began, 2)
        if kind == "step_started":
            out.setdefault("first_step_s", at)
        elif kind == "plan":
            out.setdefault("plan_s", at)
            out["steps"] = out.get("steps", 0) + len(event.get("steps", ()))
        elif kind == "answer":
            out["status"] = event.get("status")
        elif kind == "usage":
            out["model_calls"] = event.get("model_calls")
            out["output_tokens"] = event.get("output_tokens")
            out["input_tokens"] = event.get("input_tokens")
    if done.returncode not in (0, 3, 4):
        out["error"] = done.stderr.strip()[-300:]
    return out


def measure_main_job(runs: int = 1, timeout_s: float = 300.0) -> dict[str, Any]:
    """Each run's timings, and their medians."""
    argv = main_job_command()
    rows = [_one_run(argv, timeout_s) for _ in range(runs)]
    out: dict[str, Any] = {"command": shlex.join(argv[1:]), "runs": rows}
    for key in ("wall_s", "first_step_s", "plan_s"):
        values = [r[key] for r in rows if key in r]
        out[key] = round(statistics.median(values), 2) if values else None
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args(argv)
    out = measure_main_job(args.runs)
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
