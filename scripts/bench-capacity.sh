#!/usr/bin/env bash
# Does the capacity search find a known capacity? `lanebench run` on a `[capacity]`
# scenario against the fixture server with `--service-us N` (one request at a time, each
# holding one lock for N µs of wall time: at most 1,000,000 / N requests per second by
# construction), beside wrk's closed-loop peak of a fresh process of the same fixture.
#
# For each service time, on 2 CPUs (server on CPU 0, generator on CPU 1, nice -n -15):
#   wrk   the fixture pinned to CPU 0, `wrk -t1 -c8 -d5s` three times: its peak, the
#         highest rate it can carry at any latency (the "true" capacity the search should
#         approach when the objective's bound is many service times);
#   run   `lanebench run` of a capacity scenario (GET /health, 16 connections, p99 <= B,
#         R searches, 2 s probes, 5% precision) on the fixture as a target.
# Prints per service time: the construction's bound, wrk's peak, each search's verdict and
# the capacity's ratio to both; keeps nothing unless told where (-o).
#
# Usage: scripts/bench-capacity.sh [-s "US US ..."] [-b BOUND] [-r SEARCHES] [-o DIR]
#   -s  service times in µs (default "100 250 1000")
#   -b  the objective's p99 bound (default 10ms)
#   -r  searches per service time (default 3)
#   -o  keep each run's results folder in DIR (created; must not exist)
# Needs: wrk, taskset, python3 (3.11+), 2+ CPUs, a release build (cargo build --release
# -p lanebench; LANEBENCH=path/to/lanebench and FIXTURE=path/to/lanebench-fixture to use
# other builds).
set -euo pipefail

services="100 250 1000"
bound=10ms
searches=3
keep=""
while getopts "s:b:r:o:h" opt; do
  case "$opt" in
    s) services=$OPTARG ;;
    b) bound=$OPTARG ;;
    r) searches=$OPTARG ;;
    o) keep=$OPTARG ;;
    *) sed -n '2,24p' "$0"; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
lanebench=${LANEBENCH:-$root/target/release/lanebench}
fixture=${FIXTURE:-$root/target/release/lanebench-fixture}
for tool in wrk taskset python3; do
  command -v "$tool" >/dev/null || { echo "bench-capacity: $tool not found" >&2; exit 2; }
done
for binary in "$lanebench" "$fixture"; do
  [ -x "$binary" ] || { echo "bench-capacity: $binary not built (cargo build --release -p lanebench)" >&2; exit 2; }
done
[ "$(nproc)" -ge 2 ] || { echo "bench-capacity: needs at least 2 CPUs" >&2; exit 2; }
for us in $services; do
  [[ "$us" =~ ^[1-9][0-9]*$ ]] || { echo "bench-capacity: -s: \`$us\` is not a whole number of µs" >&2; exit 2; }
done
[[ "$searches" =~ ^[1-9][0-9]*$ ]] || { echo "bench-capacity: -r: \`$searches\` is not a count" >&2; exit 2; }
if [ -n "$keep" ]; then
  [ ! -e "$keep" ] || { echo "bench-capacity: -o $keep: already exists" >&2; exit 2; }
  mkdir -p "$keep" || { echo "bench-capacity: -o $keep: cannot create it" >&2; exit 2; }
fi

work=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wrk's peak of a fresh fixture: the best of three 5 s closed loops at 8 connections.
wrk_peak() {
  local us=$1 port=18931 best=0 rps
  taskset -c 0 nice -n -15 "$fixture" --port "$port" --service-us "$us" >/dev/null 2>&1 &
  server=$!
  for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  for _ in 1 2 3; do
    rps=$(taskset -c 1 nice -n -15 wrk -t1 -c8 -d5s "http://127.0.0.1:$port/health" | awk '/Requests\/sec/ {print $2}')
    best=$(python3 -c "print(max($best, $rps))")
  done
  kill "$server"; wait "$server" 2>/dev/null || true; server=""
  echo "$best"
}

printf '%-8s %10s %10s  %-44s %9s %9s\n' "service" "1e6/us" "wrk peak" "searches (verdict capacity)" "vs 1e6/us" "vs wrk"
for us in $services; do
  peak=$(wrk_peak "$us")
  mkdir -p "$work/$us/targets/fixture"
  cat > "$work/$us/targets/fixture/target.toml" <<EOF
name = "fixture"
framework = "Fixture"
language = "rust"
version = "1"
build = "true"
run = "exec $fixture --service-us $us"
health = "/health"
EOF
  cat > "$work/$us/capacity.toml" <<EOF
name = "capacity-fixture"
duration = "2s"
warmup = "2s"
warmup_max = "20s"
repeats = $searches
connections = [16]
startup_samples = 1

[capacity]
objective = "p99 <= $bound"
lowest = 250
precision = "5%"

[[request]]
name = "health"
path = "/health"
expect_status = 200
EOF
  nice -n -15 "$lanebench" run --scenario "$work/$us/capacity.toml" --targets-dir "$work/$us/targets" \
    --out "$work/$us/out" >"$work/$us/run.log" 2>&1 || { tail -5 "$work/$us/run.log" >&2; exit 1; }
  python3 - "$work/$us/out/results.json" "$us" "$peak" <<'PY'
import json, statistics, sys
results, us, peak = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
target = json.load(open(results))["targets"][0]
searches = target["capacity"]["searches"]
said = " ".join(f"{s['verdict']['kind']} {s['verdict'].get('capacity_rps', 0):.0f}" for s in searches)
found = [s["verdict"]["capacity_rps"] for s in searches if "capacity_rps" in s["verdict"]]
built = 1e6 / us
if found:
    median = statistics.median(found)
    print(f"{us:6.0f}us {built:10.0f} {peak:10.0f}  {said:<44} {median / built:9.3f} {median / peak:9.3f}")
else:
    print(f"{us:6.0f}us {built:10.0f} {peak:10.0f}  {said:<44} {'-':>9} {'-':>9}")
PY
  if [ -n "$keep" ]; then
    cp -r "$work/$us/out" "$keep/$us-us"
  fi
done
