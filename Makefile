# One virtual environment, created on first use with the exact pins of constraints.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# moto's S3 server for the object-store tests, in a venv of its own (its botocore pins python-dateutil below ours).
S3_SERVER := build/s3-server/bin/moto_server
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup s3-server test test-fast demo lint proto bench default-model export experiments clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[client,serve,milvus,train,dev,triton,milvus-server,fbx,otel,web,s3]"
	@# bpy's wheels carry a cp39 tag in their WHEEL file although built for 3.11 only; pip check calls that "not
	@# supported on this platform". Every other finding still fails setup.
	@problems="$$($(BIN)/python -m pip check 2>&1 | grep -v -e '^No broken requirements found' \
		-e '^bpy [0-9.]* is not supported on this platform$$')"; if [ -n "$$problems" ]; then echo "$$problems"; exit 1; fi
	touch $(STAMP)

test: $(STAMP) $(S3_SERVER)
	$(BIN)/python -m pytest -q tests

s3-server: $(S3_SERVER)

$(S3_SERVER): constraints-s3-server.txt
	test -x build/s3-server/bin/python || $(PYTHON) -m venv build/s3-server
	build/s3-server/bin/python -m pip install --quiet -r constraints-s3-server.txt
	touch $(S3_SERVER)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q tests -m "not triton and not milvus_server and not slow"

demo: $(STAMP)
	$(BIN)/motion-retrieval demo

# ruff, then the import contracts of pyproject.toml [tool.importlinter] (layers, no torch in the serving contract and
# the readers, no cycles; deferred imports count): docs/ARCHITECTURE.md.
lint: $(STAMP)
	$(BIN)/ruff check motion_retrieval server milvus_plugin web tests benchmarks experiments
	$(BIN)/lint-imports --no-cache

# Regenerate the gRPC code from proto/ (committed; tests/test_proto_drift.py fails when it is stale).
proto: $(STAMP)
	$(BIN)/python -m motion_retrieval_server.api.generate

# Train the shipped default model on the procedural corpus (both dialects), then export it.
default-model: $(STAMP)
	$(BIN)/python -m experiments.default_model

# Rebuild model_repository/ from the shipped default run (model.pt files, configs, description: the golden files).
export: $(STAMP)
	$(BIN)/motion-retrieval export --out model_repository

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all

experiments: $(STAMP)
	$(BIN)/python -m experiments.paper_table

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
