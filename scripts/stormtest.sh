#!/usr/bin/env bash
# Runs the storm load test at Slack's real pace: one new group a second
# into one channel for a minute, then 1,000 new groups into another
# channel with one alert to a quiet channel midway, through two serve
# replicas sharing a private redis-server; writes the figures to
# BENCHMARKS-storm.md. Needs redis-server on PATH. Override with
# ONCALL_STORM_UNIT (Slack's pace, 1s), ONCALL_STORM_GROUPS (60) and
# ONCALL_STORM_BIG (1000).
set -euo pipefail
cd "$(dirname "$0")/.."
export ONCALL_STORM_UNIT="${ONCALL_STORM_UNIT:-1s}"
export ONCALL_STORM_GROUPS="${ONCALL_STORM_GROUPS:-60}"
export ONCALL_STORM_BIG="${ONCALL_STORM_BIG:-1000}"
export ONCALL_STORM_REPORT="${ONCALL_STORM_REPORT:-$PWD/BENCHMARKS-storm.md}"
go test -run '^TestStormLoad$' -count=1 -timeout 20m -v ./cmd/oncall-copilot | grep -E '^(=== RUN|--- |ok|FAIL|panic)|storm_load_test.go' | grep -v 'so far'
echo "stormtest: figures written to $ONCALL_STORM_REPORT"
