# `make test` is the whole suite: lint, types, and tests with coverage.
# `make test-fast` is the inner loop: lint, types and the tests that need no real server process
# (docs/testing.md).
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

# The test tiers are pytest markers (pyproject.toml; tests/conftest.py marks each tier's directory).
# SERIAL: the tiers that measure memory or time (hostile) or start 3-member etcd clusters (etcd):
# they run after the rest, alone, so that no other test shares the cores with them.
FAST   := not (e2e or etcd or hostile or browser or docker or slow)
SERIAL := hostile or etcd
# pytest-xdist workers: most tests wait on sockets and timers, not on the CPU, so more workers
# than cores still shorten a run. Fewer for `make test`, whose tests start real servers.
FAST_JOBS ?= 8
JOBS      ?= 4

.PHONY: test test-fast lint typecheck pytest test-docker run codegen clean

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

# Two runs, one coverage report: everything but SERIAL on JOBS workers, then SERIAL alone,
# appending to the same coverage data. Exit status 5 (nothing selected, e.g. under a
# PYTEST_ARGS='-k ...' that matches one run's tests only) is not a failure.
pytest: $(STAMP)
	$(BIN)/pytest -n $(JOBS) -m 'not ($(SERIAL) or docker)' --cov --cov-report= $(PYTEST_ARGS) \
		|| [ $$? -eq 5 ]
	$(BIN)/pytest -m '$(SERIAL)' --cov --cov-append --cov-report=term $(PYTEST_ARGS) \
		|| [ $$? -eq 5 ]

# Lint and types first: seconds, and the first thing a change breaks.
test-fast: lint typecheck
	$(BIN)/pytest -n $(FAST_JOBS) -m '$(FAST)' --no-cov -q $(PYTEST_ARGS)

# The Docker stage: builds both images, runs docker-compose.yml with TRANSPORT=http and then grpc,
# drives each stack from the host (curl, grpcurl) and removes it. Needs a running Docker engine;
# without a registry, first: export PYTHON_IMAGE=$$(.ci/docker-setup.sh)  (README, Docker).
# It also runs docker-compose.cluster.yml (3 etcd members, 2 kv replicas; docs/etcd.md): without
# a registry, also: export ETCD_IMAGE=$$(.ci/etcd-image.sh)
test-docker: $(STAMP)
	KV_DOCKER_TESTS=1 $(BIN)/pytest -v -m docker --no-cov tests/docker $(PYTEST_ARGS)

run: $(STAMP)
	$(BIN)/kv-server

# The commands that make src/kv/v1/ and src/kv/etcdpb/ (etcd's API, vendored) from the protos;
# their output is committed, and tests/codegen/test_codegen.py
# fail when it is out of date.
codegen: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -I proto --python_out=src --pyi_out=src --grpc_python_out=src proto/kv/v1/kv.proto
	$(BIN)/python -m grpc_tools.protoc -I proto --python_out=src --pyi_out=src --grpc_python_out=src proto/kv/etcdpb/kv.proto proto/kv/etcdpb/rpc.proto

clean:
	rm -rf $(VENV) build dist .coverage .mypy_cache .ruff_cache .pytest_cache .import_linter_cache src/*.egg-info

# Benchmarks (not part of `make test`): every speed target as a ratio of two loads of one run,
# kv-server against redis-server, the bare ceilings (bench/ceiling_*.py) and etcd, also with TLS
# and an auth file on; writes docs/benchmarks.md's first section and docs/benchmarks.png.
# `make bench` (8 s loads, about 6 min, then the etcd cluster's own section); `make bench-quick`:
# the same rows with 2 s loads (under 2 min).
BENCH_TOOLS := wrk h2load redis-server redis-benchmark etcd openssl
BENCH_PACKAGES := wrk nghttp2-client redis-server redis-tools etcd-server openssl

.PHONY: bench bench-quick bench-tools
bench-tools: $(STAMP)
	missing=; for tool in $(BENCH_TOOLS); do command -v $$tool >/dev/null || missing=1; done; \
		[ -z "$$missing" ] || { apt-get update -qq && apt-get install -y -qq $(BENCH_PACKAGES); }
	$(BIN)/python -m pip install --quiet -e '.[bench]'

bench: bench-tools
	$(BIN)/python -m bench.run $(BENCH_ARGS)
	$(BIN)/python -m bench.etcd_cluster --write $(BENCH_ETCD_ARGS)

bench-quick: bench-tools
	$(BIN)/python -m bench.run --quick $(BENCH_ARGS)

# kv over a 3-member etcd cluster (1 and 2 replicas) against etcd's JSON gateway, GET and PUT,
# one run (~40 s); writes its section of docs/benchmarks.md (docs/etcd.md quotes it).
.PHONY: bench-etcd
bench-etcd: $(STAMP)
	command -v wrk >/dev/null && command -v etcd >/dev/null || \
		{ apt-get update -qq && apt-get install -y -qq wrk etcd-server; }
	$(BIN)/python -m bench.etcd_cluster --write $(BENCH_ETCD_ARGS)

# What an auth file costs a GET over HTTP (wrk) and RESP (redis-benchmark -a): kv-server with
# and without one, in turns, in one run (~2 min); prints docs/benchmarks.md's "Access control".
.PHONY: bench-auth
bench-auth: $(STAMP)
	command -v wrk >/dev/null && command -v redis-benchmark >/dev/null || \
		{ apt-get update -qq && apt-get install -y -qq wrk redis-tools; }
	$(BIN)/python -m bench.auth $(BENCH_AUTH_ARGS)

# kv-server over RESP (memory, sqlite) against redis-server (no persistence, appendfsync
# always) with redis-benchmark -t set,get, 50 clients, pipelining off and -P 16, in one run
# (~3 min); prints a Markdown table (docs/benchmarks.md, "RESP").
.PHONY: bench-resp
bench-resp: $(STAMP)
	command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null || \
		{ apt-get update -qq && apt-get install -y -qq redis-server redis-tools; }
	$(BIN)/python -m bench.resp $(BENCH_RESP_ARGS)

# What TLS costs: GET over HTTP (wrk), gRPC (h2load) and RESP (redis-benchmark) at kv-server
# with TLS off and on, in one run (~1 min); prints a Markdown table (docs/benchmarks.md, "TLS").
.PHONY: bench-tls
bench-tls: $(STAMP)
	$(BIN)/python -m bench.tls $(BENCH_TLS_ARGS)

# Durable (KV_STORE=sqlite) against in-memory PUT throughput at 1, 16 and 64 clients, one run
# (~30 s); prints a Markdown table (docs/benchmarks.md, "Durable store").
.PHONY: bench-durable
bench-durable: $(STAMP)
	command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python -m bench.durable_put $(BENCH_DURABLE_ARGS)

# A 2-key transfer (POST /v1/txn) against two single PUTs over HTTP, on memory, sqlite and a
# 3-member etcd cluster, one run (~1 min); prints a Markdown table (docs/benchmarks.md,
# "Transactions").
.PHONY: bench-txn
bench-txn: $(STAMP)
	command -v etcd >/dev/null || { apt-get update -qq && apt-get install -y -qq etcd-server; }
	$(BIN)/python -m bench.transactions $(BENCH_TXN_ARGS)

# Listing 100-key pages from 1,000,000 keys, memory and sqlite stores, in-process (~30 s);
# prints a Markdown table (docs/benchmarks.md, "Listing").
# 1,000 watchers under write load: write throughput with and without them, and the latency from
# a write's acknowledgement to its event (~1 min); prints a Markdown table (docs/watch.md).
.PHONY: bench-watch
bench-watch: $(STAMP)
	$(BIN)/python -m bench.watch $(BENCH_WATCH_ARGS)

# Watch over etcd: a 3-member cluster, two replicas, 100 watchers on one and 500 puts through the
# other (~20 s); prints a Markdown table (docs/etcd.md, "Watch").
.PHONY: bench-etcd-watch
bench-etcd-watch: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.etcd_watch $(BENCH_ETCD_WATCH_ARGS)

.PHONY: bench-listing
bench-listing: $(STAMP)
	$(BIN)/python -m bench.listing $(BENCH_LISTING_ARGS)

# Schemathesis at length against a real kv-server, from its GET /openapi.json (tests/fuzz):
# 1,000 examples per operation, every check; prints the requests per operation. `make test`
# runs the same test with fewer examples (KV_FUZZ_EXAMPLES, default 150).
.PHONY: fuzz
fuzz: $(STAMP)
	KV_FUZZ_EXAMPLES=1000 KV_FUZZ_TIMEOUT=3000 $(BIN)/pytest tests/fuzz -s --no-cov -p no:cacheprovider $(PYTEST_ARGS)

# docs/console-*.png: the web console at desktop and phone width, taken in the system Chromium
# against a kv-server it starts with sample entries (~10 s).
.PHONY: screenshots
screenshots: $(STAMP)
	$(BIN)/python -m tests.browser.screenshots
