"""Cold start: wall time of the real ``ponder`` console script, and Ponder's first model call.

``ponder --help`` and ``ponder run --help`` are run as fresh processes, with no
warm-up run before them: ``first`` is the very first run (the cold start, page
cache as the machine left it), the median is over all ``runs`` (the later ones
find the files cached). Each is timed as wall time and as the CPU time the process used: on a VM
that keeps little in its page cache, each start also waits on disk reads of
the modules it imports, which the CPU time leaves out. The first structured
call in a process also pays for imports the CLI does not need at start-up;
`first_call_s` times that on its own.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["measure_cold_start"]

ROOT = Path(__file__).resolve().parent.parent
PONDER = ROOT / ".venv" / "bin" / "ponder"

_FIRST_CALL = """
import json, time
import graphs.research
from agent.testing import ScriptedChatModel
t = time.perf_counter()
from agent.models.resolve import structured_method
structured_method(ScriptedChatModel())
print(json.dumps(time.perf_counter() - t))
"""


def _timed(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of `argv`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _stats(values: list[float]) -> dict[str, float]:
    """Median and range, and the first value: the cold run."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "first": values[0],
    }


def measure_cold_start(runs: int = 10) -> dict[str, object]:
    exe = str(PONDER) if PONDER.exists() else "ponder"
    out: dict[str, object] = {"runs": runs, "executable": exe}
    for name, argv in (("help_s", [exe, "--help"]), ("run_help_s", [exe, "run", "--help"])):
        timings = [_timed(argv) for _ in range(runs)]
        out[name] = _stats([wall for wall, _ in timings])
        out[name.replace("_s", "_cpu_s")] = _stats([cpu for _, cpu in timings])
    firsts = []
    for _ in range(max(1, runs // 5)):
        done = subprocess.run(
            [sys.executable, "-c", _FIRST_CALL],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        firsts.append(float(json.loads(done.stdout)))
    out["first_call_s"] = _stats(firsts)
    return out
