"""Every escape attempt in `sandbox_attacks` against the real sandbox, one test each.

Also checks the checks: the same kinds of attack run on the host, outside the
sandbox, must be flagged by `judge`, or a green run would prove nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest

from agent.observation import Observation
from tests.reliability import sandbox_attacks as sa
from tools._sandbox import probe_sandbox

_PROBE = probe_sandbox(sa.SUITE_OPTIONS.bwrap, sa.SUITE_OPTIONS.python)
needs_bwrap = pytest.mark.skipif(
    not _PROBE.ok, reason=f"bubblewrap cannot run here: {_PROBE.reason}"
)
pytestmark = pytest.mark.sandbox


@pytest.fixture
def canary():
    c = sa.Canary()
    yield c
    c.close()


def test_suite_covers_enough_categories_and_variants():
    per_category = Counter(a.category for a in sa.ATTACKS)
    assert len(per_category) >= 15
    assert min(per_category.values()) >= 3, per_category
    assert len({a.name for a in sa.ATTACKS}) == len(sa.ATTACKS)


@pytest.mark.parametrize("attack", sa.ATTACKS, ids=lambda a: f"{a.category}-{a.name}")
def test_attack_code_is_valid_python(attack, canary):
    compile(canary.fill(attack.code), attack.name, "exec")  # a typo would "contain" itself
    assert "@" not in canary.fill(attack.code).replace("@dataclass", "")


@needs_bwrap
@pytest.mark.parametrize("attack", sa.ATTACKS, ids=lambda a: f"{a.category}-{a.name}")
async def test_attack_is_contained(attack, canary):
    verdict = await sa.run_attack(attack, canary)
    assert verdict.contained, verdict.problems


# --- the checks can fail ----------------------------------------------------------

_UNSANDBOXED = {
    "ssh_key": "secret leaked",
    "project_env": "secret leaked",
    "os_environ": "secret leaked",
    "absolute": "created on the host",
    "tcp_loopback": "reached the host listeners",
    "udp_loopback": "reached the host listeners",
}


@pytest.mark.parametrize("name", sorted(_UNSANDBOXED))
def test_judge_flags_the_same_attack_run_on_the_host(name, canary):
    """Harmless attacks only: each touches just the canary's own temp files and sockets."""
    attack = next(a for a in sa.ATTACKS if a.name == name)
    done = subprocess.run(
        [sys.executable, "-c", canary.fill(attack.code)],
        capture_output=True, text=True, timeout=30, env=dict(os.environ), check=False,
    )  # fmt: skip
    obs = Observation(
        tool="python", ok=done.returncode == 0, content=done.stdout + done.stderr,
        fields={"stdout": done.stdout, "stderr": done.stderr}, via="bwrap",
    )  # fmt: skip
    verdict = sa.judge(attack, obs, canary)
    assert any(_UNSANDBOXED[name] in p for p in verdict.problems), verdict.problems


def test_judge_flags_leftover_processes_and_expected_kinds(canary):
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "ponder-code-x"])
    try:
        attack = sa.Attack("cpu_bomb", "busy", "while True: pass", expect="timeout")
        obs = Observation(tool="python", ok=True, via="unsandboxed")
        problems = sa.judge(attack, obs, canary, logs=canary.secret_env).problems
    finally:
        proc.kill()
        proc.wait()
    assert any("processes left behind" in p for p in problems)
    assert any("expected a timeout error, got ok" in p for p in problems)
    assert any("not sandboxed" in p for p in problems)
    assert any("secret leaked" in p for p in problems)  # found in the logs


@needs_bwrap
def test_run_sandbox_suite_reports_counts():
    attacks = tuple(a for a in sa.ATTACKS if a.name in {"os_system", "tcp_loopback", "kill_all"})
    report = sa.run_sandbox_suite(attacks=attacks, harmless=sa.HARMLESS[:3])
    assert report == {
        "attacks_tried": 3,
        "attacks_contained": 3,
        "harmless_tried": 3,
        "harmless_passed": 3,
        "categories": {
            "shell": {"tried": 1, "contained": 1},
            "network": {"tried": 1, "contained": 1},
            "kill_parent": {"tried": 1, "contained": 1},
        },
        "failures": {},
    }
