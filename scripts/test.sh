#!/usr/bin/env bash
# The whole suite, twice: on the embedded default (SQLite, in-process queue) and
# on PostgreSQL with Redis. The second leg needs both servers; when they are not
# reachable it fails (it never skips). `.ci/run` installs and starts them.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
LEGS=${1:-all}
[ $# -gt 0 ] && shift
PG_URL=${CONCORD_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/concord_test}
REDIS_URL_TEST=${CONCORD_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}

if [ "$LEGS" = all ] || [ "$LEGS" = embedded ]; then
  echo "== tests on the embedded default: SQLite + in-process queue"
  # Tests marked redis need the real server: they run in the second leg.
  env -u CONCORD_TEST_DATABASE_URL -u CONCORD_TEST_REDIS_URL -u DATABASE_URL -u REDIS_URL \
    "$BIN/pytest" -m "not redis" "$@"
fi

if [ "$LEGS" = all ] || [ "$LEGS" = postgres ]; then
  echo "== tests on PostgreSQL + Redis ($PG_URL, $REDIS_URL_TEST)"
  if ! "$BIN/python" - "$PG_URL" "$REDIS_URL_TEST" <<'PY'
import sys
import psycopg
import redis
url = sys.argv[1].replace("postgresql+psycopg://", "postgresql://")
try:
    psycopg.connect(url, connect_timeout=5).close()
    redis.Redis.from_url(sys.argv[2], socket_connect_timeout=5).ping()
except Exception as exc:
    print(f"PostgreSQL and Redis are required for this leg: {exc}", file=sys.stderr)
    print("Start them (see README, 'Tests'), or run .ci/run, which installs and starts them.", file=sys.stderr)
    sys.exit(1)
PY
  then
    exit 1
  fi
  CONCORD_TEST_DATABASE_URL="$PG_URL" CONCORD_TEST_REDIS_URL="$REDIS_URL_TEST" "$BIN/pytest" "$@"
fi
