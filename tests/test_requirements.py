"""requirements.txt is what the server runs, completely pinned; requirements-dev.txt adds the tools."""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
DEV_TOOLS = {"pytest", "pytest-timeout", "pytest-xdist", "playwright", "ruff", "hypothesis"}


def pins(name: str) -> dict[str, str]:
    lines = (REPO / name).read_text().splitlines()
    entries = [line for line in lines if line and not line.startswith(("#", "-r "))]
    assert all("==" in line for line in entries), f"{name}: every line is pinned to an exact version"
    return {canonicalize_name(line.split("==")[0]): line.split("==")[1] for line in entries}


def test_runtime_has_no_dev_tools_and_dev_adds_them() -> None:
    runtime, dev = pins("requirements.txt"), pins("requirements-dev.txt")
    assert not DEV_TOOLS & runtime.keys()
    assert DEV_TOOLS <= dev.keys()
    assert not runtime.keys() & dev.keys(), "each package is pinned in one file only"
    assert "-r requirements.txt" in (REPO / "requirements-dev.txt").read_text().splitlines()


def test_everything_the_backend_imports_is_a_runtime_requirement() -> None:
    runtime = pins("requirements.txt")
    providers = metadata.packages_distributions()
    imported = set()
    for path in (REPO / "backend" / "director").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    third_party = {name for name in imported if name not in sys.stdlib_module_names and name != "director"}
    missing = {
        name
        for name in third_party
        if not any(canonicalize_name(dist) in runtime for dist in providers.get(name, [name]))
    }
    assert not missing, f"imported by the backend but not in requirements.txt: {sorted(missing)}"


def test_runtime_pins_are_complete() -> None:
    """Every runtime requirement's own dependencies are pinned there too, so nothing floats."""
    runtime = pins("requirements.txt")
    unpinned = set()
    for name in runtime:
        for spec in metadata.distribution(name).requires or []:
            requirement = Requirement(spec)
            if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
                continue
            if canonicalize_name(requirement.name) not in runtime:
                unpinned.add(f"{name} -> {requirement.name}")
    assert not unpinned, sorted(unpinned)
