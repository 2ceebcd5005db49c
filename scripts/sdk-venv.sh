#!/usr/bin/env bash
# Makes sure the official Huawei Cloud MetaStudio Python SDK is installed in the venv the SDK
# smoke test uses (${XDG_CACHE_HOME:-~/.cache}/assetd-sdk-smoke/venv), so `cargo test` can run
# the SDK next to the CLI (tests/client_cli.rs). Prints the venv's python.
set -euo pipefail
VENV="${SMOKE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/assetd-sdk-smoke/venv}"
SDK_SPEC="${HWSDK_SPEC:-huaweicloudsdkmetastudio==3.1.219}"
ok() { [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import huaweicloudsdkmetastudio, pytest, requests' >/dev/null 2>&1; }
if ! ok; then
  echo "creating $VENV with $SDK_SPEC" >&2
  mkdir -p "$(dirname "$VENV")"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$SDK_SPEC" pytest requests >&2
  ok || { echo "could not install $SDK_SPEC into $VENV" >&2; exit 1; }
fi
echo "$VENV/bin/python"
