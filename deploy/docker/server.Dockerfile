# syntax=docker/dockerfile:1.7
# The motion-retrieval gRPC service: `docker build -f deploy/docker/server.Dockerfile -t motion-retrieval/server .`
# Multi-stage: the build stage resolves the pinned dependencies into a venv; the runtime stage is slim, has no
# compilers, and runs as a non-root user. Only the extras the service needs: [serve] (gRPC service, Triton client,
# tokenizers, the CPU torch of the in-process backend and of joints -> features), [milvus] (SearchService) and [s3]
# (the ingest Job reading s3:// prefixes). No transformers, text model, matplotlib or training code dependencies: the
# model arrives as an exported repository.
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
RUN /opt/venv/bin/pip install --extra-index-url https://download.pytorch.org/whl/cpu -c constraints.txt ".[serve,milvus,otel,s3]" \
 && /opt/venv/bin/pip check

FROM ${PYTHON_IMAGE} AS runtime
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HOME=/tmp \
    MOTION_RETRIEVAL_MODEL_REPOSITORY=/models \
    MOTION_RETRIEVAL_PORT=50051 \
    MOTION_RETRIEVAL_METRICS_PORT=9090
USER 10001:10001
EXPOSE 50051 9090
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 CMD ["python", "-m", "motion_retrieval_server.healthcheck"]
ENTRYPOINT ["motion-retrieval"]
CMD ["serve"]
