#!/usr/bin/env bash
# Generator efficiency, measured side by side with its peers in the same run.
#
# Pins a fast local server (nginx, one worker) to one CPU and each generator to another,
# runs `lanebench load` and its peers against the same URL with the same connection count
# and duration, interleaved round by round, and prints for each: requests per second and
# requests per generator CPU-second (user + system time of the generator process).
# The second figure is the one that matters: a generator that needs less CPU per request
# is further from becoming the bottleneck.
#
# Usage: scripts/bench-generator.sh [-p PROTOCOL] [-m N] [-c CONNECTIONS] [-d SECONDS] [-r ROUNDS]
# Needs: nginx, wrk and h2load (Debian: apt-get install nginx-light wrk nghttp2-client),
# a release build (cargo build --release -p lanebench), 2+ CPUs; oha when installed.
#
# -p PROTOCOL, what is compared (every tool gets one thread, the same connections):
#   h1        plain HTTP/1.1 (default): lanebench, wrk, oha.
#   h1-tls    HTTP/1.1 over TLS: lanebench --insecure, wrk (https URL), oha --insecure.
#   h2c       HTTP/2 with prior knowledge: lanebench --http2 --streams M, h2load -m M,
#             oha --http2 -p M (oha speaks h2c with prior knowledge to an http:// URL).
#   h2        HTTP/2 over TLS, chosen by ALPN: the same three, over https.
#   pipeline  HTTP/1.1, M requests written per connection before the answers:
#             lanebench --pipeline M, wrk with a Lua script whose every write is M
#             copies of the request (TechEmpower's method).
# -m N        streams per connection for h2c/h2 (default 10), depth for pipeline (default 16).
#
# TLS: nginx serves a throwaway self-signed ECDSA P-256 certificate made per run, TLS 1.3
# with TLS_AES_128_GCM_SHA256 only, so every client pays for the same cipher. No client
# checks the chain (wrk and h2load never do; lanebench and oha are told --insecure;
# lanebench's --cacert would accept this certificate too, but would check what the
# peers skip). With keep-alive a run does one handshake per connection: the TLS figures
# are the cost of record encryption, not of handshakes.
# Counts are successful answers only: lanebench's `successes` (status 200), wrk's
# requests less its "Non-2xx or 3xx responses", h2load's "succeeded" (streams closed
# without error; its 2xx count if that is lower), oha's 2xx answers from its JSON.
# Caveats: every tool stops at the deadline without counting what is still in flight
# (up to C*M requests with depth M), though it spent CPU on sending them. oha runs with
# --worker-threads 1 (its default is one thread per core, which on one pinned CPU only
# adds switching). oha cannot pipeline; wrk cannot speak HTTP/2.
# oha: pinned to 1.16.0 (cargo install oha --version 1.16.0 --locked --root DIR); found
# at $OHA or on PATH; without it its rows are left out.
set -euo pipefail

oha_pinned=1.16.0
protocol=h1
depth=
connections=64
seconds=5
rounds=3
while getopts "p:m:c:d:r:h" opt; do
  case "$opt" in
    p) protocol=$OPTARG ;;
    m) depth=$OPTARG ;;
    c) connections=$OPTARG ;;
    d) seconds=$OPTARG ;;
    r) rounds=$OPTARG ;;
    *) sed -n '2,40p' "$0"; exit 2 ;;
  esac
done
case "$protocol" in
  h1 | h1-tls)
    [ -z "$depth" ] || { echo "bench-generator: -m is for h2c, h2 and pipeline" >&2; exit 2; }
    tools="lanebench wrk"; needs="wrk"
    ;;
  h2c | h2) tools="lanebench h2load"; needs="h2load"; depth=${depth:-10} ;;
  pipeline) tools="lanebench wrk"; needs="wrk"; depth=${depth:-16} ;;
  *) echo "bench-generator: unknown protocol $protocol (h1, h1-tls, h2c, h2, pipeline)" >&2; exit 2 ;;
esac
if [ -n "$depth" ] && ! [ "$depth" -ge 1 ] 2>/dev/null; then
  echo "bench-generator: -m needs a positive number" >&2; exit 2
fi

root=$(cd "$(dirname "$0")/.." && pwd)
lanebench=${LANEBENCH:-$root/target/release/lanebench}
oha=${OHA:-$(command -v oha || true)}
for tool in $needs taskset; do
  command -v "$tool" >/dev/null || { echo "bench-generator: $tool not found (apt-get install nginx-light wrk nghttp2-client util-linux)" >&2; exit 2; }
done
[ -x "$lanebench" ] || { echo "bench-generator: $lanebench not built (cargo build --release -p lanebench)" >&2; exit 2; }
ncpu=$(nproc)
[ "$ncpu" -ge 2 ] || { echo "bench-generator: needs at least 2 CPUs to pin server and generator apart" >&2; exit 2; }
server_cpu=0
gen_cpu=1
[ -n "$oha" ] && [ "$protocol" != pipeline ] && tools="$tools oha"

# shellcheck source=lib/pinned-nginx.sh
. "$root/scripts/lib/pinned-nginx.sh"
start_pinned_nginx "$server_cpu" "$protocol" "${depth:-1}"

# What each tool is told besides connections, duration and URL.
lb_flags=()
oha_flags=()
wrk_flags=()
case "$protocol" in
  h1-tls) lb_flags=(--insecure); oha_flags=(--insecure) ;;
  h2c) lb_flags=(--http2 --streams "$depth"); oha_flags=(--http2 -p "$depth") ;;
  h2) lb_flags=(--http2 --streams "$depth" --insecure); oha_flags=(--http2 -p "$depth" --insecure) ;;
  pipeline)
    lb_flags=(--pipeline "$depth")
    # wrk calls request() for each write; one write carries the whole batch.
    cat >"$work/pipeline.lua" <<'LUA'
local batch
function init(args)
  batch = string.rep(wrk.format(), tonumber(args[1]))
end
function request()
  return batch
end
LUA
    wrk_flags=(-s "$work/pipeline.lua")
    ;;
esac

# Runs "$@" pinned to the generator CPU, its output in $work/out; prints its user + system
# CPU seconds.
cpu_of() {
  local TIMEFORMAT='%3U %3S'
  { time taskset -c "$gen_cpu" "$@" >"$work/out" 2>"$work/err"; } 2>"$work/time" ||
    { echo "bench-generator: failed: $*" >&2; cat "$work/err" >&2; exit 1; }
  awk '{print $1 + $2}' "$work/time"
}

run_lanebench() {
  local cpu req
  cpu=$(cpu_of "$lanebench" load -q -c "$connections" -d "${seconds}s" --threads 1 "${lb_flags[@]}" --json "$work/lb.json" "$url")
  # What it states it spoke guards against a flag that was dropped on the way.
  req=$(python3 - "$work/lb.json" "${protocol/pipeline/h1}" "${depth:-1}" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = d.get("protocol") or {}
spoke = f'{p.get("name", "h1")} depth {p.get("streams", p.get("pipeline", 1))}'
if spoke != f"{sys.argv[2]} depth {sys.argv[3]}":
    sys.exit(f"bench-generator: lanebench spoke {spoke}, not {sys.argv[2]} depth {sys.argv[3]}")
print(d["successes"])
PY
  )
  echo "$req $cpu"
}
run_wrk() {
  local cpu req
  if [ "$protocol" = pipeline ]; then
    cpu=$(cpu_of wrk -t1 -c "$connections" -d "${seconds}s" "${wrk_flags[@]}" "$url" -- "$depth")
  else
    cpu=$(cpu_of wrk -t1 -c "$connections" -d "${seconds}s" "$url")
  fi
  req=$(awk '/requests in/ {n = $1} /Non-2xx or 3xx responses:/ {bad = $NF} END {print n - bad}' "$work/out")
  echo "$req $cpu"
}
run_h2load() {
  local cpu req
  cpu=$(cpu_of h2load -c "$connections" -m "$depth" -t 1 -D "$seconds" "$url")
  req=$(awk '/^requests:/ {ok = $8} /^status codes:/ {two = $3} END {print (two != "" && two < ok) ? two : ok}' "$work/out")
  echo "$req $cpu"
}
run_oha() {
  local cpu req
  cpu=$(cpu_of "$oha" --no-tui --output-format json --worker-threads 1 -c "$connections" -z "${seconds}s" "${oha_flags[@]}" "$url")
  req=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(n for code, n in d["statusCodeDistribution"].items() if code.startswith("2")))' "$work/out")
  echo "$req $cpu"
}

versions="$("$lanebench" --version)"
case " $tools " in *" wrk "*) versions="$versions, $( (wrk -v 2>&1 || true) | head -1 | cut -d' ' -f1-2)" ;; esac
case " $tools " in *" h2load "*) versions="$versions, $(h2load --version | head -1)" ;; esac
case " $tools " in *" oha "*) versions="$versions, $("$oha" --version) (pinned $oha_pinned)" ;; esac
echo "protocol: $protocol${depth:+, depth $depth per connection}; $url"
echo "server: nginx (1 worker) on CPU $server_cpu; generators on CPU $gen_cpu; $connections connections, ${seconds}s per run, $rounds rounds"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $ncpu CPUs, kernel $(uname -r)"
echo "versions: $versions"
printf '%-6s %-10s %12s %10s %16s\n' round tool requests/s cpu_s req/cpu-s
declare -A per_cpu
for round in $(seq "$rounds"); do
  for tool in $tools; do
    read -r req cpu < <("run_$tool")
    [ "${req:-0}" -gt 0 ] 2>/dev/null || { echo "bench-generator: $tool got no successful answer" >&2; cat "$work/out" "$work/err" >&2; exit 1; }
    rps=$(awk -v r="$req" -v s="$seconds" 'BEGIN{printf "%.0f", r/s}')
    rpc=$(awk -v r="$req" -v c="$cpu" 'BEGIN{printf "%.0f", (c>0)? r/c : 0}')
    per_cpu[$tool]="${per_cpu[$tool]:-} $rpc"
    printf '%-6s %-10s %12s %10s %16s\n' "$round" "$tool" "$rps" "$cpu" "$rpc"
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
lb=$(echo "${per_cpu[lanebench]}" | median)
echo
for tool in $tools; do
  m=$(echo "${per_cpu[$tool]}" | median)
  printf 'median requests per CPU-second  %-10s %10.0f   lanebench / %s = %.2f\n' "$tool" "$m" "$tool" "$(awk -v a="$lb" -v b="$m" 'BEGIN{print (b>0)? a/b : 0}')"
done
