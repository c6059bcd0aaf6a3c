"""scripts/check-prereqs.sh: what `make run` / `make test` check first, one line per missing piece."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def fake_tool(bin_dir: Path, name: str, script: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)


def check(bin_dir: Path) -> subprocess.CompletedProcess[str]:
    # Only the fake tools are on PATH (bash is run by its full path), as on a machine without them;
    # run from a checkout with no .venv yet (the script prefers the venv's Python once there is one).
    return subprocess.run(
        ["/bin/bash", str(REPO / "scripts" / "check-prereqs.sh")],
        env={"PATH": str(bin_dir)},
        cwd=bin_dir,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """A PATH with a good Python, Node 20 and npm; each test takes something away."""
    (tmp_path / "python3").symlink_to(sys.executable)
    fake_tool(tmp_path, "node", "echo v20.11.1")
    fake_tool(tmp_path, "npm", "echo 10.2.4")
    return tmp_path


def test_all_present_passes_silently(bin_dir: Path) -> None:
    done = check(bin_dir)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_missing_node_says_what_to_install_in_one_line(bin_dir: Path) -> None:
    (bin_dir / "node").unlink()
    done = check(bin_dir)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "Node.js 20 or newer with npm is required and node was not found: install it "
        "(https://nodejs.org, or your package manager)."
    ]


def test_old_node_and_missing_npm_are_each_one_line(bin_dir: Path) -> None:
    fake_tool(bin_dir, "node", "echo v18.19.0")
    (bin_dir / "npm").unlink()
    lines = check(bin_dir).stderr.splitlines()
    assert len(lines) == 2
    assert "node is v18.19.0" in lines[0] and "install a newer Node.js" in lines[0]
    assert lines[1].startswith("npm was not found") and "install npm" in lines[1]


def test_old_or_missing_python_says_what_to_install(bin_dir: Path) -> None:
    # A Python 3.10 (with its venv module).
    (bin_dir / "python3").unlink()
    fake_tool(bin_dir, "python3", "echo 3.10 0 1")
    done = check(bin_dir)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "Python 3.11 or newer is required, python3 is 3.10: install a newer Python 3 (e.g. apt install python3)."
    ]
    (bin_dir / "python3").unlink()
    assert "python3 was not found" in check(bin_dir).stderr
    fake_tool(bin_dir, "python3", "echo 3.12 1 0")  # Debian without python3-venv
    assert "install it (e.g. apt install python3-venv)" in check(bin_dir).stderr
