#!/usr/bin/env bash
# Media benchmark: probe, thumbnail, cover, PDF pages and confirm -> ACTIVED, each against
# the reference tool in the same run. Needs ffmpeg, poppler-utils, LibreOffice and
# libvips-tools (vipsthumbnail). Results in bench/out/media.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
command -v vipsthumbnail >/dev/null || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo; $sudo apt-get install -y -qq --no-install-recommends libvips-tools >/dev/null; }
mkdir -p bench/out
BENCH_OUT="$PWD/bench/out/media.txt" cargo bench --bench media
