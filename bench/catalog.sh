#!/usr/bin/env bash
# Catalogue benchmark (issue 2): create throughput against a bare axum handler in the same
# run, list latency over 1,000,000 assets in one project, and the server's peak RSS. Builds
# in release mode, runs the real assetd binary as a child process on loopback only, and
# keeps its scratch data in a temp dir under /tmp that is deleted afterwards. About 6 min
# on 2 cores. Results in bench/out/catalog.txt.
#
# Knobs: BENCH_ASSETS (1000000), BENCH_SECS (10 per throughput run), BENCH_CONCURRENCY (16),
# BENCH_SAMPLES (200 per list case), BENCH_PHASES (create,list); see benches/catalog.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
cargo bench --bench catalog --no-run
BENCH_OUT="$PWD/bench/out/catalog.txt" cargo bench --bench catalog
