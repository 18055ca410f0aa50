# shellcheck shell=bash
# Sourced by the benchmark scripts: a fast local reference server (nginx, one worker,
# keep-alive, a fixed small JSON body) pinned to one CPU, stopped on exit.
#
# start_pinned_nginx CPU [PROTOCOL [STREAMS]]: starts it on 127.0.0.1 on a free port (or
# on $BENCH_NGINX_PORT when set); sets `url` and `work` (a temp folder the caller may use
# too; removed on exit with the server). PROTOCOL is what the port speaks: h1 (the
# default) and pipeline serve plain HTTP/1.1, h1-tls HTTP/1.1 over TLS, h2c HTTP/2 with
# prior knowledge only, h2 TLS with ALPN choosing h2 (or http/1.1). For the TLS ones it
# also sets `cert`: the run's throwaway self-signed certificate (PEM), made in `work`.
# STREAMS raises nginx's concurrent streams per HTTP/2 connection (default 128) to at
# least that many, so that a client asking for more streams is not held back.

# Writes a self-signed ECDSA P-256 certificate and key for 127.0.0.1 into $work. It says
# CA:FALSE because rustls refuses a CA certificate as a server's own, and names the IP
# address because that is the host the clients connect to.
make_throwaway_cert() {
  command -v openssl >/dev/null || { echo "$(basename "$0"): openssl not found (apt-get install openssl)" >&2; exit 2; }
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -addext basicConstraints=critical,CA:FALSE \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>"$work/openssl.log" ||
    { cat "$work/openssl.log" >&2; exit 1; }
  cert="$work/cert.pem"
}

start_pinned_nginx() {
  local cpu=$1 protocol=${2:-h1} streams=${3:-128} port listen scheme=http tls_conf='' probe=()
  command -v nginx >/dev/null || { echo "$(basename "$0"): nginx not found (apt-get install nginx-light)" >&2; exit 2; }
  work=$(mktemp -d)
  # Armed before anything can fail, so that the folder never outlives the script.
  nginx_pid=
  trap '[ -n "$nginx_pid" ] && { kill "$nginx_pid" 2>/dev/null || true; wait "$nginx_pid" 2>/dev/null || true; }; rm -rf "$work"' EXIT
  trap 'exit 130' INT TERM
  port=${BENCH_NGINX_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
  [ "$streams" -ge 128 ] || streams=128
  case "$protocol" in
    h1 | pipeline) listen="127.0.0.1:$port" ;;
    h2c) listen="127.0.0.1:$port http2"; probe=(--http2-prior-knowledge) ;;
    h1-tls | h2)
      make_throwaway_cert
      scheme=https
      probe=(--cacert "$cert")
      if [ "$protocol" = h2 ]; then listen="127.0.0.1:$port ssl http2"; probe+=(--http2); else listen="127.0.0.1:$port ssl"; fi
      # One TLS version and one cipher for every client: left to choose, h2load asks for
      # AES-128-GCM first while OpenSSL's and rustls's defaults put AES-256-GCM first,
      # and every request and answer pays for the cipher.
      tls_conf="ssl_certificate $work/cert.pem; ssl_certificate_key $work/key.pem; ssl_protocols TLSv1.3;"
      tls_conf="$tls_conf ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256;"
      ;;
    *) echo "$(basename "$0"): unknown protocol $protocol (h1, h1-tls, h2c, h2, pipeline)" >&2; exit 2 ;;
  esac
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
  http2_max_concurrent_streams $streams;
  $tls_conf
  server {
    listen $listen;
    location / { default_type application/json; return 200 '{"status":"healthy"}'; }
  }
}
CONF
  taskset -c "$cpu" nginx -c "$work/nginx.conf" -p "$work" &
  nginx_pid=$!
  url="$scheme://127.0.0.1:$port/"
  for _ in $(seq 50); do curl -fs "${probe[@]}" "$url" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "$(basename "$0"): nginx did not answer $protocol on $url" >&2
  cat "$work/error.log" >&2 2>/dev/null || true
  exit 1
}
