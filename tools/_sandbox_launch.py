"""The trampoline that runs inside the sandbox: limits, then the model's code.

This file is not imported by Ponder. `tools._sandbox_run` copies it into each
run's directory and starts it with the sandbox's own interpreter
(``python3 -I -S -u``), so it uses the standard library only and must run on
any Python 3.9+.

Why a trampoline: rlimits must be set in the sandboxed process itself (no
``preexec_fn`` in the host), and the files the code leaves in its private,
in-memory working dir can only be listed from inside. It forks; the child
applies the limits and runs the code as ``__main__`` (a fork is far cheaper
than starting a second interpreter); the parent waits, then writes one JSON
manifest (exit status, CPU time, the working dir's files as text) to a pipe
the host passed in. The code could reach that pipe only by attacking this
process, which would only let it lie about its own results: the host treats
the manifest as being as untrusted as the code's stdout.

Start-up time matters (every run pays it), so this imports only C-level or
frozen modules and writes its JSON by hand instead of importing `json`.

argv: manifest_fd cpu_s memory_mb file_mb max_processes open_files
      max_files text_bytes script workdir
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # C module; `signal` pulls in enum
import os
import resource
import stat
import sys

__all__: list[str] = []

# Signals the code could send its parent to lose the manifest: ignored here,
# restored in the child (SIGINT to Python's usual KeyboardInterrupt handler).
_SHIELDED = ("SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM")
_MAX_ENTRIES = 5000  # directory entries scanned before giving up on the listing
_ESCAPES = {i: f"\\u{i:04x}" for i in range(32)} | {ord('"'): '\\"', ord("\\"): "\\\\"}


def _limit(name: str, value: int) -> None:
    kind = getattr(resource, name, None)
    if kind is not None:
        resource.setrlimit(kind, (value, value))


def _apply_limits(argv: list[str], manifest_fd: int) -> None:
    cpu_s, memory_mb, file_mb, max_procs, open_files = (int(a) for a in argv[2:7])
    os.close(manifest_fd)
    for name in _SHIELDED:
        _signal.signal(getattr(_signal, name), _signal.SIG_DFL)
    _signal.signal(_signal.SIGINT, _signal.default_int_handler)
    # CPU: SIGXCPU at the soft limit, SIGKILL a second later.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    _limit("RLIMIT_AS", memory_mb * 1024 * 1024)
    _limit("RLIMIT_FSIZE", file_mb * 1024 * 1024)
    _limit("RLIMIT_NPROC", max_procs)
    _limit("RLIMIT_NOFILE", open_files)
    _limit("RLIMIT_CORE", 0)
    _limit("RLIMIT_MEMLOCK", 0)
    _limit("RLIMIT_MSGQUEUE", 0)


def _run_child(argv: list[str], manifest_fd: int) -> None:
    """In the forked child: limits, then the script as ``__main__``; never returns."""
    script = argv[9]
    try:
        _apply_limits(argv, manifest_fd)
    except BaseException as exc:  # anything at all: report it and never run the code
        os.write(2, f"sandbox launcher: {exc!r}\n".encode())
        os._exit(127)
    main = type(sys)("__main__")
    main.__file__ = script
    sys.modules["__main__"] = main
    sys.argv = [script]
    try:
        with open(script, "rb") as source:
            code = compile(source.read(), script, "exec", dont_inherit=True)
        exec(code, main.__dict__)
    except SystemExit:
        raise
    except BaseException as exc:
        # The traceback a plain `python script.py` prints: from the script's frames on.
        tb = exc.__traceback__.tb_next if exc.__traceback__ else None
        sys.excepthook(type(exc), exc.with_traceback(tb), tb)
        raise SystemExit(1) from None
    raise SystemExit(0)  # through the interpreter's shutdown: threads joined, atexit run


def _text_path(path: str) -> str:
    """A displayable path even when the name is not valid UTF-8."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _file_entry(path: str, rel: str, text_bytes: int) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        text = "null"
        if info.st_size <= text_bytes:
            try:
                text = _quote(os.read(fd, text_bytes + 1).decode("utf-8"))
            except UnicodeDecodeError:
                text = "null"  # binary: listed, not shown
        return f'{{"path": {_quote(_text_path(rel))}, "size": {info.st_size}, "text": {text}}}'
    finally:
        os.close(fd)


def _list_files(workdir: str, max_files: int, text_bytes: int) -> tuple[list[str], bool]:
    files: list[str] = []
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


def _quote(text: str) -> str:
    return '"' + text.translate(_ESCAPES) + '"'


def main(argv: list[str]) -> int:
    manifest_fd = int(argv[1])
    max_files, text_bytes = int(argv[7]), int(argv[8])
    workdir = argv[10]
    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    for name in _SHIELDED:
        _signal.signal(getattr(_signal, name), _signal.SIG_IGN)
    pid = os.fork()
    if pid == 0:
        _run_child(argv, manifest_fd)
    _, status, usage = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)  # negative: killed by that signal
    files, truncated = _list_files(workdir, max_files, text_bytes)
    manifest = (
        f'{{"exit_code": {code}, "cpu_s": {usage.ru_utime + usage.ru_stime!r}, '
        f'"files_truncated": {"true" if truncated else "false"}, '
        f'"files": [{", ".join(files)}]}}'
    )
    try:
        with os.fdopen(manifest_fd, "wb") as out:
            out.write(manifest.encode("utf-8"))
    except OSError:
        pass  # the host stopped listening (it killed us or hit its cap)
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
