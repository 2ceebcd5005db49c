#!/usr/bin/env bash
# Upload benchmark: a video (2 GiB by default) through create_file -> PUT upload_url with MD5
# and SHA-256 computed on the way, then confirm -> ACTIVED -> download, on both blob stores:
#  * local disk, against `md5sum` and `dd ... conv=fsync` of the same bytes;
#  * S3 on a one-node Garage (scripts/services/garage.sh), against Garage's own ingest of the
#    same amount of bytes by a standard S3 client (boto3 `upload_file`, 16 MiB parts,
#    4 threads), in the same run. Skipped with BENCH_S3=0.
# Reports throughput ratios and assetd's peak RSS during each upload.
# Usage: [ASSETD_BIN=target/release/assetd] bench/upload.sh [SIZE_MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib="${1:-2048}"
out_dir=bench/out
mkdir -p "$out_dir"
work="$(mktemp -d "${TMPDIR:-/tmp}/assetd-bench-upload.XXXXXX")"
pid=""
stop_assetd() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; pid=""; }
# shellcheck source=../scripts/services/garage.sh
. scripts/services/garage.sh
cleanup() { stop_assetd; rm -rf "$work"; }
assetd_on_exit cleanup

# ASSETD_BIN: a release binary built beforehand (the build takes long on a busy machine).
bin="${ASSETD_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin="$PWD/target/release/assetd"
fi
venv="${SMOKE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/assetd-sdk-smoke/venv}"
[ -x "$venv/bin/python" ] || { echo "run ../shared/sdk-smoke/run.sh once to create the SDK venv" >&2; exit 2; }

# A noise clip looped with -c copy to about SIZE_MIB; `flip` makes different bytes of the
# same kind (Garage stores identical blocks once, so the two S3 clients get different bytes).
make_video() {
  local dest="$1" filter="$2"
  ffmpeg -v error -y -f lavfi -i "nullsrc=s=1280x720:r=25,geq=random(1)*255:128:128$filter" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000" -t 10 \
    -c:v libx264 -preset ultrafast -crf 10 -pix_fmt yuv420p -c:a aac "$work/clip.mp4"
  local clip_bytes loops
  clip_bytes=$(stat -c %s "$work/clip.mp4")
  loops=$(( size_mib * 1048576 / clip_bytes ))
  ffmpeg -v error -y -stream_loop "$loops" -i "$work/clip.mp4" -c copy "$dest"
  rm -f "$work/clip.mp4"
}

echo "generating a ~${size_mib} MiB H.264/AAC MP4 (a noise clip looped with -c copy)"
make_video "$work/video.mp4" ""
bytes=$(stat -c %s "$work/video.mp4")

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l; }
t0=$(now); md5_hex=$(md5sum "$work/video.mp4" | cut -d' ' -f1); t1=$(now)
md5_secs=$(secs "$t0" "$t1")
t0=$(now); dd if="$work/video.mp4" of="$work/dd.out" bs=8M conv=fsync status=none; t1=$(now)
dd_secs=$(secs "$t0" "$t1")
rm -f "$work/dd.out"
md5_b64=$(echo "$md5_hex" | xxd -r -p | base64)

# Starts assetd on a fresh data directory (extra flags in "$@"), with credentials.
start_assetd() {
  local data="$work/data-$1"; shift
  port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$bin" --data-dir "$data" credentials create --project-id benchproject --access-key BENCHAK --secret-key BENCHSKBENCHSKBENCHSK >/dev/null
  ASSETD_LOG=warn "$bin" --data-dir "$data" "$@" serve --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 300); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && return; sleep 0.1; done
  echo "assetd did not start:" >&2; tail "$work/serve.log" >&2; exit 1
}

# The SDK flow around one PUT of video.mp4: sets upload_secs and rss_kib, and checks that
# confirm -> ACTIVED -> download returns the same bytes.
sdk_upload() {
  local ids asset_id file_id url code t0 t1 download back_md5
  ids=$("$venv/bin/python" - "$port" "$bytes" "$md5_b64" <<'PY'
import sys
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkmetastudio.v1 import *
port, size, md5 = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c = (MetaStudioClient.new_builder().with_credentials(BasicCredentials("BENCHAK", "BENCHSKBENCHSKBENCHSK", "benchproject"))
     .with_endpoint("http://127.0.0.1:%s" % port).build())
a = c.create_digital_asset(CreateDigitalAssetRequest(body=CreateDigitalAssetRequestBody(asset_name="bench", asset_type="VIDEO"))).asset_id
f = c.create_file(CreateFileRequest(body=FilesCreateReq(file_name="bench.mp4", file_md5=md5, file_size=size, asset_id=a, asset_file_category="MAIN")))
print(a, f.file_id, f.upload_url)
PY
)
  read -r asset_id file_id url <<<"$ids"
  t0=$(now)
  code=$(curl -s -o /dev/null -w '%{http_code}' -T "$work/video.mp4" -H "Content-MD5: $md5_b64" -H "Content-Type: video/mp4" "$url")
  t1=$(now)
  upload_secs=$(secs "$t0" "$t1")
  [ "$code" = 200 ] || { echo "upload failed: HTTP $code"; tail "$work/serve.log"; exit 1; }
  rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  download=$("$venv/bin/python" - "$port" "$asset_id" "$file_id" <<'PY'
import sys, time
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkmetastudio.v1 import *
port, asset_id, file_id = sys.argv[1:4]
c = (MetaStudioClient.new_builder().with_credentials(BasicCredentials("BENCHAK", "BENCHSKBENCHSKBENCHSK", "benchproject"))
     .with_endpoint("http://127.0.0.1:%s" % port).build())
c.confirm_file_upload(ConfirmFileUploadRequest(file_id=file_id, body=ConfirmFileUploadRequestBody(state="CREATED")))
deadline = time.time() + 900
while True:
    a = c.show_asset(ShowAssetRequest(asset_id=asset_id))
    if a.asset_state in ("ACTIVED", "FAILED") or time.time() > deadline:
        break
    time.sleep(0.5)
assert a.asset_state == "ACTIVED", (a.asset_state, a.reason)
print([f for f in a.files if f.file_id == file_id][0].download_url)
PY
)
  back_md5=$(curl -sf "$download" | md5sum | cut -d' ' -f1)
  [ "$back_md5" = "$md5_hex" ] || { echo "download differs from the upload"; exit 1; }
}

mbps() { echo "scale=1; $1 / $2 / 1048576" | bc -l; }
report="$work/report.txt"
{
  echo "upload benchmark, $(date -u +%FT%TZ), ${size_mib} MiB ($bytes bytes)"
  printf '%-44s %8.2f s  %8s MiB/s\n' "md5sum (reference)" "$md5_secs" "$(mbps "$bytes" "$md5_secs")"
  printf '%-44s %8.2f s  %8s MiB/s\n' "dd conv=fsync (same disk)" "$dd_secs" "$(mbps "$bytes" "$dd_secs")"
} >"$report"

echo "== local disk"
start_assetd local
sdk_upload
stop_assetd
rm -rf "$work/data-local"
{
  printf '%-44s %8.2f s  %8s MiB/s\n' "assetd PUT, local disk (MD5+SHA-256, fsync)" "$upload_secs" "$(mbps "$bytes" "$upload_secs")"
  printf 'ratio local upload/md5sum throughput:   %.2f\n' "$(echo "$md5_secs / $upload_secs" | bc -l)"
  printf 'ratio local upload/dd throughput:       %.2f\n' "$(echo "$dd_secs / $upload_secs" | bc -l)"
  printf 'assetd peak RSS, local 2 GiB-class upload: %d MiB (aim < 64)\n' "$((rss_kib / 1024))"
} >>"$report"

if [ "${BENCH_S3:-1}" != 0 ]; then
  echo "== S3 (Garage)"
  garage_start
  boto_venv="${XDG_CACHE_HOME:-$HOME/.cache}/assetd-bench/boto3-venv"
  if ! "$boto_venv/bin/python" -c 'import boto3' 2>/dev/null; then
    python3 -m venv "$boto_venv"
    "$boto_venv/bin/pip" install -q --disable-pip-version-check boto3
  fi
  make_video "$work/other.mp4" ",hflip"
  other_bytes=$(stat -c %s "$work/other.mp4")
  t0=$(now)
  "$boto_venv/bin/python" - "$work/other.mp4" <<'PY'
import os, sys
import boto3
from boto3.s3.transfer import TransferConfig
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
MiB = 1024 * 1024
config = TransferConfig(multipart_threshold=16 * MiB, multipart_chunksize=16 * MiB, max_concurrency=4, use_threads=True)
s3.upload_file(sys.argv[1], "assetd-test", "boto3/other.mp4", Config=config)
PY
  t1=$(now)
  boto_secs=$(secs "$t0" "$t1")
  rm -f "$work/other.mp4"
  start_assetd s3 --blob-url "$GARAGE_BLOB_URL/bench"
  sdk_upload
  stop_assetd
  {
    printf '%-44s %8.2f s  %8s MiB/s\n' "boto3 upload_file to Garage (reference)" "$boto_secs" "$(mbps "$other_bytes" "$boto_secs")"
    printf '%-44s %8.2f s  %8s MiB/s\n' "assetd PUT, S3 on Garage (MD5+SHA-256)" "$upload_secs" "$(mbps "$bytes" "$upload_secs")"
    printf 'ratio S3 upload/boto3 throughput:       %.2f (aim >= 0.9)\n' \
      "$(echo "($bytes / $upload_secs) / ($other_bytes / $boto_secs)" | bc -l)"
    printf 'assetd peak RSS, S3 upload:             %d MiB (aim < 64)\n' "$((rss_kib / 1024))"
  } >>"$report"
fi
echo "confirm -> ACTIVED through the SDK, then download_url returned the same ${bytes} bytes (MD5 $md5_hex)" >>"$report"
tee "$out_dir/upload.txt" <"$report"
