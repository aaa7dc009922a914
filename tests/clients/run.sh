#!/usr/bin/env bash
# Runs the Python client tests (Flight SQL and Postgres wire; with --load, the load test over both) against a
# real `omnimarket serve`:
# a cached virtualenv, a generated dataset and a users file in a temp dir, the server on a free loopback port,
# pytest, then the server stopped by its PID (also on failure or Ctrl-C).
#
#   tests/clients/run.sh [--load CLIENTS RUNS] [--runaway] [--soak SECONDS] [--stream] [--bin PATH] [pytest args...]
#
# --runaway runs the load again beside a runaway query (the server's --query-timeout is then
# OMNIMARKET_QUERY_TIMEOUT, default 15 s, so the runaway is cancelled several times during the load).
# --soak runs tests/clients/soak.py for SECONDS (16 clients beside a runaway query and a failing login, the
# server's RSS sampled each second; use a release binary).
# --stream also times a 5M-row result through ADBC (tests/clients/stream.py; use a release binary).
#
# OMNIMARKET_VENV overrides the virtualenv ($HOME/.cache/omnimarket-venv); the binary defaults to the debug
# build under $CARGO_TARGET_DIR (or ./target).
set -euo pipefail
cd "$(dirname "$0")/../.."

BIN="${CARGO_TARGET_DIR:-target}/debug/omnimarket"
LOAD=()
STREAM=""
RUNAWAY=()
SOAK=""
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) BIN="$2"; shift 2 ;;
    --load) LOAD=("$2" "$3"); shift 3 ;;
    --stream) STREAM=1; shift ;;
    --runaway) RUNAWAY=(--runaway); shift ;;
    --soak) SOAK="$2"; shift 2 ;;
    *) break ;;
  esac
done
[ -x "$BIN" ] || { echo "no binary at $BIN (cargo build first, or --bin PATH)" >&2; exit 2; }

VENV="${OMNIMARKET_VENV:-$HOME/.cache/omnimarket-venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
# Already-satisfied pins make this a no-op without the network.
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r tests/clients/requirements.txt

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" generate --out "$WORK/data" > /dev/null
USER_NAME=ci
PASSWORD="pw-$RANDOM-$RANDOM"
printf '%s\n' "$PASSWORD" | "$BIN" user add --users "$WORK/users" "$USER_NAME" > /dev/null

QUERY_TIMEOUT="${OMNIMARKET_QUERY_TIMEOUT:-300}"
if [ ${#RUNAWAY[@]} -gt 0 ] || [ -n "$SOAK" ]; then QUERY_TIMEOUT="${OMNIMARKET_QUERY_TIMEOUT:-15}"; fi
# Port 0: the server picks a free port and prints it; no race with another process taking it meanwhile.
"$BIN" serve --data "$WORK/data" --users "$WORK/users" --addr 127.0.0.1:0 --pg 127.0.0.1:0 \
  --query-timeout "$QUERY_TIMEOUT" > "$WORK/server.out" 2> "$WORK/server.err" &
SERVER_PID=$!
ADDR=""
for _ in $(seq 1 300); do
  ADDR="$(sed -n 's#^listening on grpc://\([0-9.:]*\).*#\1#p' "$WORK/server.out")"
  PG_ADDR="$(sed -n 's#^listening on postgresql://\([0-9.:]*\)/.*#\1#p' "$WORK/server.out")"
  [ -n "$ADDR" ] && [ -n "$PG_ADDR" ] && break
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "the server exited:" >&2; cat "$WORK/server.err" >&2; exit 1
  fi
  sleep 0.1
done
[ -n "$ADDR" ] || { echo "the server did not start in 30 s" >&2; cat "$WORK/server.err" >&2; exit 1; }
echo "server on $ADDR, postgres on $PG_ADDR (pid $SERVER_PID)"

export OMNIMARKET_FLIGHT_URI="grpc://$ADDR" OMNIMARKET_PG_ADDR="$PG_ADDR" OMNIMARKET_USER="$USER_NAME" OMNIMARKET_PASSWORD="$PASSWORD"
export OMNIMARKET_CLIENTS_STRICT=1 PYTHONDONTWRITEBYTECODE=1 OMNIMARKET_SERVER_PID="$SERVER_PID"
# For the tests that start a server of their own (TLS): the binary, the data and the users file.
export OMNIMARKET_BIN="$BIN" OMNIMARKET_DATA="$WORK/data" OMNIMARKET_USERS="$WORK/users"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/clients "$@"
if [ ${#LOAD[@]} -eq 2 ]; then
  "$VENV/bin/python" tests/clients/load.py --clients "${LOAD[0]}" --runs "${LOAD[1]}" "${RUNAWAY[@]}"
  "$VENV/bin/python" tests/clients/load.py --protocol pg --clients "${LOAD[0]}" --runs "${LOAD[1]}"
fi
if [ -n "$SOAK" ]; then
  (cd tests/clients && "$VENV/bin/python" soak.py --seconds "$SOAK")
fi
if [ -n "$STREAM" ]; then
  "$VENV/bin/python" tests/clients/stream.py
fi
