# syntax=docker/dockerfile:1.7
# The model repository: exports the shipped model (or the run in RUN_DIR) to TorchScript + config.pbtxt.
#   docker build -f deploy/docker/model.Dockerfile --target model-repository -t motion-retrieval/model-repository .
#       a tiny image holding /model_repository, copied into a volume by the chart's init container
#   docker build -f deploy/docker/model.Dockerfile --target triton -t motion-retrieval/triton .
#       the official Triton image with the repository baked in (chart: modelRepository.source=image)
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
# Triton's libtorch must load what the exporting torch writes (motion_retrieval.json records "torch_version"):
# the chart's pinned release and its libtorch are listed in deploy/helm/motion-retrieval/values.yaml (triton.image).
# Check an export against another torch with `python -m motion_retrieval.export.compat REPO --python OTHER_PYTHON`.
ARG TRITON_IMAGE=nvcr.io/nvidia/tritonserver:26.08-py3

FROM ${PYTHON_IMAGE} AS export
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
ARG RUN_DIR=""
WORKDIR /src
COPY constraints.txt pyproject.toml README.md LICENSE THIRD_PARTY_NOTICES.md ./
COPY LICENSES ./LICENSES
COPY motion_retrieval ./motion_retrieval
COPY milvus_plugin ./milvus_plugin
COPY server ./server
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --extra-index-url https://download.pytorch.org/whl/cpu -c constraints.txt ".[train]"
# Export verifies TorchScript against eager before it writes anything, and writes both config variants: config.pbtxt
# (KIND_CPU) and configs/gpu.pbtxt (KIND_GPU, picked by `tritonserver --model-config-name=gpu`).
RUN /opt/venv/bin/motion-retrieval export ${RUN_DIR:+--run "$RUN_DIR"} --out /model_repository

FROM busybox:1.36 AS model-repository
COPY --from=export --chown=10001:10001 /model_repository /model_repository
USER 10001:10001
CMD ["ls", "-R", "/model_repository"]

FROM ${TRITON_IMAGE} AS triton
COPY --from=export --chown=1000:1000 /model_repository /model_repository
USER 1000:1000
CMD ["tritonserver", "--model-repository=/model_repository"]
