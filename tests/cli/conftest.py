from tests.client.conftest import TOKEN, fake, live_server, module_fake  # noqa: F401 - shared fixtures
