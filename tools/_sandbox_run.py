"""Supervise one code run: start it, read its output under a cap, kill it, read its files.

The host side of `tools._sandbox`: the wall-clock limit, the output cap and
every kill live here; the rlimits live in the trampoline inside the sandbox.
Only text comes back: stdout, stderr and a JSON manifest of the working dir,
checked field by field. Nothing from the sandbox is unpickled or imported.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

from tools._sandbox import (
    NOBODY,
    SANDBOX_ENV,
    LimitHit,
    RunFile,
    RunResult,
    SandboxOptions,
    SandboxProbe,
    bwrap_argv,
    host_env,
    resolve_python,
)

__all__ = ["run_python"]

_LAUNCHER = Path(__file__).with_name("_sandbox_launch.py")
_CHUNK = 65536


def _prepare_run_dir(code: str, uid: int | None, *, with_workdir: bool) -> str:
    run_dir = tempfile.mkdtemp(prefix="ponder-code-")
    files = {
        "launch.py": _LAUNCHER.read_text(encoding="utf-8"),
        "main.py": code,
        "passwd": f"sandbox:x:{NOBODY}:{NOBODY}:sandbox:/work:/bin/sh\n",
        "group": f"sandbox:x:{NOBODY}:\n",
    }
    for name, text in files.items():
        Path(run_dir, name).write_text(text, encoding="utf-8")
    paths = [run_dir, *(str(Path(run_dir, n)) for n in files)]
    if with_workdir:
        os.mkdir(Path(run_dir, "work"))
        paths.append(str(Path(run_dir, "work")))
    if uid is not None:
        for path in paths:
            os.chown(path, uid, uid)
    return run_dir


def _launcher_args(
    options: SandboxOptions, fd: int, python: str, root: str, work: str
) -> list[str]:
    return [
        python, "-I", "-S", "-u", f"{root}/launch.py", str(fd),
        str(options.cpu_s), str(options.memory_mb), str(options.file_mb),
        str(options.max_processes), str(options.open_files),
        str(options.max_files), str(options.file_text_bytes),
        f"{root}/main.py", work,
    ]  # fmt: skip


class _Capture:
    """stdout and stderr kept up to one shared byte budget."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.used = 0
        self.exceeded = False
        self.out = bytearray()
        self.err = bytearray()

    async def read(
        self, stream: asyncio.StreamReader, into: bytearray, kill: Callable[[], None]
    ) -> None:
        while chunk := await stream.read(_CHUNK):
            room = self.cap - self.used
            if room <= 0:
                continue  # drain until the killed processes close the pipe
            into += chunk[:room]
            self.used += min(len(chunk), room)
            if len(chunk) > room:
                self.exceeded = True
                kill()


async def _read_manifest(fd: int, cap: int) -> bytes:
    """The manifest pipe, read to EOF; over `cap` bytes it is dropped as junk."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    pipe = os.fdopen(fd, "rb", buffering=0)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    data = bytearray()
    try:
        while len(data) <= cap and (chunk := await reader.read(_CHUNK)):
            data += chunk
    finally:
        transport.close()
    return bytes(data) if len(data) <= cap else b""


@dataclass(frozen=True)
class _Manifest:
    known: bool = False  # False: missing or unreadable (the run died first)
    exit_code: int | None = None
    cpu_s: float = 0.0
    files: tuple[RunFile, ...] = ()
    files_truncated: bool = False


def _parse_manifest(raw: bytes, options: SandboxOptions) -> _Manifest:
    """Untrusted JSON from the sandbox (the code can forge it): plain values only,
    checked field by field and cut to the sizes the options allow."""
    try:
        doc = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, ValueError, RecursionError):
        doc = None
    if not isinstance(doc, dict):
        return _Manifest()
    files: list[RunFile] = []
    items = doc.get("files")
    items = items if isinstance(items, list) else []
    for item in items[: options.max_files]:
        if not isinstance(item, dict):
            continue
        path, size, text = item.get("path"), item.get("size"), item.get("text")
        if isinstance(path, str) and _is_int(size) and (text is None or isinstance(text, str)):
            text = None if text is None else _clean(text[: options.file_text_bytes])
            files.append(RunFile(path=_clean(path[:4096]), size=size, text=text))
    code, cpu = doc.get("exit_code"), doc.get("cpu_s")
    return _Manifest(
        known=True,
        exit_code=code if _is_int(code) else None,
        cpu_s=float(cpu) if isinstance(cpu, int | float) and not isinstance(cpu, bool) else 0.0,
        files=tuple(files),
        files_truncated=doc.get("files_truncated") is True or len(items) > options.max_files,
    )


def _clean(text: str) -> str:
    """No lone surrogates (JSON can carry them): they break every later encode."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _limit_hit(code: int | None, cpu_s: float, options: SandboxOptions) -> LimitHit:
    """Which rlimit killed the code, from its exit status and CPU time used."""
    if code in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
        return "cpu"
    if code in (-signal.SIGKILL, 128 + signal.SIGKILL) and cpu_s >= options.cpu_s:
        return "cpu"  # it ignored SIGXCPU; the hard limit's SIGKILL ended it
    if code in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ):
        return "file_size"
    return ""


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


async def run_python(
    code: str, options: SandboxOptions, *, probe: SandboxProbe | None
) -> RunResult:
    """Run `code`; sandboxed when `probe` says bwrap works, else plain (best-effort).

    Never raises for anything the code does: limits, crashes and kills come back
    in the result. Cancelling the caller kills the run and waits for it.
    """
    python = resolve_python(options.python)
    sandboxed = probe is not None and probe.ok
    uid = probe.host_uid if sandboxed and probe is not None else None
    if not sandboxed and os.geteuid() == 0:
        uid = NOBODY  # the unsandboxed fallback must not run as root either
    run_dir = await asyncio.to_thread(_prepare_run_dir, code, uid, with_workdir=not sandboxed)
    read_fd, write_fd = os.pipe()
    if sandboxed:
        argv: Sequence[str] = bwrap_argv(options, python, run_dir) + _launcher_args(
            options, write_fd, python, "/sandbox", "/work"
        )
        cwd = None
    else:
        cwd = f"{run_dir}/work"
        argv = _launcher_args(options, write_fd, python, run_dir, cwd)
    try:
        return await _supervise(argv, options, read_fd, write_fd, uid, cwd, sandboxed)
    finally:
        await asyncio.to_thread(shutil.rmtree, run_dir, True)


async def _supervise(
    argv: Sequence[str],
    options: SandboxOptions,
    read_fd: int,
    write_fd: int,
    uid: int | None,
    cwd: str | None,
    sandboxed: bool,
) -> RunResult:
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            pass_fds=(write_fd,),
            env=host_env() if sandboxed else dict(SANDBOX_ENV, HOME=cwd or "/tmp"),
            cwd=cwd,
            start_new_session=True,
            user=uid,
            group=uid,
            extra_groups=None if uid is None else [],
        )
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)  # only the child may hold the write end, or EOF never comes
    stdout, stderr = proc.stdout, proc.stderr
    if stdout is None or stderr is None:
        raise RuntimeError("subprocess pipes missing")  # PIPE was asked for: a bug if hit
    capture = _Capture(options.output_bytes)
    kill = functools.partial(_kill_group, proc.pid)  # bwrap leads its own process group
    # Text files are JSON-escaped at worst six bytes per byte.
    manifest_cap = options.max_files * (options.file_text_bytes * 6 + 1024) + 65536
    manifest = asyncio.ensure_future(_read_manifest(read_fd, manifest_cap))

    async def drive() -> None:
        await asyncio.gather(
            capture.read(stdout, capture.out, kill), capture.read(stderr, capture.err, kill)
        )
        await proc.wait()

    timed_out = False
    try:
        await asyncio.wait_for(drive(), timeout=options.wall_s)
    except TimeoutError:
        timed_out = True
    except asyncio.CancelledError:
        manifest.cancel()
        raise
    finally:
        # Every exit path: the pid namespace dies with bwrap; in unsandboxed runs
        # this also reaches children the code left in the group.
        kill()
        await asyncio.shield(proc.wait())
    found = _parse_manifest(await manifest, options)
    code = found.exit_code
    if not found.known:
        code = None if timed_out or capture.exceeded else proc.returncode
    limit: LimitHit = "wall" if timed_out else "output" if capture.exceeded else ""
    return RunResult(
        stdout=capture.out.decode("utf-8", errors="replace"),
        stderr=capture.err.decode("utf-8", errors="replace"),
        exit_code=code,
        limit=limit or _limit_hit(code, found.cpu_s, options),
        files=found.files,
        files_known=found.known,
        files_truncated=found.files_truncated,
        output_truncated=capture.exceeded,
        sandboxed=sandboxed,
    )
