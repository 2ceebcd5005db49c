#!/usr/bin/env bash
# Console benchmark (issue 11): the library page's HTML (GET /console with a session
# cookie) at 1,000,000 assets in one project, p50/p99 per view, against the same listing
# through the signed JSON API in the same run; and the server's peak RSS. Builds in release
# mode, runs the real assetd binary as a child process on loopback only, and keeps its
# scratch data in a temp dir under /tmp that is deleted afterwards. Results in
# bench/out/console.txt.
#
# Knobs: BENCH_ASSETS (1000000), BENCH_SAMPLES (200 per view), BENCH_DIR (reuse a data
# directory seeded earlier); see benches/console.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
cargo bench --bench console --no-run
BENCH_OUT="$PWD/bench/out/console.txt" cargo bench --bench console
