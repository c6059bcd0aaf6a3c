"""ServerSettings: defaults, env and .env precedence, and start-up errors that name the variable."""

from __future__ import annotations

import pytest
from director.entrypoint.api import server as server_module
from director.entrypoint.api.server import DirectorServer, main
from director.entrypoint.api.settings import load_server_settings
from director.errors import ConfigError


def test_defaults():
    settings = load_server_settings(_env_file=None)
    assert (settings.host, settings.port, settings.db_type.value) == ("127.0.0.1", 8000, "sqlite")
    assert settings.cors_origins == ["http://localhost:5173", "http://127.0.0.1:5173"]
    assert settings.auth_token is None and not settings.auth_required
    assert settings.max_message_chars == 32000
    assert settings.allow_remote_images is False
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
    monkeypatch.setenv("SERVER_HOST", "0.0.0.0")
    settings = load_server_settings(_env_file=None)
    assert settings.cors_origins == ["https://a.example", "http://b.example:8080"]
    assert settings.auth_token is None  # blank means unset
    assert settings.db_type.value == "postgres"
    assert settings.url == "http://127.0.0.1:8000"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SERVER_PORT", "eighty"),
        ("SERVER_PORT", "70000"),
        ("SERVER_THREADS", "1"),
        ("SERVER_WORKER", "eventlet"),
        ("SERVER_MAX_SOCKETS", "1"),
        ("DB_TYPE", "mysql"),
        ("DIRECTOR_CORS_ORIGINS", "*"),
        ("DIRECTOR_CORS_ORIGINS", "example.com"),
        ("DIRECTOR_MAX_STEPS", "0"),
        ("DIRECTOR_AGENT_TIMEOUT", "-5"),
        ("DIRECTOR_MAX_MESSAGE_CHARS", "lots"),
        ("DIRECTOR_LOG_LEVEL", "chatty"),
        ("DIRECTOR_ALLOW_REMOTE_IMAGES", "sometimes"),
        ("DIRECTOR_COMPACT_AT", "0"),
        ("DIRECTOR_COMPACT_AT", "85%"),
        ("DIRECTOR_COMPACT_AT", "1.5"),
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


def test_the_default_worker_is_gevent_without_monkey_patching():
    settings = load_server_settings(_env_file=None, port=8123)
    assert DirectorServer(settings).cfg.worker_class_str == "UnpatchedGeventWorker"


def test_gunicorn_config_is_one_gthread_worker_when_asked():
    settings = load_server_settings(_env_file=None, port=8123, threads=64, worker="gthread")
    server = DirectorServer(settings)
    assert server.cfg.worker_class_str == "gthread"
    assert server.cfg.workers == 1 and server.cfg.threads == 64
    assert server.cfg.bind == ["127.0.0.1:8123"]
    assert server.cfg.preload_app is False  # the app (and its warm-up thread) live in the worker


def test_gunicorn_config_under_the_gevent_worker_sizes_its_pool_for_max_sockets():
    settings = load_server_settings(_env_file=None, port=8123, worker="gevent", max_sockets=2000)
    server = DirectorServer(settings)
    assert server.cfg.worker_class_str == "UnpatchedGeventWorker"
    assert server.cfg.workers == 1
    # Every socket plus an eighth for REST, the UI and /health.
    assert server.cfg.worker_connections == 2250


def test_the_gevent_worker_raises_the_open_file_limit_to_fit_its_sockets(monkeypatch, no_gunicorn):
    limits: list[tuple[int, int]] = []
    monkeypatch.setattr(server_module.resource, "getrlimit", lambda _which: (1024, 1_000_000))
    monkeypatch.setattr(server_module.resource, "setrlimit", lambda _which, value: limits.append(value))
    monkeypatch.setenv("SERVER_WORKER", "gevent")
    monkeypatch.setenv("SERVER_MAX_SOCKETS", "4000")
    assert main() == 0
    assert limits == [(4500 + server_module.SPARE_FILES, 1_000_000)]


@pytest.fixture
def no_gunicorn(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Stands in for DirectorServer so main() never starts a real server; records what it got."""
    started: list[object] = []

    class Recorder:
        def __init__(self, settings: object, llm: object = None):
            self.settings, self.llm = settings, llm

        def run(self) -> None:
            started.append(self)

    monkeypatch.setattr(server_module, "DirectorServer", Recorder)
    # Port 0 (any free port) for the probe, so a local server on :8000 cannot fail these tests.
    monkeypatch.setenv("SERVER_PORT", "0")
    monkeypatch.setattr(server_module, "configure_logging", lambda *args, **kwargs: None)
    return started


def test_bad_llm_setting_fails_before_the_server_starts(monkeypatch, caplog, no_gunicorn):
    """Not from inside gunicorn's worker after "listening" was logged: one line, exit code 2."""
    monkeypatch.setenv("LITELLM_CHAT_MODEL", "openai/x")
    monkeypatch.setenv("LITELLM_TEMPERATURE", "9")
    assert main() == 2
    assert no_gunicorn == []
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "LITELLM_TEMPERATURE" in errors[0]
    assert "Traceback" not in caplog.text


def test_llm_built_once_in_main_is_handed_to_the_server(monkeypatch, caplog, no_gunicorn):
    monkeypatch.setenv("LITELLM_CHAT_MODEL", "openai/x")
    assert main() == 0
    (server,) = no_gunicorn
    assert server.llm.configured and server.llm.config.chat_model == "openai/x"
    assert "No language model is configured" not in caplog.text


def test_unconfigured_llm_warns_at_start_up_but_serves(caplog, no_gunicorn):
    assert main() == 0
    (server,) = no_gunicorn
    assert server.llm.configured is False
    assert "LITELLM_CHAT_MODEL" in caplog.text


def test_log_handlers_mask_secrets_from_every_logger(monkeypatch):
    """The filter sits on the handler, so modules that never called protect() are covered too."""
    import io
    import logging

    from director.llm.redact import register_secret

    buffer = io.StringIO()
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [logging.StreamHandler(buffer)])
    monkeypatch.setattr(root, "level", root.level)
    server_module.configure_logging("info")
    register_secret("tok-registered-0123456789")
    unprotected = logging.getLogger("director.entrypoint.some_module")
    unprotected.error("auth token tok-registered-0123456789 and key sk-ant-abcdef0123456789 seen")
    try:
        raise RuntimeError("provider said: invalid key sk-proj-ZYXWVUT98765")
    except RuntimeError:
        unprotected.exception("call failed")
    logged = buffer.getvalue()
    assert "call failed" in logged and "RuntimeError" in logged
    for secret in ("tok-registered-0123456789", "sk-ant-abcdef0123456789", "sk-proj-ZYXWVUT98765"):
        assert secret not in logged


@pytest.mark.parametrize(
    ("variable", "value", "accepted"),
    [
        ("DIRECTOR_WEB_TIMEOUT_S", "soon", "seconds"),
        ("DIRECTOR_ALLOW_PRIVATE_URLS", "perhaps", "true or false"),
    ],
)
def test_bad_agent_setting_fails_at_start_up_naming_the_variable(
    monkeypatch, caplog, no_gunicorn, variable, value, accepted
):
    monkeypatch.setenv(variable, value)
    assert main() == 2
    assert no_gunicorn == []
    assert variable in caplog.text and accepted in caplog.text


def test_port_in_use_fails_with_one_line_before_gunicorn(monkeypatch, caplog, no_gunicorn):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setenv("SERVER_PORT", str(taken.getsockname()[1]))
        assert main() == 2
    assert no_gunicorn == []
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "already in use" in errors[0] and "SERVER_PORT" in errors[0]


def test_host_that_is_not_this_machine_fails_naming_server_host(monkeypatch, caplog, no_gunicorn):
    monkeypatch.setenv("SERVER_HOST", "192.0.2.1")  # TEST-NET-1: never assigned to a real machine
    assert main() == 2
    assert no_gunicorn == []
    assert "SERVER_HOST" in caplog.text and "not an address of this machine" in caplog.text


def test_free_port_starts(monkeypatch, no_gunicorn):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("SERVER_PORT", str(port))
    assert main() == 0 and len(no_gunicorn) == 1


@pytest.mark.parametrize("value", ["http://queue.test:6379", "queue.test:6379", "redis:/nothing"])
def test_message_queue_must_be_a_redis_url_and_its_value_is_not_echoed(monkeypatch, value):
    monkeypatch.setenv("DIRECTOR_MESSAGE_QUEUE", value)
    with pytest.raises(ConfigError) as info:
        load_server_settings(_env_file=None)
    assert info.value.variable == "DIRECTOR_MESSAGE_QUEUE"
    assert value not in info.value.message  # a URL may carry a password


def test_blank_message_queue_means_a_single_process(monkeypatch):
    monkeypatch.setenv("DIRECTOR_MESSAGE_QUEUE", " ")
    assert load_server_settings(_env_file=None).message_queue is None


def test_unreachable_message_queue_fails_with_one_line_and_no_password(monkeypatch, caplog, no_gunicorn):
    from tests.fakes.server_process import free_port

    url = f"redis://:hunter2-queue-secret@127.0.0.1:{free_port()}/0"  # nothing listens there
    monkeypatch.setenv("DIRECTOR_MESSAGE_QUEUE", url)
    assert main() == 2
    assert no_gunicorn == []
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and errors[0].startswith("DIRECTOR_MESSAGE_QUEUE")
    assert "cannot reach Redis" in errors[0] and "hunter2-queue-secret" not in caplog.text


def test_reachable_message_queue_starts(monkeypatch, no_gunicorn):
    from tests.fakes.redis_server import start_redis_server

    redis = start_redis_server()
    try:
        monkeypatch.setenv("DIRECTOR_MESSAGE_QUEUE", redis.url)
        assert main() == 0 and no_gunicorn[0].settings.message_queue_url == redis.url
    finally:
        redis.cleanup()


def test_without_a_message_queue_the_server_is_a_single_process(make_server):
    """`make run` stays what it was: Socket.IO's in-memory manager, no Redis client, no listener."""
    import socketio

    server = make_server()
    assert type(server.socketio.server.manager) is socketio.Manager
    assert server.app.test_client().get("/health").json["message_queue"] == "none"


def test_a_litellm_proxy_model_without_the_proxys_url_refuses_to_start(monkeypatch, caplog, no_gunicorn):
    """LiteLLM would send the proxy's key to OpenAI's public URL instead: one line, exit code 2."""
    for name in ("LITELLM_API_BASE", "LITELLM_PROXY_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LITELLM_CHAT_MODEL", "litellm_proxy/team-gpt")
    monkeypatch.setenv("LITELLM_API_KEY", "sk-proxy-master-key")
    assert main() == 2
    assert no_gunicorn == []
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "LITELLM_API_BASE" in errors[0] and "LITELLM_PROXY_API_BASE" in errors[0]
    assert "\n" not in errors[0] and "sk-proxy-master-key" not in caplog.text
