"""deploy/nginx.conf rendered: every field filled, and nginx itself accepts the result."""

from __future__ import annotations

import subprocess

import pytest
from director.entrypoint.cluster import nginx_config
from director.entrypoint.cluster.__main__ import main
from director.entrypoint.cluster.services import nginx_binary


def test_render_fills_every_field(tmp_path):
    text = nginx_config.render("0.0.0.0:8000", ["10.0.0.2:8001", "10.0.0.3:8001"], tmp_path)
    assert "{{" not in text
    assert "listen 0.0.0.0:8000;" in text
    assert "server 10.0.0.2:8001;" in text and "server 10.0.0.3:8001;" in text
    assert f"pid {tmp_path}/nginx.pid;" in text
    # What makes Socket.IO work behind it (see the comments in the file for why).
    for line in (
        "hash $director_route consistent;",
        "proxy_set_header Host $http_host;",
        "proxy_set_header Upgrade $http_upgrade;",
        "client_max_body_size 17m;",
    ):
        assert line in text


def test_new_clients_take_turns_and_a_cookie_pins_them_to_their_process(tmp_path):
    upstreams = ["10.0.0.2:8001", "[fd00:0::3]:8001", "10.0.0.4:8001"]
    text = nginx_config.render("0.0.0.0:8000", upstreams, tmp_path)
    assert '""      director_new;' in text and "proxy_pass http://$director_upstream;" in text
    assert "upstream director_new {\n        zone director_new 64k;\n        server 10.0.0.2:8001;" in text
    # Each process's own upstream, with one stand-in (the next process): a client whose process is down
    # reaches the same other process every time.
    assert (
        "upstream director_p0 {\n        server 10.0.0.2:8001;\n        server [fd00:0::3]:8001 backup;\n"
        in text
    )
    assert (
        "upstream director_p2 {\n        server 10.0.0.4:8001;\n        server 10.0.0.2:8001 backup;\n"
        in text
    )
    assert "p0 director_p0;" in text and "p2 director_p2;" in text
    # The cookie names the process that answered, its address written as nginx writes it.
    assert r'"~^\|(.*, )?10\.0\.0\.2:8001$" "director_route=p0;' in text
    assert r'"~^\|(.*, )?\[fd00::3\]:8001$" "director_route=p1;' in text


@pytest.mark.parametrize(
    "upstreams",
    [
        ["server-1:8000", "server-2:8000"],  # names (the Docker Compose file)
        ["10.0.0.2", "10.0.0.3"],  # no port: nginx would show :80
        ["::1:8001"],  # unbracketed IPv6: nginx reads it as having no port
        ["10.0.0.2:8001", "10.0.0.2:08001"],  # the same process twice
    ],
)
def test_upstreams_nginx_would_show_otherwise_get_a_random_key(tmp_path, upstreams):
    """nginx shows the address that answered, in its own form: where the cookie could not be matched to
    the process, routing stays by a hashed random key."""
    text = nginx_config.render("0.0.0.0:8000", upstreams, tmp_path)
    assert '""      director;' in text
    assert "upstream director_new" not in text and "director_p0;" not in text


def test_with_names_new_clients_get_a_random_key_in_the_cookie(tmp_path):
    text = nginx_config.render("0.0.0.0:8000", ["server-1:8000", "server-2:8000"], tmp_path)
    assert '"~^\\|" "director_route=$request_id;' in text
    assert not any(line != line.rstrip() for line in text.splitlines())  # empty fields leave no blanks


def test_render_needs_an_upstream(tmp_path):
    with pytest.raises(ValueError):
        nginx_config.render("127.0.0.1:8000", [], tmp_path)


def test_the_command_prints_the_config(tmp_path, capsys):
    argv = ["nginx-config", "--listen", "127.0.0.1:8000", "--upstream", "10.0.0.2:8001"]
    assert main([*argv, "--runtime-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == nginx_config.render("127.0.0.1:8000", ["10.0.0.2:8001"], tmp_path)


def test_the_command_writes_a_config_nginx_accepts(tmp_path):
    """What deploy/docker-compose.yml and the README's team deployment run."""
    runtime = tmp_path / "runtime"
    config = tmp_path / "director.conf"
    argv = [
        "nginx-config",
        "--listen",
        "127.0.0.1:8000",
        "--upstream",
        "10.0.0.2:8001",
        "--upstream",
        "10.0.0.3:8001",
    ]
    assert main([*argv, "--runtime-dir", str(runtime), "--output", str(config)]) == 0
    result = subprocess.run(
        [nginx_binary(), "-t", "-c", str(config), "-p", str(runtime)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
