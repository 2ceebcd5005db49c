#!/usr/bin/env bash
# The console's browser suite: Debian's headless Chromium, driven by Playwright (PyPI,
# pinned, in a venv cached outside the repo), against a real assetd (the debug binary unless
# ASSETD_BIN names one) on a free loopback port with a temp data dir. Screenshots of every
# page are written to target/console-screenshots/. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v chromium >/dev/null 2>&1; then
  echo "chromium is missing: run scripts/install-deps.sh" >&2
  exit 1
fi
venv="${XDG_CACHE_HOME:-$HOME/.cache}/assetd-tools/playwright-venv"
requirements=tests/console_browser/requirements.txt
if ! cmp -s "$requirements" "$venv/requirements.txt"; then
  echo "installing $(grep -v '^#' "$requirements" | xargs) into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/requirements.txt"
fi
if [ -z "${ASSETD_BIN:-}" ]; then
  cargo build --bin assetd
  export ASSETD_BIN="$PWD/target/debug/assetd"
fi
export ASSETD_SCREENSHOTS="${ASSETD_SCREENSHOTS:-$PWD/target/console-screenshots}"
export PYTHONDONTWRITEBYTECODE=1
exec "$venv/bin/python" -m pytest -p no:cacheprovider --rootdir tests/console_browser \
  tests/console_browser "$@"
