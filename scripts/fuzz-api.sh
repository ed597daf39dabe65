#!/usr/bin/env bash
# Fuzzes the HTTP API from its OpenAPI document with schemathesis (from PyPI) against a real
# server on 127.0.0.1 with a throwaway database; bounded in time. Fails on any 5xx, schema
# violation or undocumented answer.
#   scripts/fuzz-api.sh SERVER_BINARY [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
server_bin=$1
seconds=${2:-60}
venv="${XDG_CACHE_HOME:-$HOME/.cache}/switchboard/venv"
if [ ! -x "$venv/bin/st" ]; then
  echo "==> installing schemathesis into $venv (first time only)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'schemathesis>=4,<5'
fi
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token=fuzz-token-$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
SWITCHBOARD_INGEST_TOKEN="$token" "$server_bin" --demo --demo-bots false --simulator-calls-per-minute 0 \
  --listen "127.0.0.1:$port" --data-dir "$data" --static-dir "$data" >"$data/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.1
done
echo "==> schemathesis for ${seconds}s against 127.0.0.1:$port"
# A cleared call is gone by design, so "created resource not found" after a clear is right.
# Run from the throwaway directory: schemathesis keeps its example database in the cwd.
cd "$data"
"$venv/bin/st" run "http://127.0.0.1:$port/api/openapi.json" \
  -H "Authorization: Bearer $token" \
  --checks all --exclude-checks ensure_resource_availability \
  --max-time "$seconds" --seed 1 --max-examples 50
