# `make test` is the whole suite: lint, types, and tests with coverage.
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: test lint typecheck pytest test-docker run codegen clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

test: lint typecheck pytest

# lint-imports: the contracts of [tool.importlinter] in pyproject.toml (the test client
# imports only kv.v1 of the server; the domain no framework; adapters and transports
# not each other).
lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest --cov --cov-report=term $(PYTEST_ARGS)

# The Docker stage: builds both images, runs docker-compose.yml with TRANSPORT=http and then grpc,
# drives each stack from the host (curl, grpcurl) and removes it. Needs a running Docker engine;
# without a registry, first: export PYTHON_IMAGE=$$(.ci/docker-setup.sh)  (README, Docker).
test-docker: $(STAMP)
	KV_DOCKER_TESTS=1 $(BIN)/pytest -v -m docker --no-cov tests/docker $(PYTEST_ARGS)

run: $(STAMP)
	$(BIN)/kv-server

# The one command that makes src/kv/v1/ from the proto; its output is committed,
# and tests/grpc/test_codegen.py fails when it is out of date.
codegen: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -I proto --python_out=src --pyi_out=src --grpc_python_out=src proto/kv/v1/kv.proto

clean:
	rm -rf $(VENV) build dist .coverage .mypy_cache .ruff_cache .pytest_cache .import_linter_cache src/*.egg-info

# Benchmarks (not part of `make test`; a few minutes): kv-server against bare aiohttp/grpc.aio
# and a local etcd, on loopback; writes docs/benchmarks.md and docs/benchmarks.png.
.PHONY: bench
bench: $(STAMP)
	command -v wrk >/dev/null && command -v etcd >/dev/null && command -v h2load >/dev/null || \
		{ apt-get update -qq && apt-get install -y -qq wrk etcd-server nghttp2-client; }
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# Durable (KV_STORE=sqlite) against in-memory PUT throughput at 1, 16 and 64 clients, one run
# (~30 s); prints a Markdown table (docs/benchmarks.md, "Durable store").
.PHONY: bench-durable
bench-durable: $(STAMP)
	command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python -m bench.durable_put $(BENCH_DURABLE_ARGS)

# Listing 100-key pages from 1,000,000 keys, memory and sqlite stores, in-process (~30 s);
# prints a Markdown table (docs/benchmarks.md, "Listing").
.PHONY: bench-listing
bench-listing: $(STAMP)
	$(BIN)/python -m bench.listing $(BENCH_LISTING_ARGS)

# docs/console-*.png: the web console at desktop and phone width, taken in the system Chromium
# against a kv-server it starts with sample entries (~10 s).
.PHONY: screenshots
screenshots: $(STAMP)
	$(BIN)/python -m tests.browser.screenshots
