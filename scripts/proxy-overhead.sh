#!/usr/bin/env bash
# What the harness's proxy between services adds, measured side by side.
#
# Runs the same load against one server directly and through `lanebench proxy`, round by
# round, with the placement `run` uses on 2 CPUs: the server on CPU 0, the proxy and the
# load generator sharing CPU 1. Three loads per round, each direct and proxied:
#   lanebench  closed loop, C connections: the most the pair can do, and its latency;
#   wrk        the same with wrk as the peer generator (a second opinion on the first);
#   lb-rate    lanebench open loop at R requests/s: latency at an equal, moderate load,
#              where the difference is what the hop adds and not a CPU fight.
# For proxied runs it also reads the proxy's own figures (reset before, read after):
# its CPU time per forwarded request (from /proc: user + system of the proxy process),
# the failures it saw (upstream failures and malformed requests: must be 0), and the
# requests abandoned by the generator (those in flight when a run stopped: a few).
#
# Usage: scripts/proxy-overhead.sh [-c CONNECTIONS] [-d SECONDS] [-r ROUNDS] [-R RATE]
#                                  [-u HOST:PORT] [-p PATH]
#   -u  measure a server already running on loopback (a target started by hand, pinned
#       by you) instead of a `lanebench-fixture` the script starts on CPU 0
#   -p  the path requested (default /api/users/1/orders, the order service's GET)
# Needs: wrk, taskset, python3, 2+ CPUs, a release build (cargo build --release -p
# lanebench; LANEBENCH=path/to/lanebench to use another). Prints its figures; keeps
# nothing.
set -euo pipefail

connections=16
seconds=5
rounds=3
rate=2000
upstream=""
path=/api/users/1/orders
while getopts "c:d:r:R:u:p:h" opt; do
  case "$opt" in
    c) connections=$OPTARG ;;
    d) seconds=$OPTARG ;;
    r) rounds=$OPTARG ;;
    R) rate=$OPTARG ;;
    u) upstream=$OPTARG ;;
    p) path=$OPTARG ;;
    *) sed -n '2,23p' "$0"; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
lanebench=${LANEBENCH:-$root/target/release/lanebench}
fixture=$(dirname "$lanebench")/lanebench-fixture
for tool in wrk taskset python3; do
  command -v "$tool" >/dev/null || { echo "proxy-overhead: $tool not found (apt-get install wrk util-linux python3)" >&2; exit 2; }
done
[ -x "$lanebench" ] || { echo "proxy-overhead: $lanebench not built (cargo build --release -p lanebench)" >&2; exit 2; }
[ "$(nproc)" -ge 2 ] || { echo "proxy-overhead: needs at least 2 CPUs" >&2; exit 2; }
server_cpu=0
side_cpu=1
ticks=$(getconf CLK_TCK)

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_listening NAME CMD...: starts CMD in the background and waits for the first line
# it prints (`listening on ...`), kept in $work/NAME.
start_listening() {
  local name=$1
  shift
  "$@" >"$work/$name" 2>"$work/$name.err" &
  pids+=("$!")
  for _ in $(seq 200); do
    [ -s "$work/$name" ] && return 0
    kill -0 "$!" 2>/dev/null || break
    sleep 0.05
  done
  echo "proxy-overhead: $name did not start: $(tail -n 3 "$work/$name.err")" >&2
  exit 1
}

if [ -z "$upstream" ]; then
  [ -x "$fixture" ] || { echo "proxy-overhead: $fixture not built" >&2; exit 2; }
  start_listening fixture taskset -c "$server_cpu" "$fixture" --port 0 --mode ok
  upstream=$(sed -n 's/^listening on //p' "$work/fixture")
  server="lanebench-fixture on CPU $server_cpu"
else
  server="$upstream (started by hand)"
fi
start_listening proxy taskset -c "$side_cpu" "$lanebench" proxy --upstream "$upstream"
proxy_pid=${pids[-1]}
read -r proxy_addr control_addr < <(sed -n 's/^listening on \(.*\) control \(.*\)$/\1 \2/p' "$work/proxy")

proxy_cpu_ticks() { awk '{print $14 + $15}' "/proc/$proxy_pid/stat"; }
control() { python3 - "$control_addr" "$1" <<'PY'
import json, sys, urllib.request
addr, query = sys.argv[1], sys.argv[2]
with urllib.request.urlopen(f"http://{addr}/stats{query}", timeout=5) as r:
    s = json.load(r)
f = s["upstream_failures"]
print(s["requests_forwarded"], sum(f.values()) + s["client_malformed"], s["client_abandoned"])
PY
}

# Each prints "<requests/s> <p50 ms> <p99 ms>" for URL $1.
run_lanebench() {
  taskset -c "$side_cpu" "$lanebench" load -q -c "$connections" -d "${seconds}s" --threads 1 --json "$work/lb.json" "$1" >/dev/null
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); l=d["latency_ms"]; print(round(d["success_rps"]), l["p50"], l["p99"])' "$work/lb.json"
}
run_lb_rate() {
  taskset -c "$side_cpu" "$lanebench" load -q -c "$connections" -d "${seconds}s" --threads 1 --rate "$rate" --json "$work/lb.json" "$1" >/dev/null
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); l=d["latency_ms"]; print(round(d["success_rps"]), l["p50"], l["p99"])' "$work/lb.json"
}
run_wrk() {
  taskset -c "$side_cpu" wrk -t1 -c "$connections" -d "${seconds}s" --latency "$1" >"$work/wrk.out"
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^Requests\/sec:/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    END { printf "%.0f %s %s\n", rps, p50, p99 }' "$work/wrk.out"
}

echo "server: $server; proxy and generators on CPU $side_cpu; $connections connections, ${seconds}s per run, $rounds rounds, lb-rate at $rate/s"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) CPUs, kernel $(uname -r); $("$lanebench" --version), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
printf '%-5s %-9s %-8s %10s %9s %9s %12s %9s %9s\n' round load path req/s p50_ms p99_ms proxy_us/req failures abandoned
results="$work/results"
: >"$results"
for round in $(seq "$rounds"); do
  for load in lanebench wrk lb-rate; do
    for via in direct proxied; do
      if [ "$via" = direct ]; then url="http://$upstream$path"; else url="http://$proxy_addr$path"; fi
      control '?reset=1' >/dev/null
      before=$(proxy_cpu_ticks)
      read -r rps p50 p99 < <("run_${load//-/_}" "$url")
      after=$(proxy_cpu_ticks)
      read -r forwarded failures abandoned < <(control '?reset=1')
      us="-"
      if [ "$via" = proxied ]; then
        us=$(awk -v t=$((after - before)) -v hz="$ticks" -v n="$forwarded" 'BEGIN { printf "%.1f", (n > 0) ? t / hz * 1e6 / n : 0 }')
      fi
      if [ "$via" = direct ]; then failures="-" abandoned="-"; fi
      printf '%-5s %-9s %-8s %10s %9s %9s %12s %9s %9s\n' "$round" "$load" "$via" "$rps" "$p50" "$p99" "$us" "$failures" "$abandoned"
      echo "$load $via $rps $p50 $p99 $us" >>"$results"
    done
  done
done

echo
echo "medians over $rounds rounds (proxied against direct):"
python3 - "$results" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
def med(load, via, col):
    return statistics.median(float(r[col]) for r in rows if r[0] == load and r[1] == via)
for load in ["lanebench", "wrk", "lb-rate"]:
    d = [med(load, "direct", c) for c in (2, 3, 4)]
    p = [med(load, "proxied", c) for c in (2, 3, 4)]
    cpu = med(load, "proxied", 5)
    print(f"  {load:9s} req/s {d[0]:>8.0f} -> {p[0]:>8.0f} ({p[0] / d[0]:.2f}x)   "
          f"p50 +{p[1] - d[1]:.3f} ms   p99 +{p[2] - d[2]:.3f} ms   proxy CPU {cpu:.1f} us/request")
PY
