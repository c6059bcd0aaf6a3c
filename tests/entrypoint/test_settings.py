"""ServerSettings: defaults, env and .env precedence, and start-up errors that name the variable."""

from __future__ import annotations

import pytest
from director.entrypoint.api.server import DirectorServer, main
from director.entrypoint.api.settings import load_server_settings
from director.errors import ConfigError


def test_defaults():
    settings = load_server_settings(_env_file=None)
    assert (settings.host, settings.port, settings.db_type.value) == ("127.0.0.1", 8000, "sqlite")
    assert settings.cors_origins == ["http://localhost:5173", "http://127.0.0.1:5173"]
    assert settings.auth_token is None and not settings.auth_required
    assert settings.max_message_chars == 32000 and settings.allow_private_urls is False
    assert settings.url == "http://127.0.0.1:8000"


def test_env_beats_dotenv(isolated_env, monkeypatch):
    isolated_env.write_text("SERVER_PORT=9001\nDIRECTOR_MAX_STEPS=3\nDIRECTOR_AUTH_TOKEN=from-file\n")
    monkeypatch.setenv("SERVER_PORT", "9002")
    settings = load_server_settings()  # reads DIRECTOR_ENV_FILE, which points at isolated_env
    assert settings.port == 9002
    assert settings.max_steps == 3
    assert settings.auth_token is not None and settings.auth_token.get_secret_value() == "from-file"


def test_env_values_are_parsed(monkeypatch):
    monkeypatch.setenv("DIRECTOR_CORS_ORIGINS", "https://a.example, http://b.example:8080/")
    monkeypatch.setenv("DIRECTOR_AUTH_TOKEN", "   ")
    monkeypatch.setenv("DB_TYPE", "postgres")
    monkeypatch.setenv("DIRECTOR_ALLOW_PRIVATE_URLS", "true")
    monkeypatch.setenv("SERVER_HOST", "0.0.0.0")
    settings = load_server_settings(_env_file=None)
    assert settings.cors_origins == ["https://a.example", "http://b.example:8080"]
    assert settings.auth_token is None  # blank means unset
    assert settings.db_type.value == "postgres" and settings.allow_private_urls is True
    assert settings.url == "http://127.0.0.1:8000"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SERVER_PORT", "eighty"),
        ("SERVER_PORT", "70000"),
        ("SERVER_THREADS", "1"),
        ("DB_TYPE", "mysql"),
        ("DIRECTOR_CORS_ORIGINS", "*"),
        ("DIRECTOR_CORS_ORIGINS", "example.com"),
        ("DIRECTOR_MAX_STEPS", "0"),
        ("DIRECTOR_AGENT_TIMEOUT", "-5"),
        ("DIRECTOR_MAX_MESSAGE_CHARS", "lots"),
        ("DIRECTOR_ALLOW_PRIVATE_URLS", "perhaps"),
        ("DIRECTOR_LOG_LEVEL", "chatty"),
    ],
)
def test_bad_values_fail_naming_the_variable(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        load_server_settings(_env_file=None)
    assert info.value.variable == variable
    assert variable in info.value.message and info.value.accepted


def test_server_main_reports_config_error_and_exits(monkeypatch, caplog):
    monkeypatch.setenv("SERVER_PORT", "not-a-port")
    assert main() == 2
    assert "SERVER_PORT" in caplog.text


def test_gunicorn_config_is_one_gthread_worker():
    settings = load_server_settings(_env_file=None, port=8123, threads=64)
    server = DirectorServer(settings)
    assert server.cfg.worker_class_str == "gthread"
    assert server.cfg.workers == 1 and server.cfg.threads == 64
    assert server.cfg.bind == ["127.0.0.1:8123"]
    assert server.cfg.preload_app is False  # the app (and its warm-up thread) live in the worker
