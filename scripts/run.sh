#!/usr/bin/env bash
# Builds assetd and serves it on the embedded default: SQLite catalogue and local blob store
# under ./data (or $ASSETD_DATA_DIR). On first run it creates a credential and prints it.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cargo build --release
data="${ASSETD_DATA_DIR:-./data}"
bin=target/release/assetd
if [ ! -f "$data/catalog.db" ]; then
  echo "first run: creating a credential for project ${ASSETD_PROJECT_ID:-demo-project}"
  "$bin" --data-dir "$data" credentials create --project-id "${ASSETD_PROJECT_ID:-demo-project}"
fi
exec "$bin" --data-dir "$data" serve --listen "${ASSETD_LISTEN:-127.0.0.1:8080}"
