"""A real nginx for tests, running the shipped ``deploy/nginx.conf`` (rendered by the same code
`make cluster` uses) in its own temp dir on a free 127.0.0.1 port, in front of ``upstreams``.

    proxy = start_nginx(["127.0.0.1:8001", "127.0.0.1:8002"])
    proxy.url
    proxy.cleanup()
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from director.entrypoint.cluster import nginx_config
from director.entrypoint.cluster.services import Child, free_port
from director.entrypoint.cluster.services import start_nginx as start_nginx_process


class Nginx:
    def __init__(self, upstreams: Sequence[str]):
        self.root = Path(tempfile.mkdtemp(prefix="director-nginx-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = nginx_config.write(
            self.root / "nginx.conf", f"127.0.0.1:{self.port}", upstreams, self.root
        )
        self._child: Child | None = None
        atexit.register(self.cleanup)

    def start(self) -> Nginx:
        self._child = start_nginx_process(self.config, self.root, "127.0.0.1", self.port)
        return self

    def error_log(self) -> str:
        path = self.root / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def cleanup(self) -> None:
        if self._child is not None:
            self._child.stop()
            self._child = None
        shutil.rmtree(self.root, ignore_errors=True)


def start_nginx(upstreams: Sequence[str]) -> Nginx:
    return Nginx(upstreams).start()
