"""deploy/docker-compose.yml cannot run here (no Docker): check what can be checked without it,
that it parses, names only settings the code reads, and runs the same commands as `make cluster`."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.test_env_sample import read_by_code

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "deploy" / "docker-compose.yml"


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def test_compose_runs_redis_postgres_two_servers_and_nginx():
    services = compose()["services"]
    assert set(services) == {"redis", "postgres", "server-1", "server-2", "nginx"}
    for name in ("server-1", "server-2"):
        env = services[name]["environment"]
        assert env["DIRECTOR_MESSAGE_QUEUE"] == "redis://redis:6379/0" and env["DB_TYPE"] == "postgres"
        assert "command" not in services[name]  # the image's: python -m director.entrypoint.api.server
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert 'CMD ["python", "-m", "director.entrypoint.api.server"]' in dockerfile


def test_compose_nginx_renders_the_shipped_template_for_both_servers():
    command = " ".join(compose()["services"]["nginx"]["command"])
    assert "python -m director.entrypoint.cluster nginx-config" in command
    assert "--upstream server-1:8000 --upstream server-2:8000" in command


def test_compose_sets_only_settings_the_code_reads():
    env = compose()["services"]["server-1"]["environment"]
    unknown = set(env) - read_by_code()
    assert not unknown, unknown
