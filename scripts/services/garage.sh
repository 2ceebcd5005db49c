# Garage, an S3-compatible object store, for the test suite's S3 pass: one node on loopback,
# free ports, throwaway directories, stopped on exit. Source this file, then call
# `garage_start`; it exports the standard AWS_* settings and GARAGE_BLOB_URL (s3://BUCKET).
#
# The binary is built once per machine into a cache outside the repository, keyed by version
# (about 10 minutes on 2 cores): ${XDG_CACHE_HOME:-$HOME/.cache}/assetd-tools/garage-VERSION.

GARAGE_VERSION=2.5.0
garage_root="${XDG_CACHE_HOME:-$HOME/.cache}/assetd-tools/garage-$GARAGE_VERSION"
garage_bin="$garage_root/bin/garage"

# Runs `$1` when the shell exits, after whatever was registered before it.
if ! declare -F assetd_on_exit >/dev/null; then
  assetd_exit_hooks=()
  assetd_on_exit() {
    assetd_exit_hooks+=("$1")
    trap 'for hook in "${assetd_exit_hooks[@]}"; do "$hook"; done' EXIT
  }
fi

garage_install() {
  [ -x "$garage_bin" ] && return 0
  echo "== building Garage $GARAGE_VERSION into $garage_root (once per machine)"
  cargo install garage --locked --version "$GARAGE_VERSION" --root "$garage_root"
}

garage_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

garage() { "$garage_bin" -c "$garage_dir/garage.toml" "$@"; }

garage_stop() {
  if [ -n "${garage_pid:-}" ]; then
    kill "$garage_pid" 2>/dev/null
    wait "$garage_pid" 2>/dev/null
    garage_pid=""
  fi
  [ -n "${garage_dir:-}" ] && rm -rf "$garage_dir"
  garage_dir=""
}

garage_start() {
  garage_install || return 1
  garage_dir="$(mktemp -d "${TMPDIR:-/tmp}/assetd-garage.XXXXXX")"
  assetd_on_exit garage_stop
  local s3_port rpc_port admin_port
  s3_port=$(garage_free_port)
  rpc_port=$(garage_free_port)
  admin_port=$(garage_free_port)
  cat >"$garage_dir/garage.toml" <<TOML
metadata_dir = "$garage_dir/meta"
data_dir = "$garage_dir/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc_port"
rpc_public_addr = "127.0.0.1:$rpc_port"
rpc_secret = "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$s3_port"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$admin_port"
TOML
  "$garage_bin" -c "$garage_dir/garage.toml" server >"$garage_dir/server.log" 2>&1 &
  garage_pid=$!
  local tries=0
  until garage status >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -gt 120 ] || ! kill -0 "$garage_pid" 2>/dev/null; then
      echo "Garage did not start:" >&2
      tail -n 30 "$garage_dir/server.log" >&2
      return 1
    fi
    sleep 0.5
  done
  local node key bucket
  node="$(garage node id -q 2>/dev/null | cut -c1-64)"
  garage layout assign -z dc1 -c 1G "$node" >/dev/null || return 1
  garage layout apply --version 1 >/dev/null || return 1
  key="$(garage json-api CreateKey '{"name": "assetd-test"}')" || return 1
  bucket="$(garage json-api CreateBucket '{"globalAlias": "assetd-test"}')" || return 1
  local key_id secret bucket_id
  key_id="$(printf '%s' "$key" | python3 -c 'import json, sys; print(json.load(sys.stdin)["accessKeyId"])')"
  secret="$(printf '%s' "$key" | python3 -c 'import json, sys; print(json.load(sys.stdin)["secretAccessKey"])')"
  bucket_id="$(printf '%s' "$bucket" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')"
  garage json-api AllowBucketKey "{\"bucketId\": \"$bucket_id\", \"accessKeyId\": \"$key_id\",
    \"permissions\": {\"read\": true, \"write\": true, \"owner\": true}}" >/dev/null || return 1
  export AWS_ENDPOINT_URL="http://127.0.0.1:$s3_port"
  export AWS_REGION=garage
  export AWS_ACCESS_KEY_ID="$key_id"
  export AWS_SECRET_ACCESS_KEY="$secret"
  export AWS_ALLOW_HTTP=true
  export GARAGE_BLOB_URL="s3://assetd-test"
  echo "Garage $GARAGE_VERSION serving S3 on $AWS_ENDPOINT_URL (bucket assetd-test)"
}
