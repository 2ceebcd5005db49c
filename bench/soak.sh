#!/usr/bin/env bash
# Soak (issue 8): ten minutes of mixed signed traffic with 16-client bursts, small videos,
# PDFs and hostile decks against the release binary logging at info. Passes only with zero
# 5xx, zero panics in the server log, flat RSS (last minute / first minute ≤ 1.5), every
# small upload ACTIVED, every hostile deck FAILED and /health 200 afterwards. Not run in CI.
# Results in bench/out/soak.txt. Knobs: SOAK_SECS (600), SOAK_CLIENTS (4),
# SOAK_BURST_EVERY (60), SOAK_PROFILE (bench = release; dev for the debug build); see
# benches/soak.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
mkdir -p bench/out
profile=${SOAK_PROFILE:-bench}
cargo bench --profile "$profile" --bench soak --no-run
SOAK_OUT="$PWD/bench/out/soak.txt" cargo bench --profile "$profile" --bench soak
