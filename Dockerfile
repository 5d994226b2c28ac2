# One image for every role: web (`baas serve`: uvicorn workers for HTTP and WebSocket),
# Celery worker and beat. The command picks the role (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    BAAS_DATA_DIR=/data \
    STATIC_ROOT=/app/static-collected

RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 baas

WORKDIR /app
COPY pyproject.toml README.md ./
COPY baas ./baas
COPY projects ./projects
COPY realtime ./realtime
COPY functions ./functions
COPY dashboard ./dashboard
COPY manage.py ./
RUN pip install --no-cache-dir . \
 && SECRET_KEY=build-only-collectstatic python manage.py collectstatic --noinput \
 && mkdir -p /data && chown baas /data

USER baas
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 CMD curl -fsS http://127.0.0.1:8000/healthz || exit 1
CMD ["baas", "serve", "--host", "0.0.0.0", "--port", "8000"]
