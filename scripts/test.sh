#!/usr/bin/env bash
# Sets up and runs every check: system packages the tests need, formatting, clippy, the
# Rust test suites, and the official-SDK smoke test against the debug binary.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets -- -D warnings
echo "== official SDK venv (tests/client_cli.rs runs the SDK beside the CLI)"
ASSETD_SDK_PYTHON="$(./scripts/sdk-venv.sh)"
export ASSETD_SDK_PYTHON
echo "== cargo test"
cargo test --no-fail-fast
echo "== SDK smoke test (official Huawei Cloud Python SDK)"
cargo build --bin assetd
smoke_log="$(mktemp)"
ASSETD_BIN="$PWD/target/debug/assetd" ../shared/sdk-smoke/run.sh 2>&1 | tee "$smoke_log"
summary="$(tail -n 1 "$smoke_log")"
rm -f "$smoke_log"
case "$summary" in
  *" passed, 0 failed") echo "all checks passed" ;;
  *) echo "SDK smoke test failed: $summary" >&2; exit 1 ;;
esac
