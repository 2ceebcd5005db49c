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
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
