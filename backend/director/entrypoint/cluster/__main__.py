"""``python -m director.entrypoint.cluster`` (what `make cluster` runs), and
``python -m director.entrypoint.cluster nginx-config --listen ADDR --upstream HOST:PORT ...`` which
prints ``deploy/nginx.conf`` rendered for servers on other machines (Docker Compose uses it too)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from director.entrypoint.api.server import configure_logging
from director.entrypoint.api.settings import load_server_settings
from director.entrypoint.cluster import nginx_config
from director.entrypoint.cluster.settings import load_cluster_settings
from director.entrypoint.cluster.supervisor import Cluster, logger
from director.errors import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m director.entrypoint.cluster", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    render = commands.add_parser("nginx-config", help="print deploy/nginx.conf filled in")
    render.add_argument("--listen", default="0.0.0.0:8000", help="address:port nginx listens on")
    render.add_argument("--upstream", action="append", required=True, help="a server's host:port (repeat)")
    render.add_argument("--runtime-dir", type=Path, default=Path("/var/lib/director-nginx"))
    render.add_argument(
        "--output", type=Path, help="write the file (and make the runtime dir) instead of printing"
    )
    args = parser.parse_args(argv)
    if args.command == "nginx-config":
        if args.output is not None:
            nginx_config.write(args.output, args.listen, args.upstream, args.runtime_dir)
        else:
            sys.stdout.write(nginx_config.render(args.listen, args.upstream, args.runtime_dir))
        return 0

    configure_logging()
    try:
        settings = load_server_settings()
        cluster = load_cluster_settings()
    except ConfigError as exc:
        logger.error("Configuration error: %s", exc.message)
        return 2
    configure_logging(settings.log_level)
    return Cluster(settings, cluster).run()


if __name__ == "__main__":
    sys.exit(main())
