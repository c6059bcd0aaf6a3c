# The two commands that matter: `make run` and `make test`. Both set up whatever is missing first.
SHELL := /bin/bash
PY := .venv/bin/python
STAMPS := .stamps

.PHONY: install prereqs system-deps run cluster dev test test-py test-js proxy-test lint bench clean

install: $(STAMPS)/python $(STAMPS)/frontend

# Python 3.11+ and Node 20+ with npm, checked before anything is set up: one line each on what to install.
prereqs:
	@bash scripts/check-prereqs.sh

# The venv is rebuilt only when a requirements file or the backend's pyproject changes. A development
# checkout gets the test and lint tools too (requirements-dev.txt); a deployment can install only
# requirements.txt, what the server runs.
$(STAMPS)/python: requirements.txt requirements-dev.txt backend/pyproject.toml | prereqs
	@mkdir -p $(STAMPS)
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -e backend
	@touch $@

$(STAMPS)/frontend: | prereqs
$(STAMPS)/frontend: frontend/package.json frontend/package-lock.json $(shell find frontend/src -type f 2>/dev/null) frontend/index.html frontend/vite.config.js backend/director/llm/providers.json
	@mkdir -p $(STAMPS)
	cd frontend && npm ci --no-audit --no-fund --loglevel=error && npm run build
	@touch $@

# System packages the test tiers and `make cluster` drive for real: Chromium (UI), PostgreSQL (DB),
# redis-server and nginx (the cluster). Needs root or sudo.
system-deps:
	@bash scripts/system-deps.sh

run: install
	$(PY) -m director.entrypoint.api.server

# Redis, PostgreSQL, CLUSTER_WORKERS servers (default: one per core) and nginx on SERVER_PORT.
# Ctrl+C stops them all. See README "Deploying for a team".
cluster: install system-deps
	$(PY) -m director.entrypoint.cluster

dev: install
	@echo "Backend on :8000, Vite dev server on :5173 (hot reload, proxied to the backend)"
	@# One Ctrl+C stops both. The backend runs in its own process group (set -m), so the terminal's
	@# SIGINT reaches only Vite; the trap then gives the backend one SIGTERM, its graceful shutdown.
	@# (SIGINT and SIGTERM together made gunicorn's worker crash and leave the server running.)
	@set -m; $(PY) -m director.entrypoint.api.server & backend=$$!; \
	trap 'kill -TERM $$backend 2>/dev/null; wait $$backend' EXIT INT TERM; \
	cd frontend && npm run dev

test: install system-deps
	$(MAKE) test-js
	$(MAKE) test-py

# One worker: in two (pytest -n 2 --dist loadfile, ~7 instead of ~11 minutes) the servers' port runs
# and timing-sensitive browser waits of the two workers collided in fresh-clone runs.
# Everything under the default worker (gevent), then the front door's tests once more under the gthread
# fallback (SERVER_WORKER=gthread), so both keep the guarantees of issue 8.
test-py:
	$(PY) -m pytest
	DIRECTOR_TEST_SERVER_WORKER=gthread $(PY) -m pytest tests/integration/test_edge.py tests/integration/test_server_lifecycle.py

test-js:
	cd frontend && npm test

# The real LiteLLM Proxy against a fake upstream (not part of `make test`: it installs litellm[proxy]
# in its own venv, and the proxy takes about 30 s to start).
proxy-test: install
	test -x .venv-proxy/bin/litellm || (python3 -m venv .venv-proxy && \
		.venv-proxy/bin/pip install -q -r requirements-proxy-test.txt)
	DIRECTOR_LITELLM_PROXY_BIN=.venv-proxy/bin/litellm $(PY) -m pytest tests/integration/test_real_litellm_proxy.py

lint: install
	$(PY) -m ruff check backend tests bench
	$(PY) -m ruff format --check backend tests bench

bench: install
	for f in bench/*.py; do $(PY) $$f || exit 1; done

clean:
	rm -rf .venv .venv-proxy $(STAMPS) frontend/node_modules frontend/dist test-artifacts .cluster
