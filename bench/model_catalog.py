"""``GET /model`` through the real Flask app: the first call (builds the catalog from LiteLLM's
offline map, LiteLLM already imported as the server's warm-up does) and the warm p50 / p95 of a few
typical requests (target: <= 20 ms warm).

    .venv/bin/python bench/model_catalog.py [--requests 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ["LITELLM_OFFLINE_MODE"] = "true"
os.environ["DIRECTOR_ENV_FILE"] = "/nonexistent/.env"
os.environ.setdefault("LITELLM_MODELS", "anthropic/claude-sonnet-4-5,ollama_chat/llama3.1")

from director.db.sqlite import SQLiteDB  # noqa: E402
from director.entrypoint.api.app import create_app  # noqa: E402
from director.entrypoint.api.settings import load_server_settings  # noqa: E402
from director.llm.config import LiteLLMConfig  # noqa: E402
from director.llm.litellm import LiteLLM, ensure_litellm  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    count = parser.parse_args().requests
    ensure_litellm()
    workdir = Path(tempfile.mkdtemp(prefix="bench-catalog-"))
    llm = LiteLLM(LiteLLMConfig(_env_file=None, chat_model="openai/gpt-4o", api_key="sk-bench"))
    db = SQLiteDB(workdir / "director.db")
    app, _ = create_app(load_server_settings(_env_file=None), llm=llm, db=db, agents=[], frontend_dir=workdir)
    http = app.test_client()

    started = time.perf_counter()
    first = http.get("/model")
    first_ms = (time.perf_counter() - started) * 1000
    print(f"first GET /model (builds the catalog): {first_ms:8.1f} ms, {len(first.json)} models")
    for path in ("/model", "/model?q=claude", "/model?allowed=true", "/model?q=gpt%204o"):
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            response = http.get(path)
            samples.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        samples.sort()
        p95 = samples[int(len(samples) * 0.95) - 1]
        print(
            f"warm GET {path:22s} p50 {statistics.median(samples):7.2f} ms  p95 {p95:7.2f} ms  "
            f"({len(response.get_data())} bytes)"
        )
    print("target: <= 20 ms warm")
    db.close()


if __name__ == "__main__":
    main()
