# One image for every Director container of deploy/docker-compose.yml: the servers run
# `python -m director.entrypoint.api.server` (what `make run` runs); the nginx container runs the
# same renderer and deploy/nginx.conf that `make cluster` uses. Not built in CI: no Docker there.

FROM node:20-bookworm-slim AS frontend
WORKDIR /app/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY frontend/ ./
RUN npm run build

FROM python:3.11-slim-bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY backend/ backend/
RUN pip install --no-cache-dir --no-deps -e backend
COPY deploy/ deploy/
COPY --from=frontend /app/frontend/dist frontend/dist
ENV SERVER_HOST=0.0.0.0 \
    SERVER_PORT=8000 \
    PYTHONUNBUFFERED=1
EXPOSE 8000
CMD ["python", "-m", "director.entrypoint.api.server"]
