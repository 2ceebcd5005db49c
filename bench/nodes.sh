#!/usr/bin/env bash
# Many-nodes benchmark (issue 9): create throughput of one `assetd serve` against two on the
# same PostgreSQL, the load split between them, same run (phase `nodes` of
# benches/catalog.rs). Starts a throwaway PostgreSQL (scripts/services/postgres.sh) and stops
# it afterwards. Results in bench/out/nodes.txt. Knobs as for bench/catalog.sh
# (BENCH_SECS, BENCH_CONCURRENCY).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
# shellcheck source=../scripts/services/postgres.sh
. scripts/services/postgres.sh
trap postgres_stop EXIT
postgres_start
cargo bench --bench catalog --no-run
BENCH_PHASES=nodes BENCH_DATABASE_URL="$(postgres_create_database bench_nodes)" \
  BENCH_OUT="$PWD/bench/out/nodes.txt" cargo bench --bench catalog
