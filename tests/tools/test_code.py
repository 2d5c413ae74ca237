"""The ``python`` tool against real bubblewrap: results, limits and the basic attacks.

Every attack runs for real; each test then checks the host, not the code's
own report: files that must not exist, a listener that must see no
connection, a planted secret that must not come back, no process left behind.
The full escape suite lives in ``tests/reliability``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from pathlib import Path

import psutil
import pytest
from langchain_core.messages import ToolMessage

from agent.errors import MissingDependencyError
from tools._sandbox import probe_sandbox
from tools._sandbox_run import _parse_manifest
from tools.code import PythonTool, SandboxOptions

_PROBE = probe_sandbox()
needs_bwrap = pytest.mark.skipif(
    not _PROBE.ok, reason=f"bubblewrap cannot run here: {_PROBE.reason}"
)
pytestmark = pytest.mark.sandbox

# The wall limit is far above the CPU limit so a loaded machine still hits the CPU one.
FAST = SandboxOptions(cpu_s=2, wall_s=15, memory_mb=256, file_mb=8, disk_mb=32)


def sandbox_processes(wait_s: float = 5.0) -> list[str]:
    """Host processes of finished runs still alive after `wait_s` (must be none)."""
    marks = ("/sandbox/launch.py", "/sandbox/main.py", "ponder-code-")
    deadline = time.monotonic() + wait_s
    while True:
        found = [
            f"{p.pid} {' '.join(p.info['cmdline'] or ())[:100]}"
            for p in psutil.process_iter(["cmdline"])
            if p.pid != os.getpid() and any(m in " ".join(p.info["cmdline"] or ()) for m in marks)
        ]
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


async def run(code: str, options: SandboxOptions = FAST):
    obs = await PythonTool(options=options).observe(code=code)
    assert sandbox_processes() == []
    return obs


# --- results -----------------------------------------------------------------


@needs_bwrap
async def test_printed_result_becomes_value_and_fields():
    obs = await run("print(6 * 7)\nimport sys\nprint('note', file=sys.stderr)")
    assert obs.ok and obs.via == "bwrap"
    assert obs.value == "42"
    assert obs.fields["stdout"] == "42\n"
    assert obs.fields["stderr"] == "note\n"
    assert obs.fields["exit_code"] == "0"
    assert "exit status 0" in obs.content and "42" in obs.content


@needs_bwrap
async def test_files_written_in_the_workdir_come_back_as_text():
    code = (
        "import os\nos.makedirs('sub')\nopen('a.txt', 'w').write('alpha')\n"
        "open('sub/b.json', 'w').write('[1, 2]')\nopen('blob.bin', 'wb').write(bytes(range(256)))"
    )
    obs = await run(code)
    assert obs.ok
    assert obs.fields["files"].splitlines() == ["a.txt", "blob.bin", "sub/b.json"]
    assert obs.fields["file:a.txt"] == "alpha"
    assert obs.fields["file:sub/b.json"] == "[1, 2]"
    assert "file:blob.bin" not in obs.fields  # binary: listed, never returned
    assert "blob.bin (256 bytes, not shown)" in obs.content


@needs_bwrap
async def test_error_exit_is_an_error_observation_with_the_traceback():
    obs = await run("raise ValueError('bad input')")
    assert not obs.ok and obs.error is not None and obs.error.kind == "error"
    assert obs.fields["exit_code"] == "1"
    assert "ValueError: bad input" in obs.content
    first_frame = 'Traceback (most recent call last):\n  File "/sandbox/main.py"'
    assert obs.fields["stderr"].startswith(first_frame)
    assert "launch" not in obs.fields["stderr"]  # the trampoline stays out of tracebacks


@needs_bwrap
async def test_long_output_is_clipped_for_the_model_but_kept_in_fields():
    obs = await run("print('x' * 50_000)")
    assert obs.ok
    assert len(obs.fields["stdout"]) == 50_001
    assert "characters truncated" in obs.content and len(obs.content) < 10_000


@needs_bwrap
async def test_sandbox_sees_no_host_home_project_or_root():
    project = str(Path(__file__).resolve().parents[2])
    code = (
        "import os\n"
        f"print(os.getuid(), os.path.exists({project!r}), os.path.exists('/root'),"
        " os.path.exists('/home'), sorted(os.listdir('/work')))"
    )
    obs = await run(code)
    assert obs.value == "65534 False False False []"


@needs_bwrap
def test_sync_invoke_returns_a_tool_message_with_the_observation():
    msg = PythonTool(options=FAST).invoke(
        {"name": "python", "args": {"code": "print(2 ** 10)"}, "id": "c1", "type": "tool_call"}
    )
    assert isinstance(msg, ToolMessage)
    assert msg.artifact.value == "1024"
    assert "1024" in msg.content and "<untrusted_data" in msg.content


@pytest.mark.parametrize("code", ["  \n", "print('\ud800')"], ids=["empty", "lone-surrogate"])
async def test_unusable_code_is_invalid_input(code):
    obs = await PythonTool().observe(code=code)
    assert obs.error is not None and obs.error.kind == "invalid_input"


@needs_bwrap
async def test_parallel_runs_have_private_workdirs():
    async def one(i: int):
        code = f"import os\nopen('mine{i}.txt', 'w').write('{i}')\nprint(sorted(os.listdir('.')))"
        return await PythonTool(options=FAST).observe(code=code)

    results = await asyncio.gather(*(one(i) for i in range(4)))
    assert [r.value for r in results] == [f"['mine{i}.txt']" for i in range(4)]
    assert sandbox_processes() == []


# --- without bubblewrap ----------------------------------------------------------

MISSING = SandboxOptions(bwrap="/nonexistent/bwrap", cpu_s=1, wall_s=10)


async def test_missing_bwrap_refuses_to_run_by_default(tmp_path):
    marker = tmp_path / "ran"
    obs = await PythonTool(options=MISSING).observe(code=f"open({str(marker)!r}, 'w')")
    assert obs.error is not None and obs.error.kind == "unavailable"
    assert "apt-get install bubblewrap" in obs.content
    assert not marker.exists()
    with pytest.raises(MissingDependencyError, match="bubblewrap"):
        PythonTool(options=MISSING).check()


async def test_best_effort_runs_unsandboxed_with_a_visible_warning():
    tool = PythonTool(options=MISSING.model_copy(update={"mode": "best-effort"}))
    tool.check()  # allowed: the caller opted in
    obs = await tool.observe(code="open('out.txt', 'w').write('hi')\nprint('ran')")
    assert obs.ok and obs.value == "ran" and obs.via == "unsandboxed"
    assert "WITHOUT isolation" in obs.content
    assert obs.fields["file:out.txt"] == "hi"
    spin = await tool.observe(code="while True:\n    pass")  # rlimits still apply
    assert spin.error is not None and spin.error.kind == "timeout"
    assert sandbox_processes() == []


# --- the basic attacks -------------------------------------------------------------


@needs_bwrap
async def test_os_system_and_subprocess_cannot_write_outside(tmp_path):
    code = (
        "import os, subprocess\n"
        f"print(os.system('touch {tmp_path}/by_system'))\n"
        f"print(subprocess.run(['touch', '{tmp_path}/by_subprocess']).returncode)\n"
        "print(os.system('touch /tmp/inside_only && echo ok'))"
    )
    obs = await run(code)
    assert list(tmp_path.iterdir()) == []
    assert obs.value.splitlines()[-2:] == ["ok", "0"]  # the shell itself ran, inside


@needs_bwrap
async def test_etc_shadow_is_not_readable():
    obs = await run("print(open('/etc/shadow').read())")
    assert not obs.ok and "FileNotFoundError" in obs.content
    try:
        shadow = Path("/etc/shadow").read_text()
    except OSError:
        return
    hashes = [f.split(":")[1] for f in shadow.splitlines() if len(f.split(":")) > 2]
    assert not any(h in obs.content for h in hashes if len(h) > 2)


@needs_bwrap
async def test_secret_in_parent_environment_is_not_seen(monkeypatch):
    secret = f"secret-{secrets.token_hex(8)}"
    monkeypatch.setenv("PONDER_TEST_SECRET", secret)
    code = (
        "import os\nprint(dict(os.environ))\n"
        "for p in ('/proc/self/environ', '/proc/1/environ', f'/proc/{os.getppid()}/environ'):\n"
        "    try:\n        print(p, open(p, 'rb').read())\n"
        "    except OSError as e:\n        print(p, e)"
    )
    obs = await run(code)
    assert obs.ok and "/proc/1/environ b'PATH=/usr/bin:/bin\\x00LANG=C.UTF-8\\x00'" in obs.value
    assert secret not in obs.content and "PONDER_TEST_SECRET" not in obs.content


@needs_bwrap
async def test_loopback_server_gets_no_connection():
    hits = []
    server = await asyncio.start_server(lambda r, w: hits.append(w.close()), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3)"
    async with server:
        obs = await run(code)
        _, writer = await asyncio.open_connection("127.0.0.1", port)  # the counter works
        writer.close()
        await asyncio.sleep(0.2)
    assert not obs.ok and "ConnectionRefusedError" in obs.content
    assert len(hits) == 1


@needs_bwrap
async def test_memory_bomb_is_stopped():
    obs = await run("x = bytearray(8 * 1024**3)")
    assert obs.error is not None and obs.error.kind == "too_large"
    assert "out of memory" in obs.content


@needs_bwrap
async def test_infinite_loop_hits_the_cpu_limit():
    obs = await run("while True:\n    pass", FAST.model_copy(update={"cpu_s": 1}))
    assert obs.error is not None and obs.error.kind == "timeout"
    assert "CPU limit" in obs.content


@needs_bwrap
async def test_idle_wait_hits_the_wall_clock_limit():
    obs = await run(
        "import time\nprint('before', flush=True)\ntime.sleep(60)",
        FAST.model_copy(update={"wall_s": 1.5}),
    )
    assert obs.error is not None and obs.error.kind == "timeout"
    assert "wall-clock" in obs.content and obs.value == "before"


@needs_bwrap
async def test_fork_bomb_is_contained():
    obs = await run("import os\nwhile True:\n    os.fork()")
    assert not obs.ok and "Resource temporarily unavailable" in obs.content


@needs_bwrap
async def test_thread_storm_is_contained():
    code = (
        "import threading, time\n"
        "for _ in range(10_000):\n    threading.Thread(target=time.sleep, args=(60,)).start()"
    )
    obs = await run(code, FAST.model_copy(update={"wall_s": 3}))
    assert obs.error is not None and "can't start new thread" in obs.content


@needs_bwrap
async def test_huge_file_is_cut_at_the_file_size_limit():
    obs = await run("open('big', 'wb').write(b'x' * 100 * 1024**2)")
    assert not obs.ok and "File too large" in obs.content
    assert "big (8388608 bytes" in obs.content  # exactly file_mb, no more


@needs_bwrap
async def test_printing_200_mb_is_cut_without_filling_host_memory():
    before = psutil.Process().memory_info().rss
    obs = await run("print('x' * 200 * 1024**2)", FAST.model_copy(update={"memory_mb": 512}))
    grown = psutil.Process().memory_info().rss - before
    assert obs.error is not None and obs.error.kind == "too_large"
    assert len(obs.fields["stdout"]) <= FAST.output_bytes
    assert grown < 100 * 1024**2


@needs_bwrap
@pytest.mark.parametrize(
    "code",
    ["import os\nos.kill(os.getppid(), 9)", "import os\nos.kill(-1, 9)"],
    ids=["kill-parent", "kill-minus-1"],
)
async def test_killing_the_parent_only_ends_the_run(code):
    obs = await run(code)
    assert not obs.ok
    assert psutil.Process().is_running()
    assert (await run("print('still here')")).value == "still here"


@needs_bwrap
async def test_ctypes_libc_calls_stay_inside(tmp_path):
    code = (
        "import ctypes, os\nlibc = ctypes.CDLL(None)\n"
        f"print(libc.system(b'touch {tmp_path}/by_ctypes'))\n"
        "print(libc.kill(os.getppid(), 9))"
    )
    obs = await run(code)
    assert list(tmp_path.iterdir()) == []
    assert not obs.ok  # killing its launcher ends the run


@needs_bwrap
async def test_cancelling_the_call_kills_the_run():
    tool = PythonTool(options=FAST.model_copy(update={"wall_s": 60}))
    task = asyncio.create_task(tool.observe(code="import time\ntime.sleep(60)"))
    for _ in range(100):
        if sandbox_processes(wait_s=0):
            break
        await asyncio.sleep(0.05)
    assert sandbox_processes(wait_s=0), "the run never started"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sandbox_processes() == []


# --- the manifest is untrusted -------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 200_000 + b"]" * 200_000,
        b"\xff\xfe not utf-8",
        b'{"exit_code": true, "files": "nope"}',
        b'{"exit_code": 0, "files": [1, {"path": 3}, {"path": "a", "size": "1", "text": null}]}',
    ],
    ids=["deep-nesting", "not-utf8", "wrong-types", "bad-entries"],
)
def test_forged_manifests_yield_plain_values_only(raw):
    found = _parse_manifest(raw, SandboxOptions())
    assert found.exit_code is None or found.exit_code == 0
    assert found.files == ()


def test_forged_manifest_is_cut_to_the_limits_and_has_no_surrogates():
    entry = '{"path": "f%d\\udcff", "size": 1, "text": "\\ud800 x"}'
    entries = ", ".join(entry % i for i in range(5000))
    raw = ('{"exit_code": 0, "files": [' + entries + "]}").encode()
    found = _parse_manifest(raw, SandboxOptions(max_files=50))
    assert len(found.files) == 50 and found.files_truncated
    assert found.files[0].path == "f0?" and found.files[0].text == "? x"
