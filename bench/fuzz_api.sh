#!/usr/bin/env bash
# The long schemathesis run, before a release: the CI's fuzz test with many more examples per
# operation, on SQLite and (when BENCH_DATABASE_URL is set) on PostgreSQL.
#   bash bench/fuzz_api.sh            # 1000 examples per operation
#   bash bench/fuzz_api.sh 5000
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-1000}"
run() {
    SCHEMATHESIS_MAX_EXAMPLES="$examples" python -m uv run --locked pytest \
        tests/core/test_schema_fuzz.py -p no:randomly "$@"
}
echo "== schemathesis, $examples examples per operation, SQLite"
(unset DATABASE_URL; run)
if [[ -n "${BENCH_DATABASE_URL:-}" ]]; then
    echo "== schemathesis, $examples examples per operation, PostgreSQL"
    DATABASE_URL="$BENCH_DATABASE_URL" run
fi
