#!/usr/bin/env bash
# Runs a throw-away nginx on 127.0.0.1 for tests and benchmarks. It never touches the system
# nginx: its own prefix, config, pid, logs and temp folders all live under WORKDIR.
#
#   tests/lib/nginx.sh start WORKDIR ROOT PORT [LIMIT_RATE]   # e.g. LIMIT_RATE=20m
#   tests/lib/nginx.sh stop  WORKDIR
#   tests/lib/nginx.sh free-port                              # prints a free TCP port on 127.0.0.1
set -euo pipefail

nginx_bin() {
  command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || {
    echo "nginx.sh: nginx is not installed (run tests/setup-host.sh)" >&2
    exit 1
  }
}

free_port() {
  /usr/bin/python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

start() {
  local work=$1 root=$2 port=$3 rate=${4:-0}
  work=$(realpath -m "$work")
  root=$(realpath "$root")
  mkdir -p "$work/logs" "$work/tmp"
  cat >"$work/nginx.conf" <<EOF
daemon on;
pid $work/nginx.pid;
error_log $work/logs/error.log warn;
worker_processes 2;
events { worker_connections 256; }
http {
  access_log $work/logs/access.log;
  client_body_temp_path $work/tmp/body;
  proxy_temp_path $work/tmp/proxy;
  fastcgi_temp_path $work/tmp/fastcgi;
  uwsgi_temp_path $work/tmp/uwsgi;
  scgi_temp_path $work/tmp/scgi;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  server {
    listen 127.0.0.1:$port;
    root $root;
    autoindex on;
    limit_rate $rate;
    location ~ /\\. { deny all; }
  }
}
EOF
  "$(nginx_bin)" -p "$work" -c "$work/nginx.conf" -e "$work/logs/error.log"
  for _ in $(seq 1 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "nginx.sh: nginx did not start on 127.0.0.1:$port" >&2
  cat "$work/logs/error.log" >&2 || true
  exit 1
}

stop() {
  local work=$1
  [ -f "$work/nginx.pid" ] || return 0
  local pid
  pid=$(cat "$work/nginx.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  rm -f "$work/nginx.pid"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  free-port) free_port ;;
  *) echo "usage: $0 start WORKDIR ROOT PORT [LIMIT_RATE] | stop WORKDIR | free-port" >&2; exit 2 ;;
esac
