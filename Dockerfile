# syntax=docker/dockerfile:1
# deployworker: build a wheel, then install it with the pinned dependencies into a slim
# runtime that has no compiler, no pip cache and no root process.

FROM python:3.11.7-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

FROM python:3.11.7-slim-bookworm
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="deployworker" \
      org.opencontainers.image.description="Message-driven deploy worker for AWS ECS" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/deployworker/deployworker"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/deployworker/bin:$PATH \
    DEPLOYWORKER_METRICS_HOST=0.0.0.0 \
    DEPLOYWORKER_METRICS_PORT=9102 \
    DEPLOYWORKER_ALLOWLIST_PATH=/etc/deployworker/allowlist.yaml

COPY constraints.txt /tmp/constraints.txt
COPY --from=build /dist /tmp/dist
# The same step the test suite repeats (tests/test_packaging.py): the wheel, with its
# `local` extra so `docker run IMAGE local` works, constrained to the pinned versions.
RUN python -m venv /opt/deployworker \
 && /opt/deployworker/bin/pip install --no-cache-dir -c /tmp/constraints.txt \
      "$(ls /tmp/dist/deployworker-*.whl)[local]" \
 && rm -rf /tmp/dist /tmp/constraints.txt \
 && groupadd --system --gid 10001 deployworker \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin deployworker

COPY config/allowlist.yaml /etc/deployworker/allowlist.yaml

USER 10001:10001
EXPOSE 9102
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9102/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["deployworker"]
CMD ["run"]
