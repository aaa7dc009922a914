#!/usr/bin/env bash
# The object-storage test: a local S3 server (moto, from PyPI) on a free loopback port, started and stopped by
# PID by tests/s3/test_s3.py, the 14 raw files in a bucket, and the product reading them, writing Parquet
# snapshots there and serving the dashboards from them (compared with the local run page by page).
#
#   tests/s3/run.sh [--bin PATH]
#
# OMNIMARKET_VENV overrides the virtualenv ($HOME/.cache/omnimarket-venv, shared with tests/clients); the binary
# defaults to the debug build under $CARGO_TARGET_DIR (or ./target).
set -euo pipefail
cd "$(dirname "$0")/../.."

BIN="${CARGO_TARGET_DIR:-target}/debug/omnimarket"
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) BIN="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "tests/s3/run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$BIN" ] || { echo "no binary at $BIN (cargo build first, or --bin PATH)" >&2; exit 2; }

VENV="${OMNIMARKET_VENV:-$HOME/.cache/omnimarket-venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r tests/s3/requirements.txt
exec "$VENV/bin/python" tests/s3/test_s3.py --bin "$BIN"
