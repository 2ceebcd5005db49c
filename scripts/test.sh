#!/usr/bin/env bash
# Sets up and runs every check: system packages the tests need, formatting, clippy, the
# Rust test suites and the official-SDK smoke test against the debug binary, the console's
# browser suite; then the suites and the smoke test once more with the catalogue on
# PostgreSQL (a throwaway cluster).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
source scripts/services/postgres.sh
trap postgres_stop EXIT

# The official SDK's smoke test against the debug binary, with the current environment.
smoke_test() {
  local smoke_log summary
  smoke_log="$(mktemp)"
  ASSETD_BIN="$PWD/target/debug/assetd" ../shared/sdk-smoke/run.sh 2>&1 | tee "$smoke_log"
  summary="$(tail -n 1 "$smoke_log")"
  rm -f "$smoke_log"
  case "$summary" in
    *" passed, 0 failed") ;;
    *) echo "SDK smoke test failed: $summary" >&2; exit 1 ;;
  esac
}

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets -- -D warnings
echo "== official SDK venv (tests/client_cli.rs runs the SDK beside the CLI)"
ASSETD_SDK_PYTHON="$(./scripts/sdk-venv.sh)"
export ASSETD_SDK_PYTHON
echo "== cargo test (SQLite)"
cargo test --no-fail-fast
echo "== SDK smoke test (official Huawei Cloud Python SDK, SQLite)"
cargo build --bin assetd
smoke_test
echo "== console browser suite (headless Chromium)"
ASSETD_BIN="$PWD/target/debug/assetd" tests/console_browser/run.sh -q

echo "== cargo test (PostgreSQL)"
postgres_start
cargo test --no-fail-fast
echo "== SDK smoke test (PostgreSQL)"
ASSETD_DATABASE_URL="$(postgres_create_database smoke)" smoke_test
echo "all checks passed"
