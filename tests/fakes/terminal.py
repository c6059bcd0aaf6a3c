"""Run a command the way a user does, in a terminal: a pty is its controlling terminal, so typing
Ctrl+C (``press_ctrl_c``) has the kernel signal the terminal's whole foreground process group, as in
a shell, rather than one chosen process.

    with Terminal([sys.executable, "-m", "director.entrypoint.api.server"], env, cwd) as term:
        term.wait_for_output("LLM layer warmed up", 90)
        term.press_ctrl_c()
        code = term.wait(15)
        term.output()
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import termios
import time
from pathlib import Path

CTRL_C = b"\x03"


class Terminal:
    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path):
        self._master_fd, slave_fd = os.openpty()
        try:
            self.process = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdin=slave_fd,
                stdout=slave_fd,
                stderr=slave_fd,
                start_new_session=True,
                # The pty becomes the new session's controlling terminal (fd 0 is the slave here).
                preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
            )
        finally:
            os.close(slave_fd)
        os.set_blocking(self._master_fd, False)
        self._output = b""

    def output(self) -> str:
        """Everything the command wrote so far (reading also keeps the pty's buffer from filling)."""
        while True:
            try:
                chunk = os.read(self._master_fd, 65536)
            except (BlockingIOError, OSError):  # OSError (EIO): every user of the terminal is gone
                break
            if not chunk:
                break
            self._output += chunk
        return self._output.decode(errors="replace")

    def wait_for_output(self, text: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{text!r} did not appear within {timeout_s} s:\n{self.output()}")
            time.sleep(0.05)

    def press_ctrl_c(self) -> None:
        os.write(self._master_fd, CTRL_C)

    def wait(self, timeout_s: float) -> int:
        deadline = time.monotonic() + timeout_s
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"still running {timeout_s} s later:\n{self.output()}")
            self.output()
            time.sleep(0.02)
        self.output()
        return self.process.returncode

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        os.close(self._master_fd)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
