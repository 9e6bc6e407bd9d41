# syntax=docker/dockerfile:1
# deployworker's images, from one Dockerfile:
#   docker build .                 the production image (default, last stage): the worker
#                                  and its runtime dependencies, no emulator, no compiler
#   docker build --target local .  local mode (`deployworker local`): adds moto and Flask
# Both build for linux/amd64 and linux/arm64 (every dependency ships wheels for both;
# tests/test_platforms.py checks it against PyPI):
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" \
#     --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
#     --build-arg SOURCE=https://github.com/OWNER/REPO .
# The base is pinned by digest (a multi-platform index); Renovate (renovate.json) proposes
# each new digest of the 3.11 slim-bookworm tag, so OS fixes arrive as reviewed changes.

FROM python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91 AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# --- the wheel --------------------------------------------------------------------------
FROM base AS wheel
WORKDIR /src
COPY pyproject.toml README.md CHANGELOG.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

# --- the virtualenvs: the wheel with the pinned dependencies ----------------------------
FROM base AS venv
COPY constraints.txt /tmp/constraints.txt
COPY --from=wheel /dist /tmp/dist
RUN python -m venv /opt/deployworker \
 && /opt/deployworker/bin/pip install --no-cache-dir -c /tmp/constraints.txt /tmp/dist/deployworker-*.whl

FROM venv AS venv-local
RUN /opt/deployworker/bin/pip install --no-cache-dir -c /tmp/constraints.txt \
      "$(ls /tmp/dist/deployworker-*.whl)[local]"

# --- what both images share: an unprivileged user, labels, the health check --------------
FROM base AS runtime
ARG VERSION=0.0.0+unknown
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=unknown
LABEL org.opencontainers.image.title="deployworker" \
      org.opencontainers.image.description="Message-driven deploy worker for AWS ECS" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim-bookworm"
ENV PATH=/opt/deployworker/bin:$PATH \
    DEPLOYWORKER_METRICS_HOST=0.0.0.0 \
    DEPLOYWORKER_METRICS_PORT=9102 \
    DEPLOYWORKER_ALLOWLIST_PATH=/etc/deployworker/allowlist.yaml
RUN groupadd --system --gid 10001 deployworker \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin deployworker
COPY config/allowlist.yaml /etc/deployworker/allowlist.yaml
EXPOSE 9102
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9102/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["deployworker"]

# --- local mode: the emulated AWS endpoint (moto, Flask) ----------------------------------
FROM runtime AS local
COPY --from=venv-local /opt/deployworker /opt/deployworker
USER 10001:10001
CMD ["local"]

# --- production (the default target): no emulator, no compiler, no root -----------------
FROM runtime AS production
COPY --from=venv /opt/deployworker /opt/deployworker
USER 10001:10001
CMD ["run"]
