# Two commands do everything on a fresh Debian bookworm machine:
#   make serve   install dependencies, build, prepare the demo models, serve them
#   make test    the same set-up, then every test
PRESET ?= release
BUILD := build/$(PRESET)
REPOSITORY ?= model_repository
HOST ?= 127.0.0.1
HTTP_PORT ?= 8000
METRICS_PORT ?= 8002
GRPC_PORT ?= 8001
PYTHON := /usr/bin/python3
VENV_PYTHON := .venv/bin/python

.PHONY: deps build models serve test unit unit-asan unit-tsan fuzz-build fuzz fuzz-short e2e deploy-check bench soak clean

FUZZ_SECONDS ?= 600
FUZZ_RUNS ?=
FUZZ_SHORT_SECONDS ?= 10

deps:
	scripts/install-deps

build: deps
	cmake --preset $(PRESET) >/dev/null
	cmake --build --preset $(PRESET) -- -j$$(nproc)

models: deps
	$(PYTHON) scripts/make_models.py --output $(REPOSITORY)

serve: build models
	$(BUILD)/surge serve --model-repository $(REPOSITORY) --host $(HOST) \
	  --http-port $(HTTP_PORT) --metrics-port $(METRICS_PORT) \
	  --grpc-port $(GRPC_PORT)

unit: build models
	ctest --test-dir $(BUILD) --output-on-failure -j2

e2e: build models
	SURGE_BIN=$(BUILD)/surge $(VENV_PYTHON) -m pytest tests/e2e -q -p no:cacheprovider

# Unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer (no libtorch).
unit-asan: deps
	cmake --preset asan >/dev/null
	cmake --build --preset asan --target surge_unit_tests -- -j$$(nproc)
	ctest --test-dir build/asan --output-on-failure -j2

# Unit tests again under ThreadSanitizer (no libtorch).
unit-tsan: deps
	cmake --preset tsan >/dev/null
	cmake --build --preset tsan --target surge_unit_tests -- -j$$(nproc)
	ctest --test-dir build/tsan --output-on-failure -j2

# The libFuzzer targets of tests/fuzz (docs/fuzzing.md): clang, ASan + UBSan.
fuzz-build: deps
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz -- -j$$(nproc)

# Long runs: FUZZ_SECONDS per target (FUZZ_TARGETS: some of them; FUZZ_RUNS:
# stop a target after that many executions).
fuzz: fuzz-build
	FUZZ_RUNS=$(FUZZ_RUNS) tests/fuzz/run.sh build/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The seeds, then a short run of every target, as part of make test.
fuzz-short: fuzz-build
	tests/fuzz/run.sh build/fuzz $(FUZZ_SHORT_SECONDS)

# deploy/: kustomize renders, Kubernetes and CRD schemas, promtool's alert
# unit tests, the dashboard's PromQL (seconds; no cluster needed).
deploy-check: deps
	$(VENV_PYTHON) -m pytest tests/deploy -q -p no:cacheprovider

test: build models unit-asan unit-tsan fuzz-short deploy-check
	ctest --test-dir $(BUILD) --output-on-failure -j2
	SURGE_BIN=$(BUILD)/surge $(VENV_PYTHON) -m pytest tests/e2e -q -p no:cacheprovider

# Everything in docs/benchmarks.md: core, batching, peers, perf_analyzer, plots.
bench: build models
	scripts/install-bench-deps
	bench/run_all.sh

# 30 minutes of mixed traffic (HTTP, gRPC, gRPC streams, OpenAI streaming,
# the Redis gateway, refusals); RSS and descriptors sampled (bench/soak.py).
SOAK_SECONDS ?= 1800
SOAK_WARMUP_SECONDS ?= 300
soak: build models
	SURGE_BIN=$(BUILD)/surge $(VENV_PYTHON) bench/soak.py --duration $(SOAK_SECONDS) --warmup $(SOAK_WARMUP_SECONDS)

clean:
	rm -rf build
