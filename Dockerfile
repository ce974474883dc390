# One Dockerfile, two images: `--target kv` (the key-value service) and `--target testclient`.
# They share every layer but the last few, so building both costs one `pip install`; each has
# its own command, ports and health check, which is what `docker run IMAGE` should get.
#
#   docker build --target kv -t kv .            (or: docker compose build)
#
# PYTHON_IMAGE is the base of both stages. It must provide python3 with venv; CI on a machine
# without a registry passes a stand-in made from Debian's packages (.ci/docker-setup.sh).
ARG PYTHON_IMAGE=python:3.11-slim

# --- build: a virtual environment with the package and its runtime dependencies only ---------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# A regular (not editable) install: the runtime stage copies /opt/venv and never sees /src.
RUN /opt/venv/bin/pip install . \
    && /opt/venv/bin/pip uninstall --yes pip setuptools

# --- runtime: the venv, a non-root user, nothing else -----------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin kv \
    && mkdir /data \
    && chown kv:kv /data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    KV_DATA_DIR=/data
WORKDIR /data
USER kv

# --- the key-value service ---------------------------------------------------------------------
FROM runtime AS kv
EXPOSE 8080 50051 6379
# A fresh named volume mounted here takes the directory's owner (kv), so the store can write.
VOLUME ["/data"]
# Probes every transport TRANSPORT serves, on the ports the server reads from its environment,
# each through the probe its package declares (kv/healthcheck.py).
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-m", "kv.healthcheck"]
# Exec form: kv-server is PID 1 and receives SIGTERM itself, drains and exits 0. It spawns no
# children, so it needs no init process to reap them.
CMD ["kv-server"]

# --- the test-client service -------------------------------------------------------------------
FROM runtime AS testclient
EXPOSE 8081
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('TESTCLIENT_PORT', '8081'), timeout=3)"]
CMD ["kv-testclient"]
