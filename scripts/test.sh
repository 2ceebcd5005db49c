#!/usr/bin/env bash
# Sets up and runs every check: system packages the tests need, formatting, clippy, the
# Rust test suites and the official-SDK smoke test against the debug binary, the console's
# browser suite — first on the embedded default (SQLite + local blobs); then the suites and
# the smoke test once more on the scaled setup: the catalogue on PostgreSQL (a throwaway
# cluster) and the blobs on Garage (S3), together.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
# shellcheck source=services/postgres.sh
source scripts/services/postgres.sh
# shellcheck source=services/garage.sh
source scripts/services/garage.sh
assetd_on_exit postgres_stop

# The official SDK's smoke test against the debug binary, with the current environment;
# its summary line must report no failure.
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
echo "== cargo test (embedded: SQLite + local blobs)"
cargo test --no-fail-fast
echo "== SDK smoke test (official Huawei Cloud Python SDK, SQLite + local blobs)"
# `cargo test` has built target/debug/assetd (the integration tests run it); a separate
# `cargo build` would rebuild the crate without the dev-dependencies' features.
smoke_test
echo "== console browser suite (headless Chromium)"
ASSETD_BIN="$PWD/target/debug/assetd" tests/console_browser/run.sh -q

echo "== scaled: PostgreSQL (catalogue) + Garage (S3 blobs)"
postgres_start
garage_start
echo "== cargo test (scaled: PostgreSQL + Garage)"
ASSETD_TEST_BLOB_URL="$GARAGE_BLOB_URL" cargo test --no-fail-fast
echo "== SDK smoke test (scaled: PostgreSQL + Garage)"
ASSETD_DATABASE_URL="$(postgres_create_database smoke)" \
  ASSETD_BLOB_URL="$GARAGE_BLOB_URL/sdk-smoke-$$" smoke_test
echo "all checks passed"
