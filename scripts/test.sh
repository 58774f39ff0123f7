#!/usr/bin/env bash
# Runs oncall-copilot's whole test suite. It installs and starts what the
# tests need when missing: a redis-server (used at $REDIS_URL, else
# 127.0.0.1:6379), Debian's prometheus-alertmanager and chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=
apt_install() {
	if [ -z "$apt_updated" ]; then
		as_root apt-get update -qq
		apt_updated=1
	fi
	DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

redis_up() {
	if command -v redis-cli >/dev/null 2>&1; then
		redis-cli -u "${REDIS_URL:-redis://127.0.0.1:6379}" ping 2>/dev/null | grep -q PONG
	else
		# No client: speak RESP over bash's /dev/tcp.
		(exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && timeout 2 head -c 5 <&3 | grep -q PONG) 2>/dev/null
	fi
}

if [ -z "${REDIS_URL:-}" ] && ! redis_up; then
	if ! command -v redis-server >/dev/null 2>&1; then
		echo "test: installing redis-server"
		apt_install redis-server
	fi
	echo "test: starting redis-server on 127.0.0.1:6379"
	redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
	for _ in $(seq 1 50); do redis_up && break; sleep 0.1; done
fi
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/15}"

if ! command -v prometheus-alertmanager >/dev/null 2>&1 && ! command -v alertmanager >/dev/null 2>&1; then
	echo "test: installing prometheus-alertmanager"
	apt_install prometheus-alertmanager
	# The package may start a system instance; the tests run their own.
fi

# The incident page's browser test drives headless Chromium; under CI=true
# a missing browser fails it.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
	echo "test: installing chromium"
	apt_install chromium
fi

echo "test: go vet"
go vet ./...
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "test: gofmt would change:"; echo "$unformatted"; exit 1
fi
echo "test: go test"
go test -count=1 "$@" ./...
