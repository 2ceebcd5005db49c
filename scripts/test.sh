#!/usr/bin/env bash
# Sets up and runs every check: system packages the tests need, formatting, clippy, the
# Rust test suites and the official-SDK smoke test against the debug binary — first on the
# embedded default (SQLite + local blobs), then again with the blobs in Garage (S3).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
# shellcheck source=services/garage.sh
. scripts/services/garage.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets -- -D warnings

# The official SDK against the debug binary; its summary line must report no failure.
smoke() {
  local log summary
  log="$(mktemp)"
  ASSETD_BIN="$PWD/target/debug/assetd" ../shared/sdk-smoke/run.sh 2>&1 | tee "$log"
  summary="$(tail -n 1 "$log")"
  rm -f "$log"
  case "$summary" in
    *" passed, 0 failed") ;;
    *) echo "SDK smoke test failed: $summary" >&2; exit 1 ;;
  esac
}

echo "== official SDK venv (tests/client_cli.rs runs the SDK beside the CLI)"
ASSETD_SDK_PYTHON="$(./scripts/sdk-venv.sh)"
export ASSETD_SDK_PYTHON
echo "== cargo test (SQLite + local blobs)"
cargo test --no-fail-fast
echo "== SDK smoke test (official Huawei Cloud Python SDK)"
cargo build --bin assetd
smoke

echo "== Garage (S3) for the blob store"
garage_start
echo "== cargo test (SQLite + Garage)"
ASSETD_TEST_BLOB_URL="$GARAGE_BLOB_URL" cargo test --no-fail-fast
echo "== SDK smoke test (SQLite + Garage)"
ASSETD_BLOB_URL="$GARAGE_BLOB_URL/sdk-smoke-$$" smoke
echo "all checks passed"
