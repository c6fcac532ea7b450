# syntax=docker/dockerfile:1.7
# The search page and its HTTP/JSON API: `docker build -f deploy/docker/web.Dockerfile -t motion-retrieval/web .`
# Only the [web] extra (Starlette, uvicorn, the gRPC client, numpy): no torch, no Milvus client, no model; it talks
# to the gRPC service. Multi-stage like the service image; runs as a non-root user on a read-only root filesystem
# (uploads go to /tmp, an emptyDir in the chart).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY constraints.txt pyproject.toml README.md LICENSE THIRD_PARTY_NOTICES.md ./
COPY LICENSES ./LICENSES
COPY motion_retrieval ./motion_retrieval
COPY milvus_plugin ./milvus_plugin
COPY server ./server
COPY web ./web
RUN /opt/venv/bin/pip install -c constraints.txt ".[web]" \
 && /opt/venv/bin/pip check

FROM ${PYTHON_IMAGE} AS runtime
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=3)"]
ENTRYPOINT ["motion-retrieval"]
CMD ["web", "--host", "0.0.0.0", "--port", "8080"]
