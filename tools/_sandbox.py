"""The sandbox's shape: its options, the bwrap probe and the bwrap command line.

`tools._sandbox_run` starts and supervises runs with these. Isolation, from
the outside in:

- bubblewrap gives the run new user, pid, network, IPC, UTS and cgroup
  namespaces (no network at all), a read-only view of ``/usr`` and the few
  ``/etc`` files Python needs, size-capped in-memory ``/work`` (the working dir)
  and ``/tmp``, a fresh ``/proc``, a minimal ``/dev``, no capabilities, uid
  65534 inside, a cleared environment, and a root that is remounted read-only.
  Nothing of the host's home, ``/root`` or the project is mounted.
- When Ponder runs as root, bwrap itself is started as host uid 65534: a uid
  that maps to host root is exempt from the process-count limit, and a fork
  bomb would exhaust the host's pids.
- Inside, a trampoline (`tools/_sandbox_launch.py`) applies rlimits (CPU,
  address space, file size, processes, open files, no core dumps) to the
  code's process and lists the files it left behind.
- The host enforces the wall-clock limit and the output cap and kills the
  whole process group (the pid namespace dies with its init).

Without bubblewrap, ``mode="best-effort"`` runs the same trampoline as a plain
subprocess (as uid 65534 when root) in a host temp dir: rlimits and the kills
apply, but nothing is isolated and ``disk_mb`` is not enforced.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt

__all__ = [
    "NOBODY",
    "SANDBOX_ENV",
    "LimitHit",
    "RunFile",
    "RunResult",
    "SandboxMode",
    "SandboxOptions",
    "SandboxProbe",
    "bwrap_argv",
    "host_env",
    "probe_sandbox",
    "resolve_python",
]

_log = logging.getLogger(__name__)

SandboxMode = Literal["required", "best-effort"]
LimitHit = Literal["", "wall", "output", "cpu", "file_size"]

NOBODY = 65534
SANDBOX_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/work",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    "USER": "sandbox",
    "LOGNAME": "sandbox",
}


class SandboxOptions(BaseModel):
    """Limits for one code run; the defaults suit small analysis snippets."""

    model_config = ConfigDict(frozen=True)

    mode: SandboxMode = Field(
        default="required",
        description="'required': refuse to run without bubblewrap; 'best-effort': fall "
        "back to an rlimited plain subprocess that is NOT isolated",
    )
    cpu_s: PositiveInt = Field(default=10, description="CPU seconds per process")
    wall_s: PositiveFloat = Field(default=20.0, description="wall-clock limit of the run")
    memory_mb: int = Field(default=512, ge=32, description="address space per process")
    file_mb: PositiveInt = Field(default=16, description="largest file the code may write")
    disk_mb: PositiveInt = Field(
        default=64, description="size of each in-memory /work, /tmp and /dev/shm"
    )
    max_processes: PositiveInt = Field(default=32, description="processes and threads")
    open_files: int = Field(default=256, ge=16)
    output_bytes: PositiveInt = Field(
        default=1_000_000, description="stdout plus stderr; the run is killed past this"
    )
    max_files: PositiveInt = Field(default=50, description="working-dir files reported")
    file_text_bytes: PositiveInt = Field(
        default=16_000, description="text files up to this size are returned whole"
    )
    python: str | None = Field(
        default=None, description="interpreter to run; default: the system python3"
    )
    bwrap: str = Field(default="bwrap", description="bubblewrap executable, name or path")


@dataclass(frozen=True)
class SandboxProbe:
    """Whether bwrap works here, and as which host uid to start it."""

    ok: bool
    reason: str = ""
    host_uid: int | None = None  # start bwrap as this uid (set when Ponder is root)


@dataclass(frozen=True)
class RunFile:
    path: str
    size: int
    text: str | None  # None for binary or large files


@dataclass(frozen=True)
class RunResult:
    stdout: str
    stderr: str
    exit_code: int | None  # negative: killed by that signal; None: killed by the host
    limit: LimitHit  # which limit ended the run, if one did
    files: tuple[RunFile, ...]
    files_known: bool  # False when the run died before listing its files
    files_truncated: bool
    output_truncated: bool
    sandboxed: bool


def resolve_python(python: str | None = None) -> str:
    """The interpreter for sandboxed code: plain system Python, not Ponder's venv."""
    if python:
        return python
    for candidate in ("/usr/bin/python3", str(Path(sys.base_prefix) / "bin" / "python3")):
        if os.access(candidate, os.X_OK):
            return candidate
    return sys.executable


def _interpreter_binds(python: str) -> list[str]:
    """Mount the interpreter's installation when it lives outside /usr."""
    real = Path(os.path.realpath(python))
    if real.is_relative_to("/usr"):
        return []
    prefix = real.parents[1]
    home = Path.home().resolve()
    if prefix == Path("/") or prefix == home or home.is_relative_to(prefix):
        raise ValueError(f"refusing to mount {prefix} to run {python} in the sandbox")
    return ["--ro-bind", str(prefix), str(prefix)]


def _system_binds() -> list[str]:
    """/usr read-only; /bin, /lib* as the host has them (symlinks or dirs)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    # Not /etc itself: files owned by host root would look owned by the sandbox user.
    for name in ("/etc/alternatives", "/etc/ld.so.cache"):
        args += ["--ro-bind-try", name, name]
    if os.path.islink("/etc/localtime"):
        args += ["--symlink", os.readlink("/etc/localtime"), "/etc/localtime"]
    return args


def bwrap_argv(options: SandboxOptions, python: str, run_dir: str | None) -> list[str]:
    """The bwrap command line, up to (not including) the command it runs."""
    disk = str(options.disk_mb * 1024 * 1024)
    args = [
        shutil.which(options.bwrap) or options.bwrap,
        "--unshare-all", "--unshare-user", "--disable-userns",
        "--uid", str(NOBODY), "--gid", str(NOBODY),
        "--cap-drop", "ALL", "--die-with-parent", "--new-session",
        "--hostname", "sandbox", "--clearenv",
    ]  # fmt: skip
    for key, value in SANDBOX_ENV.items():
        args += ["--setenv", key, value]
    args += _system_binds() + _interpreter_binds(python)
    args += ["--proc", "/proc", "--dev", "/dev", "--size", disk, "--tmpfs", "/dev/shm"]
    args += ["--size", disk, "--tmpfs", "/tmp", "--size", disk, "--tmpfs", "/work"]
    if run_dir is not None:
        args += ["--ro-bind", run_dir, "/sandbox"]
        for name in ("passwd", "group"):
            args += ["--ro-bind", f"{run_dir}/{name}", f"/etc/{name}"]
    args += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/work"]
    return args


def host_env() -> dict[str, str]:
    """bwrap's own environment: its init's /proc/1/environ is readable inside."""
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


@functools.lru_cache(maxsize=8)
def probe_sandbox(bwrap: str = "bwrap", python: str | None = None) -> SandboxProbe:
    """Try bwrap once (cached): as uid 65534 when root, else as ourselves."""
    if shutil.which(bwrap) is None:
        return SandboxProbe(False, f"bubblewrap ({bwrap}) is not installed")
    interpreter = resolve_python(python)
    try:
        argv = bwrap_argv(SandboxOptions(bwrap=bwrap), interpreter, None)
    except ValueError as exc:
        return SandboxProbe(False, str(exc))
    argv += [interpreter, "-I", "-S", "-c", "print('sandbox-ok')"]
    uids: list[int | None] = [NOBODY, None] if os.geteuid() == 0 else [None]
    reason = ""
    for uid in uids:
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                timeout=30,
                env=host_env(),
                check=False,
                user=uid,
                group=uid,
                extra_groups=None if uid is None else [],
            )
        except (OSError, subprocess.SubprocessError) as exc:
            reason = f"bwrap could not start: {exc}"
            continue
        if done.returncode == 0 and done.stdout.strip() == b"sandbox-ok":
            if uid is None and os.geteuid() == 0:
                _log.warning(
                    "bwrap works here only as root: sandboxed code maps to host root, which "
                    "the kernel exempts from the process limit, so a fork bomb is stopped "
                    "only by the wall-clock limit (%s)",
                    reason,
                )
            return SandboxProbe(True, host_uid=uid)
        reason = done.stderr.decode(errors="replace").strip() or f"exit {done.returncode}"
    return SandboxProbe(False, f"bwrap cannot create a sandbox here: {reason[:300]}")
