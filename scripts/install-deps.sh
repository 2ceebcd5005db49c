#!/usr/bin/env bash
# Installs the system packages assetd and its tests use, when missing. Debian/Ubuntu only;
# needs root (or sudo). Safe to run repeatedly.
set -euo pipefail

packages=()
need() { command -v "$1" >/dev/null 2>&1 || packages+=("$2"); }
need ffmpeg ffmpeg
need ffprobe ffmpeg
need pdftoppm poppler-utils
need pdfinfo poppler-utils
need pdftotext poppler-utils
command -v soffice >/dev/null 2>&1 || command -v libreoffice >/dev/null 2>&1 || packages+=(libreoffice-impress)
# The console's browser suite drives Debian's Chromium (never Playwright's own download).
need chromium chromium
# The PostgreSQL server the second test pass runs on (scripts/services/postgres.sh).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || packages+=(postgresql)
# The official-SDK venv (scripts/sdk-venv.sh) needs venv with ensurepip.
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || packages+=(python3-venv)

# Each package once.
mapfile -t packages < <(printf '%s\n' "${packages[@]}" | sort -u | awk NF)
if [ ${#packages[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
# Debian's postgresql package would create and start a cluster of its own; the tests start
# throwaway ones.
if printf '%s\n' "${packages[@]}" | grep -qx postgresql; then
  $sudo mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" | $sudo tee /etc/postgresql-common/createcluster.d/assetd-tests.conf >/dev/null
fi
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
