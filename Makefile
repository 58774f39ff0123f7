# oncall-copilot: build, test, and measure against the performance targets.
#
#   make build   the binary, in bin/
#   make test    the whole test suite (scripts/test.sh: vet, gofmt, go test, with Redis)
#   make bench   the Go benchmarks and the load command, then one table:
#                figure, target, measured, baseline, ratio (see BENCHMARKS.md)
#
# make bench needs a Redis (REDIS_URL, else 127.0.0.1:6379/15, started here
# when redis-server is installed) and about 1.2 GB of disk under BENCH_DIR
# for generated traces, which later runs reuse. BENCH_FLAGS=-quick makes a
# short smoke run.

SHELL       := /bin/bash
.SHELLFLAGS := -o pipefail -c

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BENCH_DIR ?= $(or $(TMPDIR),/tmp)/oncall-bench
BENCH_FLAGS ?=
export REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: build test bench bench-go redis

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/oncall-copilot ./cmd/oncall-copilot

test:
	./scripts/test.sh

# A local redis-server for the benchmarks when none answers.
redis:
	@if ! redis-cli -u "$(REDIS_URL)" ping >/dev/null 2>&1; then \
		if command -v redis-server >/dev/null 2>&1; then \
			echo "bench: starting redis-server on 127.0.0.1:6379"; \
			redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null; \
			for i in $$(seq 1 50); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.1; done; \
		else \
			echo "bench: no Redis at $(REDIS_URL) and no redis-server: the Redis figures will say so"; \
		fi; \
	fi

# The Go benchmarks, one package at a time so they do not share the two
# cores; their output feeds the table, which takes the median of the three
# runs of the short ones.
bench-go: redis
	@mkdir -p $(BENCH_DIR)
	$(GO) test -run '^$$' -bench '^Benchmark(MarshalBaseline|Analyze)$$' -benchtime 1s -count 3 ./analysis | tee $(BENCH_DIR)/go-bench.txt
	$(GO) test -run '^$$' -bench '^Benchmark(TriageOverhead|PromptAtVolume)$$' -benchtime 1s -count 3 ./triage | tee -a $(BENCH_DIR)/go-bench.txt
	$(GO) test -run '^$$' -bench '^BenchmarkDecodeLines' -benchtime 1s -count 3 ./tracesource/jsonl | tee -a $(BENCH_DIR)/go-bench.txt
	$(GO) test -run '^$$' -bench '^Benchmark(Webhook|DecodeAlertmanagerPayload)$$' -benchtime 1s -count 3 ./alerts | tee -a $(BENCH_DIR)/go-bench.txt
	$(GO) test -run '^$$' -bench '^BenchmarkWebhookToSlackParent' -benchtime 1x ./cmd/bench | tee -a $(BENCH_DIR)/go-bench.txt

bench: bench-go
	$(GO) run ./cmd/bench -go $(BENCH_DIR)/go-bench.txt -work-dir $(BENCH_DIR) -markdown $(BENCH_DIR)/table.md $(BENCH_FLAGS)
	@echo "(Markdown table in $(BENCH_DIR)/table.md)"
