"""Drive the real ``ponder`` in a pseudo-terminal and read back what the user sees.

`pexpect` gives the child a real terminal (so it takes its interactive path:
the live view, the approval prompts, Ctrl-C as SIGINT from the line
discipline); `pyte` replays every byte it wrote through a terminal emulator,
so assertions are made on the screen a person would be looking at, not on
the escape-laden byte stream.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pexpect
import pyte

from bench.cli_runner import PONDER, REPO, env

__all__ = ["Terminal"]


class Terminal:
    """One ``ponder`` process on a pseudo-terminal of a fixed size."""

    def __init__(
        self,
        *args: str,
        home: Path,
        cols: int = 120,
        rows: int = 50,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.cols, self.rows = cols, rows
        self.screen = pyte.HistoryScreen(cols, rows, history=5000)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = b""
        child_env = {**env(home), "TERM": "xterm-256color", "COLUMNS": str(cols)}
        child_env.pop("NO_COLOR", None)
        child_env.update(extra_env or {})
        self.child = pexpect.spawn(
            str(PONDER),
            list(args),
            cwd=str(REPO),
            env=child_env,
            dimensions=(rows, cols),
            timeout=5,
        )
        self.started = time.monotonic()

    # -- reading ------------------------------------------------------------------
    def pump(self, wait: float = 0.05) -> None:
        """Feed whatever the child has written so far into the emulator."""
        while not self.child.closed:
            try:
                data = self.child.read_nonblocking(65536, timeout=wait)
            except pexpect.TIMEOUT:
                return
            except pexpect.EOF:
                return
            self.raw += data
            self.stream.feed(data)
            wait = 0.0

    def text(self) -> str:
        """The visible screen, trailing blanks trimmed."""
        self.pump(0)
        lines = [line.rstrip() for line in self.screen.display]
        while lines and not lines[-1]:
            lines.pop()
        return "\n".join(lines)

    def all_text(self) -> str:
        """Scrollback plus the visible screen."""
        self.pump(0)
        above = [
            "".join(ch.data for ch in (row[x] for x in range(self.cols))).rstrip()
            for row in self.screen.history.top
        ]
        return "\n".join([*above, self.text()])

    def wait_for(self, what: str | Callable[[str], bool], timeout: float = 30.0) -> float:
        """Wait until the screen shows ``what`` (text or regex match, or predicate)."""
        check: Callable[[str], bool]
        if callable(what):
            check = what
        else:
            pattern = re.compile(what)
            check = lambda screen: bool(pattern.search(screen))  # noqa: E731
        deadline = time.monotonic() + timeout
        while True:
            self.pump(0.05)
            if check(self.text()):
                return time.monotonic() - self.started
            if not self.child.isalive() or time.monotonic() > deadline:
                self.pump(0.2)
                if check(self.text()):
                    return time.monotonic() - self.started
                raise AssertionError(
                    f"the screen never showed {what!r} "
                    f"(alive={self.child.isalive()}):\n{self.snapshot()}"
                )

    # -- writing ------------------------------------------------------------------
    def send(self, text: str) -> None:
        self.child.send(text)

    def interrupt(self) -> float:
        """Press Ctrl-C (the terminal sends SIGINT to the foreground group)."""
        self.child.sendintr()
        return time.monotonic()

    def wait_exit(self, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while self.child.isalive() and time.monotonic() < deadline:
            self.pump(0.05)
        self.pump(0.1)
        if self.child.isalive():
            self.child.kill(9)
            raise AssertionError(f"ponder did not exit within {timeout}s:\n{self.snapshot()}")
        self.child.close()
        status = self.child.exitstatus
        if status is None:
            return 128 + int(self.child.signalstatus or 0)
        return int(status)

    def close(self) -> None:
        if self.child.isalive():
            self.child.kill(9)
        self.child.close(force=True)

    def snapshot(self, title: str = "screen") -> str:
        bar = "─" * self.cols
        return f"┌ {title} ({self.cols}x{self.rows}) {bar}"[: self.cols + 2] + (
            f"\n{self.all_text()}\n└{bar}"
        )

    def show(self, title: str = "final screen") -> str:
        """Print the screen into the test's captured output, and return its text."""
        print(self.snapshot(title), flush=True)
        return self.text()
