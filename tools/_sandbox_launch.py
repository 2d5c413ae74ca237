"""The trampoline that runs inside the sandbox: limits, then the model's code.

This file is not imported by Ponder. `tools._sandbox` copies it into each run's
directory and starts it with the sandbox's own interpreter (``python3 -I -S``),
so it uses the standard library only and must run on any Python 3.9+.

Why a trampoline: rlimits must be set in the sandboxed process itself (no
``preexec_fn`` in the host), and the files the code leaves in its private,
in-memory working dir can only be listed from inside. It forks the code as a
child with the limits applied, waits for it, then writes one JSON manifest
(exit status and the working dir's files, as text only) to a pipe the host
passed in. The code can reach that pipe only by attacking this process, which
only lets it lie about its own results: the host treats the manifest as being
as untrusted as the code's stdout.

argv: manifest_fd cpu_s memory_mb file_mb max_processes open_files
      max_files text_bytes python script workdir
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import stat
import sys

__all__: list[str] = []

# Signals the code could send its parent to lose the manifest; ignored here and
# restored to their defaults in the child (ignored signals survive exec).
_SHIELDED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM")
_MAX_ENTRIES = 5000  # directory entries scanned before giving up on the listing


def _not_dumpable() -> None:
    """Keep same-uid code from ptrace-ing this process or opening its fds."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except (ImportError, OSError, AttributeError):
        pass  # best effort: the manifest is untrusted either way


def _limit(name: str, value: int) -> None:
    kind = getattr(resource, name, None)
    if kind is not None:
        resource.setrlimit(kind, (value, value))


def _run_child(argv: list[str], manifest_fd: int) -> None:
    """In the forked child: drop the manifest pipe, apply limits, exec the code."""
    cpu_s, memory_mb, file_mb, max_procs, open_files = (int(a) for a in argv[2:7])
    python, script = argv[9], argv[10]
    try:
        os.close(manifest_fd)
        for name in _SHIELDED:
            signal.signal(getattr(signal, name), signal.SIG_DFL)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        # CPU: SIGXCPU at the soft limit, SIGKILL a second later.
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
        _limit("RLIMIT_AS", memory_mb * 1024 * 1024)
        _limit("RLIMIT_FSIZE", file_mb * 1024 * 1024)
        _limit("RLIMIT_NPROC", max_procs)
        _limit("RLIMIT_NOFILE", open_files)
        _limit("RLIMIT_CORE", 0)
        _limit("RLIMIT_MEMLOCK", 0)
        _limit("RLIMIT_MSGQUEUE", 0)
        os.execv(python, [python, "-I", "-S", "-u", script])
    except BaseException as exc:  # anything at all: report and never return to the parent code
        os.write(2, f"sandbox launcher: {exc!r}\n".encode())
    os._exit(127)


def _file_entry(path: str, rel: str, text_bytes: int) -> dict[str, object] | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        entry: dict[str, object] = {"path": rel, "size": info.st_size, "text": None}
        if info.st_size <= text_bytes:
            data = os.read(fd, text_bytes + 1)
            with contextlib.suppress(UnicodeDecodeError):  # binary: listed, not shown
                entry["text"] = data.decode("utf-8")
        return entry
    finally:
        os.close(fd)


def _list_files(workdir: str, max_files: int, text_bytes: int) -> tuple[list[object], bool]:
    files: list[object] = []
    seen = 0
    for root, dirs, names in os.walk(workdir):
        dirs.sort()
        for name in sorted(names):
            seen += 1
            if len(files) >= max_files or seen > _MAX_ENTRIES:
                return files, True
            path = os.path.join(root, name)
            entry = _file_entry(path, os.path.relpath(path, workdir), text_bytes)
            if entry is not None:
                files.append(entry)
    return files, False


def main(argv: list[str]) -> int:
    manifest_fd = int(argv[1])
    max_files, text_bytes = int(argv[7]), int(argv[8])
    workdir = argv[11]
    _not_dumpable()
    for name in _SHIELDED:
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    pid = os.fork()
    if pid == 0:
        _run_child(argv, manifest_fd)
    _, status, usage = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)  # negative: killed by that signal
    files, truncated = _list_files(workdir, max_files, text_bytes)
    manifest = {
        "exit_code": code,
        "cpu_s": usage.ru_utime + usage.ru_stime,  # tells a CPU-limit SIGKILL from others
        "files": files,
        "files_truncated": truncated,
    }
    data = json.dumps(manifest).encode()
    try:
        with os.fdopen(manifest_fd, "wb") as out:
            out.write(data)
    except OSError:
        pass  # the host stopped listening (it killed us or hit its cap)
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
