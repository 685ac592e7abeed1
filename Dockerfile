# One image for every Herald process: the command picks it (`herald run persister`, `herald run api`, ...).
# Not built in CI here (no container engine on the CI machine): tests/unit/deploy/test_dockerfile.py checks
# its properties and the Helm chart in deploy/helm/herald runs it. Build it from the repository root:
#   docker build -t herald:0.1.0 .
ARG PYTHON_IMAGE=python:3.11-slim

# Builder: the exact versions CI tested, each checked against its hash in requirements.lock, in a venv
# that the runtime stage copies whole. Compilers live here only, for a dependency without a wheel.
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/herald/venv
ENV PATH=/opt/herald/venv/bin:$PATH
COPY requirements.lock /opt/herald/requirements.lock
RUN pip install --require-hashes -r /opt/herald/requirements.lock
# Herald itself on top without resolving anything again (as `make setup` does). Editable, at the path the
# runtime stage uses: the Alembic migrations are read from the source tree (sinks/postgres/migrations is
# not a package, so a wheel would leave it out).
WORKDIR /opt/herald/app
COPY pyproject.toml README.md ./
COPY streams ./streams
COPY schemas ./schemas
COPY processors ./processors
COPY sinks ./sinks
COPY api ./api
COPY cli ./cli
RUN pip install --no-deps -e /opt/herald/app \
    && python -m compileall -q /opt/herald/app

# Runtime: the slim base, the venv and the code, nothing to compile with, a user that is not root.
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/herald/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HERALD_API_HOST=0.0.0.0
RUN groupadd --system --gid 10001 herald \
    && useradd --system --uid 10001 --gid herald --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin herald
COPY --from=builder /opt/herald/venv /opt/herald/venv
COPY --from=builder /opt/herald/app /opt/herald/app
WORKDIR /opt/herald/app
USER 10001:10001
# The API (HERALD_API_PORT) and each processor's /metrics, /healthz and /readyz (HERALD_METRICS_PORT).
EXPOSE 8080 9301-9309
# No HEALTHCHECK: the orchestrator probes /healthz and /readyz on the process's port.
ENTRYPOINT ["herald"]
CMD ["run", "api"]
