#!/usr/bin/env bash
# Generator efficiency, measured side by side with its peers in the same run.
#
# Pins a fast local server (nginx, one worker) to one CPU and each generator to another,
# runs `lanebench load`, wrk and (when installed) oha against the same URL with the same
# connection count, interleaved round by round, and prints for each: requests per second
# and requests per generator CPU-second (user + system time of the generator process).
# The second figure is the one that matters: a generator that needs less CPU per request
# is further from becoming the bottleneck.
#
# Usage: scripts/bench-generator.sh [-c CONNECTIONS] [-d SECONDS] [-r ROUNDS]
# Needs: nginx and wrk (Debian: apt-get install nginx-light wrk), a release build
# (cargo build --release -p lanebench), 2+ CPUs.
set -euo pipefail

connections=64
seconds=5
rounds=3
while getopts "c:d:r:h" opt; do
  case "$opt" in
    c) connections=$OPTARG ;;
    d) seconds=$OPTARG ;;
    r) rounds=$OPTARG ;;
    *) sed -n '2,15p' "$0"; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
lanebench=${LANEBENCH:-$root/target/release/lanebench}
for tool in wrk taskset; do
  command -v "$tool" >/dev/null || { echo "bench-generator: $tool not found (apt-get install nginx-light wrk util-linux)" >&2; exit 2; }
done
[ -x "$lanebench" ] || { echo "bench-generator: $lanebench not built (cargo build --release -p lanebench)" >&2; exit 2; }
ncpu=$(nproc)
[ "$ncpu" -ge 2 ] || { echo "bench-generator: needs at least 2 CPUs to pin server and generator apart" >&2; exit 2; }
server_cpu=0
gen_cpu=1

# shellcheck source=lib/pinned-nginx.sh
. "$root/scripts/lib/pinned-nginx.sh"
start_pinned_nginx "$server_cpu"

# Runs "$@" pinned to the generator CPU; prints "<user+sys CPU seconds>" on fd 3.
cpu_of() {
  local TIMEFORMAT='%3U %3S'
  { time taskset -c "$gen_cpu" "$@" >"$work/out" 2>"$work/err"; } 2>"$work/time"
  awk '{print $1 + $2}' "$work/time"
}

run_lanebench() {
  local cpu req
  cpu=$(cpu_of "$lanebench" load -q -c "$connections" -d "${seconds}s" --threads 1 --json "$work/lb.json" "$url")
  req=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"])' "$work/lb.json")
  echo "$req $cpu"
}
run_wrk() {
  local cpu req
  cpu=$(cpu_of wrk -t1 -c "$connections" -d "${seconds}s" "$url")
  req=$(awk '/requests in/ {print $1}' "$work/out")
  echo "$req $cpu"
}
run_oha() {
  local cpu req
  cpu=$(cpu_of oha --no-tui --output-format json -c "$connections" -z "${seconds}s" "$url")
  req=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(d["statusCodeDistribution"].values()))' "$work/out")
  echo "$req $cpu"
}

tools="lanebench wrk"
command -v oha >/dev/null && tools="$tools oha"
echo "server: nginx (1 worker) on CPU $server_cpu; generators on CPU $gen_cpu; $connections connections, ${seconds}s per run, $rounds rounds"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $ncpu CPUs, kernel $(uname -r)"
echo "versions: $("$lanebench" --version), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)$(command -v oha >/dev/null && echo ", $(oha --version)")"
printf '%-6s %-10s %12s %10s %16s\n' round tool requests/s cpu_s req/cpu-s
declare -A per_cpu
for round in $(seq "$rounds"); do
  for tool in $tools; do
    read -r req cpu < <("run_$tool")
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
