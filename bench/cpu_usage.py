"""CPU seconds spent by a process tree, grouped by what each process is (for where a bench's CPU goes).

Read from /proc (Linux): user + system time of every process under a root, each named by its role
(``server`` for Director's server processes, else the command name: redis-server, postgres, nginx).
Processes that exit during the measurement are missed, so measure long-lived trees only.
"""

from __future__ import annotations

import os
import resource
from collections import Counter
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _descendants(root: int) -> list[int]:
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        try:
            for task in Path(f"/proc/{pid}/task").iterdir():
                todo.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def _role(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "gone"
    command = b" ".join(argv).decode(errors="replace")
    if "director.entrypoint.api.server" in command:
        return "server"
    if "director.entrypoint.cluster" in command:
        return "supervisor"
    # Daemons rewrite their title ("redis-server 127.0.0.1:6379", "postgres: director ...").
    return Path(argv[0].decode(errors="replace")).name.split(":")[0].split(" ")[0] or "?"


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


def tree_cpu(root: int) -> dict[int, tuple[str, float]]:
    return {pid: (_role(pid), _cpu_s(pid)) for pid in _descendants(root)}


def own_cpu_s() -> float:
    """This process's CPU seconds (every thread: the bench's clients and the fake provider)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """CPU used by a process tree and by this process between ``start()`` and ``stop()``."""

    def __init__(self, root: int):
        self.root = root
        self.spent: Counter[str] = Counter()  # what the last stop() measured

    def start(self) -> CpuMeter:
        self._before = tree_cpu(self.root)
        self._own_before = own_cpu_s()
        return self

    def stop(self) -> Counter[str]:
        after = tree_cpu(self.root)
        spent: Counter[str] = Counter()
        for pid, (role, cpu_s) in after.items():
            spent[role] += cpu_s - self._before.get(pid, (role, 0.0))[1]
        spent["bench process"] += own_cpu_s() - self._own_before
        self.spent = spent
        return spent


def describe(spent: Counter[str], turns: int) -> str:
    total = sum(spent.values())
    parts = ", ".join(f"{role} {cpu_s:.2f}" for role, cpu_s in spent.most_common() if cpu_s >= 0.01)
    server_ms = 1000 * spent["server"] / turns
    return f"CPU s: {parts}; total {total:.2f}; servers {server_ms:.1f} ms per turn"
