"""A real, small filesystem a test can fill: a tmpfs mounted on a temp directory (needs root).

    with small_disk("16m") as disk:
        db = SQLiteDB(disk.path / "director.db")
        disk.fill()         # ENOSPC from here on
        disk.free()         # space again, same mount

``small_disk`` skips the test (with the reason) where mounting is not permitted; CI runs as root.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

FILLER = "filler.bin"


class SmallDisk:
    def __init__(self, path: Path):
        self.path = path

    def fill(self) -> None:
        """Write a file until the filesystem has no space left at all."""
        chunk = b"\0" * (1 << 16)
        # Unbuffered: a buffered file would still hold the chunk that did not fit and raise ENOSPC
        # again when closed, depending on how the free space happens to line up with the chunks.
        with open(self.path / FILLER, "ab", buffering=0) as out:
            try:
                while True:
                    out.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
            # The last partial chunk may have left a few bytes: take them too, byte-sized.
            with contextlib.suppress(OSError):
                while True:
                    os.write(out.fileno(), b"\0" * 512)
            with contextlib.suppress(OSError):
                while True:
                    os.write(out.fileno(), b"\0")

    def free(self) -> None:
        (self.path / FILLER).unlink(missing_ok=True)

    def chown(self, user: str) -> None:
        shutil.chown(self.path, user=user)


def _mount(path: Path, size: str) -> str | None:
    """Mount a tmpfs of ``size`` on ``path``; the reason it could not, or None."""
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root (CI runs as root)"
    if shutil.which("mount") is None:
        return "no mount command"
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if result.returncode != 0:
        return f"mount -t tmpfs is not permitted here: {result.stderr.strip()}"
    return None


@contextlib.contextmanager
def small_disk(size: str = "16m") -> Iterator[SmallDisk]:
    path = Path(tempfile.mkdtemp(prefix="director-small-disk-"))
    reason = _mount(path, size)
    if reason is not None:
        path.rmdir()
        pytest.skip(reason)
    try:
        yield SmallDisk(path)
    finally:
        # lazy: a server or PostgreSQL still holding files open must not make the unmount fail.
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)
        shutil.rmtree(path, ignore_errors=True)
