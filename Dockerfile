# The console and the dev cluster, from one slim image: the locked runtime dependencies (requirements/runtime.txt,
# hashes checked) and the console's own wheel, built in a first stage. It runs as a numeric non-root user, so that
# Kubernetes' runAsNonRoot can verify it.
FROM python:3.11-slim AS wheel
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY app ./app
COPY templates ./templates
COPY static ./static
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements/runtime.txt /tmp/runtime.txt
RUN pip install --require-hashes -r /tmp/runtime.txt \
    && rm /tmp/runtime.txt \
    && useradd --create-home --uid 10001 --user-group console \
    && mkdir /data && chown 10001:10001 /data
COPY --from=wheel /wheels /wheels
RUN pip install --no-deps /wheels/*.whl && rm -rf /wheels
WORKDIR /data
USER 10001
EXPOSE 8000 8001 8080
# Liveness only: a cluster that is down must not get the console restarted (compose checks /readyz for that).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/livez', timeout=2)"]
# Users sign in with their own tokens (--auth token): a console reachable from elsewhere never acts as itself.
CMD ["python", "-m", "app.cli", "serve", "--host", "0.0.0.0", "--port", "8000", "--auth", "token"]
