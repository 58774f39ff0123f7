#!/usr/bin/env bash
# Runs the full load test: 10,000 alerts across 500 groups through the
# webhooks of two serve replicas sharing a private redis-server, and writes
# the figures to BENCHMARKS-load.md. Needs redis-server on PATH.
# Override the load with ONCALL_LOAD_ALERTS, ONCALL_LOAD_GROUPS,
# ONCALL_LOAD_REPLICAS, ONCALL_LOAD_WORKERS and ONCALL_LOAD_SENDERS.
set -euo pipefail
cd "$(dirname "$0")/.."
export ONCALL_LOAD_ALERTS="${ONCALL_LOAD_ALERTS:-10000}"
export ONCALL_LOAD_GROUPS="${ONCALL_LOAD_GROUPS:-500}"
export ONCALL_LOAD_REPORT="${ONCALL_LOAD_REPORT:-$PWD/BENCHMARKS-load.md}"
go test -run '^TestLoad$' -count=1 -timeout 30m -v ./cmd/oncall-copilot | grep -E '^(=== RUN|--- |ok|FAIL|panic)|load_test.go'
echo "loadtest: figures written to $ONCALL_LOAD_REPORT"
