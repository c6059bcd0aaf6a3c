"""Renders ``deploy/nginx.conf``, the one nginx configuration `make cluster`, Docker Compose and a
team deployment all use. Its ``{{field}}`` placeholders are filled here; nginx's own ``$variables``
are left alone (which is why this is not ``string.Template``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from director.constants import REPO_ROOT

TEMPLATE = REPO_ROOT / "deploy" / "nginx.conf"
_FIELD = re.compile(r"\{\{(\w+)\}\}")
# nginx creates these itself, but only inside a directory that exists.
TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def render(listen: str, upstreams: Sequence[str], runtime_dir: Path, template: Path = TEMPLATE) -> str:
    """The config for nginx listening on ``listen`` in front of ``upstreams`` (``host:port`` each)."""
    if not upstreams:
        raise ValueError("nginx needs at least one upstream server")
    values = {
        "listen": listen,
        "upstream_servers": "\n        ".join(f"server {address};" for address in upstreams),
        "runtime_dir": str(runtime_dir),
    }

    def fill(match: re.Match[str]) -> str:
        return values[match.group(1)]  # a KeyError names a placeholder this code does not know

    return _FIELD.sub(fill, template.read_text(encoding="utf-8"))


def write(path: Path, listen: str, upstreams: Sequence[str], runtime_dir: Path) -> Path:
    runtime_dir.mkdir(parents=True, exist_ok=True)
    for name in TEMP_DIRS:
        (runtime_dir / name).mkdir(exist_ok=True)
    path.write_text(render(listen, upstreams, runtime_dir), encoding="utf-8")
    return path
