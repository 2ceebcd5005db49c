#!/usr/bin/env bash
# Upload benchmark: a file (2 GiB by default) through create_file -> PUT upload_url with MD5
# verification, against `md5sum` and `dd ... conv=fsync` of the same bytes in the same run.
# Reports throughput ratios and assetd's peak RSS. Usage: bench/upload.sh [SIZE_MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib="${1:-2048}"
out_dir=bench/out
mkdir -p "$out_dir"
work="$(mktemp -d "${TMPDIR:-/tmp}/assetd-bench-upload.XXXXXX")"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

cargo build --release --quiet
bin="$PWD/target/release/assetd"
venv="${SMOKE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/assetd-sdk-smoke/venv}"
[ -x "$venv/bin/python" ] || { echo "run ../shared/sdk-smoke/run.sh once to create the SDK venv" >&2; exit 2; }

echo "generating a ~${size_mib} MiB H.264/AAC MP4 (a noise clip looped with -c copy)"
ffmpeg -v error -y -f lavfi -i "nullsrc=s=1280x720:r=25,geq=random(1)*255:128:128" \
  -f lavfi -i "sine=frequency=440:sample_rate=48000" -t 10 \
  -c:v libx264 -preset ultrafast -crf 10 -pix_fmt yuv420p -c:a aac "$work/clip.mp4"
clip_bytes=$(stat -c %s "$work/clip.mp4")
loops=$(( size_mib * 1048576 / clip_bytes ))
ffmpeg -v error -y -stream_loop "$loops" -i "$work/clip.mp4" -c copy "$work/video.mp4"
rm -f "$work/clip.mp4"
bytes=$(stat -c %s "$work/video.mp4")

now() { date +%s.%N; }
t0=$(now); md5_hex=$(md5sum "$work/video.mp4" | cut -d' ' -f1); t1=$(now)
md5_secs=$(echo "$t1 - $t0" | bc -l)
t0=$(now); dd if="$work/video.mp4" of="$work/dd.out" bs=8M conv=fsync status=none; t1=$(now)
dd_secs=$(echo "$t1 - $t0" | bc -l)
rm -f "$work/dd.out"
md5_b64=$(echo "$md5_hex" | xxd -r -p | base64)

port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" --data-dir "$work/data" credentials create --project-id benchproject --access-key BENCHAK --secret-key BENCHSKBENCHSKBENCHSK >/dev/null
ASSETD_LOG=warn "$bin" --data-dir "$work/data" serve --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done

url=$("$venv/bin/python" - "$port" "$bytes" "$md5_b64" <<'PY'
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
read -r asset_id file_id url <<<"$url"
t0=$(now)
code=$(curl -s -o /dev/null -w '%{http_code}' -T "$work/video.mp4" -H "Content-MD5: $md5_b64" -H "Content-Type: video/mp4" "$url")
t1=$(now)
upload_secs=$(echo "$t1 - $t0" | bc -l)
[ "$code" = 200 ] || { echo "upload failed: HTTP $code"; tail "$work/serve.log"; exit 1; }
rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")

# The rest of the SDK flow: confirm, wait for ACTIVED, download and compare.
download=$("$venv/bin/python" - "$port" "$asset_id" "$file_id" <<'PY'
import sys, time
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkmetastudio.v1 import *
port, asset_id, file_id = sys.argv[1:4]
c = (MetaStudioClient.new_builder().with_credentials(BasicCredentials("BENCHAK", "BENCHSKBENCHSKBENCHSK", "benchproject"))
     .with_endpoint("http://127.0.0.1:%s" % port).build())
c.confirm_file_upload(ConfirmFileUploadRequest(file_id=file_id, body=ConfirmFileUploadRequestBody(state="CREATED")))
deadline = time.time() + 600
while True:
    a = c.show_asset(ShowAssetRequest(asset_id=asset_id))
    if a.asset_state in ("ACTIVED", "FAILED") or time.time() > deadline:
        break
    time.sleep(0.5)
assert a.asset_state == "ACTIVED", (a.asset_state, a.reason)
print([f for f in a.files if f.file_id == file_id][0].download_url)
PY
)
curl -sf "$download" -o "$work/back.mp4"
back_md5=$(md5sum "$work/back.mp4" | cut -d' ' -f1)
[ "$back_md5" = "$md5_hex" ] || { echo "download differs from the upload"; exit 1; }

mbps() { echo "scale=1; $bytes / $1 / 1048576" | bc -l; }
{
  echo "upload benchmark, $(date -u +%FT%TZ), ${size_mib} MiB"
  printf '%-34s %8.2f s  %8s MiB/s\n' "md5sum (reference)" "$md5_secs" "$(mbps "$md5_secs")"
  printf '%-34s %8.2f s  %8s MiB/s\n' "dd conv=fsync (same disk)" "$dd_secs" "$(mbps "$dd_secs")"
  printf '%-34s %8.2f s  %8s MiB/s\n' "assetd PUT upload_url (MD5 checked)" "$upload_secs" "$(mbps "$upload_secs")"
  printf 'ratio upload/md5sum throughput: %.2f (aim >= 0.9)\n' "$(echo "$md5_secs / $upload_secs" | bc -l)"
  printf 'ratio upload/dd throughput:     %.2f\n' "$(echo "$dd_secs / $upload_secs" | bc -l)"
  printf 'assetd peak RSS during the upload: %d MiB (aim < 100)\n' "$((rss_kib / 1024))"
  echo "confirm -> ACTIVED through the SDK, then download_url returned the same ${bytes} bytes (MD5 $md5_hex)"
} | tee "$out_dir/upload.txt"
