"""Host checks (DNS-rebinding protection): which Host headers the server answers to."""

from __future__ import annotations

import json

import pytest
from director.entrypoint.api.security import HostGuard, HostPolicy, default_allowed_hosts, host_name
from director.entrypoint.api.settings import load_server_settings
from director.errors import ConfigError


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("127.0.0.1:8000", "127.0.0.1"),
        ("LocalHost", "localhost"),
        ("[::1]:8000", "::1"),
        ("chat.example.com.", "chat.example.com"),
        ("evil.example:8000", "evil.example"),
    ],
)
def test_host_name_drops_port_brackets_and_case(header: str, name: str) -> None:
    assert host_name(header) == name


def test_default_is_loopback_plus_server_host() -> None:
    hosts = default_allowed_hosts("192.168.7.7")
    assert {"localhost", "127.0.0.1", "::1", "192.168.7.7"} <= set(hosts)
    policy = HostPolicy(hosts)
    assert policy.allowed("localhost:8000") and policy.allowed("[::1]:8000")
    assert policy.allowed("192.168.7.7:8000")
    assert not policy.allowed("evil.example:8000")
    assert not policy.allowed("127.0.0.1.evil.example")


def test_subdomain_wildcard_and_any() -> None:
    policy = HostPolicy(["chat.example.com", "*.corp.example"])
    assert policy.allowed("chat.example.com") and policy.allowed("a.b.corp.example:443")
    assert not policy.allowed("corp.example.evil") and not policy.allowed("xcorp.example")
    assert HostPolicy(["*"]).allowed("anything.example")


def test_guard_answers_400_with_a_reason_and_never_calls_the_app() -> None:
    calls: list[str] = []

    def app(environ, start_response):
        calls.append(environ["HTTP_HOST"])
        start_response("200 OK", [])
        return [b"ok"]

    guard = HostGuard(app, HostPolicy(["localhost"]))
    seen: dict[str, str] = {}
    body = b"".join(guard({"HTTP_HOST": "evil.example"}, lambda status, headers: seen.update(status=status)))
    assert seen["status"].startswith("400")
    assert json.loads(body)["code"] == "host_not_allowed" and calls == []
    assert b"".join(guard({"HTTP_HOST": "localhost:8000"}, lambda s, h: None)) == b"ok"


def test_setting_is_read_and_checked() -> None:
    settings = load_server_settings(_env_file=None, DIRECTOR_ALLOWED_HOSTS="chat.example.com, *.corp.example")
    assert settings.host_names == ["localhost", "127.0.0.1", "::1", "chat.example.com", "*.corp.example"]
    assert "127.0.0.1" in load_server_settings(_env_file=None).host_names
    with pytest.raises(ConfigError) as error:
        load_server_settings(_env_file=None, DIRECTOR_ALLOWED_HOSTS="https://chat.example.com/")
    assert error.value.variable == "DIRECTOR_ALLOWED_HOSTS"
