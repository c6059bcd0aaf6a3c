"""Renders ``deploy/nginx.conf``, the one nginx configuration `make cluster`, Docker Compose and a
team deployment all use. Its ``{{field}}`` placeholders are filled here; nginx's own ``$variables``
are left alone (which is why this is not ``string.Template``)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from pathlib import Path

from director.constants import REPO_ROOT

TEMPLATE = REPO_ROOT / "deploy" / "nginx.conf"
_FIELD = re.compile(r"\{\{(\w+)\}\}")
# nginx creates these itself, but only inside a directory that exists.
TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
_INDENT = "\n        "  # inside the http block's upstreams and maps


def render(listen: str, upstreams: Sequence[str], runtime_dir: Path, template: Path = TEMPLATE) -> str:
    """The config for nginx listening on ``listen`` in front of ``upstreams`` (``host:port`` each)."""
    if not upstreams:
        raise ValueError("nginx needs at least one upstream server")
    values = {
        "listen": listen,
        "upstream_servers": _INDENT.join(_servers(upstreams)),
        "runtime_dir": str(runtime_dir),
        **_routing(upstreams),
    }

    def fill(match: re.Match[str]) -> str:
        return values[match.group(1)]  # a KeyError names a placeholder this code does not know

    text = _FIELD.sub(fill, template.read_text(encoding="utf-8"))
    return "\n".join(line.rstrip() for line in text.split("\n"))  # fields left empty leave no blanks


def _servers(upstreams: Sequence[str], backups: Sequence[str] = ()) -> list[str]:
    return [f"server {address};" for address in upstreams] + [
        f"server {address} backup;" for address in backups
    ]


def _upstream(name: str, lines: list[str]) -> str:
    return f"upstream {name} {{" + "".join(_INDENT + line for line in lines) + "\n    }"


def _routing(upstreams: Sequence[str]) -> dict[str, str]:
    """The routing fields (see the comments in deploy/nginx.conf): new clients in turn, pinned by a cookie
    naming their process, where every upstream is an IP address with a port; else a random hashed key."""
    shown = [_as_nginx_shows(address) for address in upstreams]
    if None in shown or len(set(shown)) != len(shown):
        return {
            "new_client_upstream": "director",
            "route_upstreams": "",
            "route_cookies": "",
            "pinned_upstreams": "",
        }
    routes = [f"p{index}" for index in range(len(upstreams))]
    # zone: nginx's worker processes share the turn, so new clients alternate across all of them.
    blocks = [_upstream("director_new", ["zone director_new 64k;", *_servers(upstreams), "keepalive 32;"])]
    for index, route in enumerate(routes):
        # One stand-in, the next process: a client whose process is down then reaches one and the same
        # process every time (with all the others as backups, nginx would take them in turn).
        backup = [upstreams[(index + 1) % len(upstreams)]] if len(upstreams) > 1 else []
        blocks.append(_upstream(f"director_{route}", [*_servers([upstreams[index]], backup), "keepalive 8;"]))
    return {
        "new_client_upstream": "director_new",
        "route_upstreams": _INDENT.join(f"{route} director_{route};" for route in routes),
        "route_cookies": _INDENT.join(
            f'"~^\\|(.*, )?{re.escape(str(address))}$" "director_route={route}; Path=/; HttpOnly; SameSite=Lax";'
            for route, address in zip(routes, shown, strict=True)
        ),
        "pinned_upstreams": "\n    ".join(blocks),
    }


def _as_nginx_shows(address: str) -> str | None:
    """``address`` as nginx writes it in ``$upstream_addr`` (``10.0.0.2:8001``, ``[::1]:8001``), or None
    when it is not an IP address with a port (a name, or a port left to its default)."""
    host, colon, port = address.rpartition(":")
    if not colon or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    bracketed = host.startswith("[") and host.endswith("]")
    try:
        ip = ipaddress.ip_address(host[1:-1] if bracketed else host)
    except ValueError:
        return None
    if ip.version == 6 and (not bracketed or "%" in host):
        return None  # nginx reads an unbracketed one as having no port; a zone it may write otherwise
    return f"[{ip}]:{int(port)}" if ip.version == 6 else f"{ip}:{int(port)}"


def write(path: Path, listen: str, upstreams: Sequence[str], runtime_dir: Path) -> Path:
    runtime_dir.mkdir(parents=True, exist_ok=True)
    for name in TEMP_DIRS:
        (runtime_dir / name).mkdir(exist_ok=True)
    path.write_text(render(listen, upstreams, runtime_dir), encoding="utf-8")
    return path
