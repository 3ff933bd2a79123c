#!/usr/bin/env bash
# Runs a throw-away CNCF distribution registry (Debian's docker-registry 2.8) on 127.0.0.1 for
# tests and benchmarks. It never touches the system registry service: config, storage, logs, pid
# and TLS material all live under WORKDIR. AIRGAP_REGISTRY_BIN runs another registry binary on the
# same config (distribution v3: tests/lib/tools.sh registry).
#
#   tests/lib/registry.sh start WORKDIR PORT [--tls] [--htpasswd USER:PASSWORD]
#   tests/lib/registry.sh stop  WORKDIR
#   tests/lib/registry.sh free-port                  # prints a free TCP port on 127.0.0.1
#
# WORKDIR layout:
#   config.yml      written on every start (so options may change between restarts)
#   data/           blob and manifest storage; kept across stop/start, delete it to reset
#   registry.log    server log (appended); REGISTRY_LOG_LEVEL=debug|info|warn overrides the level
#   registry.pid    pid of the running server
#   tls/            --tls only, generated once and reused: ca.pem (test CA), cert.pem + key.pem
#                   (server, SAN IP:127.0.0.1 and DNS:localhost), ca.crt (copy of ca.pem, so that
#                   `skopeo --cert-dir WORKDIR/tls` and containers/image certs.d lookups trust it)
#   htpasswd        --htpasswd only, bcrypt (realm "airgap-test")
#
# start on a WORKDIR whose registry is still running stops it first (a restart). The HTTP secret
# is fixed, so upload sessions begun before a restart stay valid after it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

registry_bin() {
  if [ -n "${AIRGAP_REGISTRY_BIN:-}" ]; then
    echo "$AIRGAP_REGISTRY_BIN"
    return 0
  fi
  command -v docker-registry 2>/dev/null || { [ -x /usr/bin/docker-registry ] && echo /usr/bin/docker-registry; } || {
    echo "registry.sh: docker-registry is not installed (run tests/setup-host.sh)" >&2
    exit 1
  }
}

need() {
  command -v "$1" >/dev/null 2>&1 || {
    echo "registry.sh: $1 is not installed (run tests/setup-host.sh)" >&2
    exit 1
  }
}

# make_tls DIR: a test CA and a server certificate for 127.0.0.1 and localhost, made once.
make_tls() {
  local dir=$1
  if [ -s "$dir/ca.pem" ] && [ -s "$dir/cert.pem" ] && [ -s "$dir/key.pem" ]; then
    [ -s "$dir/ca.crt" ] || cp "$dir/ca.pem" "$dir/ca.crt"
    return 0
  fi
  need openssl
  mkdir -p "$dir"
  local tmp
  tmp=$(mktemp -d "$dir/.gen.XXXXXX")
  {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 -days 3650 \
      -subj "/CN=airgap-test CA" -keyout "$tmp/ca-key.pem" -out "$tmp/ca.pem" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
      -subj "/CN=127.0.0.1" -keyout "$tmp/key.pem" -out "$tmp/server.csr"
    printf '%s\n' \
      "basicConstraints=critical,CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth" \
      "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$tmp/server.ext"
    openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca-key.pem" \
      -CAcreateserial -sha256 -days 3650 -extfile "$tmp/server.ext" -out "$tmp/cert.pem"
  } >"$tmp/openssl.log" 2>&1 || {
    echo "registry.sh: generating the test certificates failed" >&2
    cat "$tmp/openssl.log" >&2
    rm -rf "$tmp"
    exit 1
  }
  chmod 600 "$tmp/key.pem" "$tmp/ca-key.pem"
  mv "$tmp/ca-key.pem" "$tmp/ca.pem" "$tmp/cert.pem" "$tmp/key.pem" "$dir/"
  cp "$dir/ca.pem" "$dir/ca.crt"
  rm -rf "$tmp"
}

free_port() {
  "$here/nginx.sh" free-port
}

start() {
  local work=${1:?WORKDIR missing} port=${2:?PORT missing}
  shift 2
  local tls=0 creds=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --tls) tls=1 ;;
      --htpasswd) creds=${2:?--htpasswd needs USER:PASSWORD}; shift ;;
      --htpasswd=*) creds=${1#--htpasswd=} ;;
      *) echo "registry.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
  done
  need curl
  local bin
  bin=$(registry_bin)
  work=$(realpath -m "$work")
  mkdir -p "$work/data"
  stop "$work"

  local scheme=http tls_conf="" auth_conf="" curl_args=()
  if [ "$tls" = 1 ]; then
    make_tls "$work/tls"
    scheme=https
    tls_conf="  tls:
    certificate: $work/tls/cert.pem
    key: $work/tls/key.pem"
    curl_args+=(--cacert "$work/tls/ca.pem")
  fi
  if [ -n "$creds" ]; then
    case "$creds" in
      *:*) ;;
      *) echo "registry.sh: --htpasswd wants USER:PASSWORD" >&2; exit 2 ;;
    esac
    need htpasswd
    htpasswd -Bbn "${creds%%:*}" "${creds#*:}" >"$work/htpasswd.tmp" 2>/dev/null
    mv "$work/htpasswd.tmp" "$work/htpasswd"
    auth_conf="auth:
  htpasswd:
    realm: airgap-test
    path: $work/htpasswd"
  else
    rm -f "$work/htpasswd"
  fi

  cat >"$work/config.yml" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/data
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: airgap-test-secret
$tls_conf
$auth_conf
EOF

  # The registry reads REGISTRY_<SECTION>_<KEY> variables as config overrides: drop any the
  # caller has (REGISTRY_PORT, REGISTRY_HTTP_ADDR...), except REGISTRY_LOG_LEVEL.
  local unset_env=() v
  for v in $(compgen -e); do
    case "$v" in
      REGISTRY_LOG_LEVEL) ;;
      REGISTRY_*) unset_env+=(-u "$v") ;;
    esac
  done
  # setsid: the server outlives this script and the caller's process group, like nginx's daemon.
  env "${unset_env[@]}" setsid "$bin" serve "$work/config.yml" >>"$work/registry.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$work/registry.pid"

  local url="$scheme://127.0.0.1:$port" code
  for _ in $(seq 1 100); do
    if ! kill -0 "$pid" 2>/dev/null; then
      break
    fi
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "${curl_args[@]}" "$url/v2/" || true)
    if [ "$code" = 200 ] || [ "$code" = 401 ]; then
      echo "registry: $url"
      return 0
    fi
    sleep 0.1
  done
  echo "registry.sh: registry did not start on $url" >&2
  tail -n 20 "$work/registry.log" >&2 || true
  stop "$work"
  exit 1
}

stop() {
  local work=${1:?WORKDIR missing}
  work=$(realpath -m "$work")
  [ -f "$work/registry.pid" ] || return 0
  local pid
  pid=$(cat "$work/registry.pid")
  # Only signal the pid if it is still our registry (the pid may have been reused).
  if kill -0 "$pid" 2>/dev/null && grep -qaF "$work/config.yml" "/proc/$pid/cmdline" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -9 "$pid" 2>/dev/null || true
      for _ in $(seq 1 20); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
    fi
  fi
  rm -f "$work/registry.pid"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  free-port) free_port ;;
  *)
    echo "usage: $0 start WORKDIR PORT [--tls] [--htpasswd USER:PASSWORD] | stop WORKDIR | free-port" >&2
    exit 2
    ;;
esac
