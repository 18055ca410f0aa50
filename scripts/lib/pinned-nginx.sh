# Sourced by the benchmark scripts: a fast local reference server (nginx, one worker,
# keep-alive, a fixed small JSON body) pinned to one CPU, stopped on exit.
#
# start_pinned_nginx CPU: starts it on 127.0.0.1 on a free port; sets `url` and `work`
# (a temp folder the caller may use too; removed on exit with the server).

start_pinned_nginx() {
  local cpu=$1 port
  command -v nginx >/dev/null || { echo "$(basename "$0"): nginx not found (apt-get install nginx-light)" >&2; exit 2; }
  work=$(mktemp -d)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  server {
    listen 127.0.0.1:$port;
    location / { default_type application/json; return 200 '{"status":"healthy"}'; }
  }
}
CONF
  taskset -c "$cpu" nginx -c "$work/nginx.conf" -p "$work" &
  nginx_pid=$!
  trap 'kill "$nginx_pid" 2>/dev/null || true; wait "$nginx_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
  trap 'exit 130' INT TERM
  url="http://127.0.0.1:$port/"
  for _ in $(seq 50); do curl -fs "$url" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "$(basename "$0"): nginx did not answer on $url" >&2
  exit 1
}
