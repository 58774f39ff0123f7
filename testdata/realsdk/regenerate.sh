#!/bin/sh
# Regenerates the trace sets in this folder. The agents run from /app, as
# in a container, so the stack traces LangChain.js writes into the spans
# name /app rather than wherever this repository is checked out.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=/app
if [ -e "$work" ]; then
	echo "regenerate.sh: $work exists; remove it first" >&2
	exit 1
fi
mkdir -p "$work"
cp "$here"/package.json "$here"/package-lock.json "$here"/*.js "$work"/
(cd "$work" && npm ci --no-audit --no-fund && node generate.js)
for set in store store-legacy-env protobuf; do
	rm -rf "${here:?}/$set"
	cp -r "$work/$set" "$here/$set"
done
rm -rf "$work"
