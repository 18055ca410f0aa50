#!/usr/bin/env bash
# Open-loop precision: does a scheduled send leave on time, and does the corrected
# latency carry the generator's own lateness?
#
# Pins a fast local server (nginx, one worker, answers in ~0.1 ms) to one CPU and the
# generator to another, then for each rate runs `lanebench load --rate` and prints the
# send lag (actual send minus when it could have left) p50/p99, the corrected and the
# service (uncorrected) median, and their difference. Against a server this fast the
# difference is the error the schedule adds to every corrected figure: it should be
# within 0.1 ms. When wrk2 is on PATH (or WRK2=/path/to/wrk), it runs in the same rounds,
# interleaved, with the same connections and rate, and its corrected and uncorrected
# medians are printed beside ours.
#
# Usage: scripts/bench-schedule.sh [-c CONNECTIONS] [-d SECONDS] [-r "RATE ..."] [-n ROUNDS]
# Needs: nginx (Debian: apt-get install nginx-light), a release build
# (cargo build --release -p lanebench), 2+ CPUs.
set -euo pipefail

connections=16
seconds=5
rates="200 1000 5000 20000"
rounds=1
while getopts "c:d:r:n:h" opt; do
  case "$opt" in
    c) connections=$OPTARG ;;
    d) seconds=$OPTARG ;;
    r) rates=$OPTARG ;;
    n) rounds=$OPTARG ;;
    *) sed -n '2,17p' "$0"; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
lanebench=${LANEBENCH:-$root/target/release/lanebench}
[ -x "$lanebench" ] || { echo "bench-schedule: $lanebench not built (cargo build --release -p lanebench)" >&2; exit 2; }
command -v taskset >/dev/null || { echo "bench-schedule: taskset not found (apt-get install util-linux)" >&2; exit 2; }
[ "$(nproc)" -ge 2 ] || { echo "bench-schedule: needs at least 2 CPUs to pin server and generator apart" >&2; exit 2; }
wrk2=${WRK2:-$(command -v wrk2 || true)}
server_cpu=0
gen_cpu=1

# shellcheck source=lib/pinned-nginx.sh
. "$root/scripts/lib/pinned-nginx.sh"
start_pinned_nginx "$server_cpu"

# Prints: rps lag_p50 lag_p99 corrected_p50 service_p50 generator_cpu_percent (ms)
run_lanebench() {
  taskset -c "$gen_cpu" "$lanebench" load -q --rate "$1" -c "$connections" -d "${seconds}s" \
    --warmup 1s --threads 1 --json "$work/lb.json" "$url" >/dev/null
  python3 - "$work/lb.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["schedule"]
print(f'{r["success_rps"]:.0f} {s["lag_ms"]["p50"]:.3f} {s["lag_ms"]["p99"]:.3f} '
      f'{r["latency_ms"]["p50"]:.3f} {r["latency_uncorrected_ms"]["p50"]:.3f} '
      f'{100 * r["generator"]["utilisation"]:.1f}')
PY
}

# Prints: rps corrected_p50 service_p50 (ms)
run_wrk2() {
  taskset -c "$gen_cpu" "$wrk2" -t1 -c "$connections" -d "${seconds}s" -R "$1" --latency -U "$url" >"$work/wrk2.out" 2>&1
  python3 - "$work/wrk2.out" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def ms(v, unit):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
medians = [ms(v, u) for v, u in re.findall(r"^\s*50\.000%\s+([\d.]+)(us|ms|s)$", text, re.M)]
rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
print(f'{float(rps.group(1)) if rps else 0:.0f} {medians[0] if medians else float("nan"):.3f} '
      f'{medians[1] if len(medians) > 1 else float("nan"):.3f}')
PY
}

echo "server: nginx (1 worker) on CPU $server_cpu; generator on CPU $gen_cpu; $connections connections, ${seconds}s per rate (+1s warm-up for lanebench), $rounds round(s)"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) CPUs, kernel $(uname -r)"
echo "versions: $("$lanebench" --version)${wrk2:+, wrk2 at $wrk2}"
printf '%-5s %-9s %7s %9s %9s %9s %9s %9s %6s\n' round tool rate rps lag_p50 lag_p99 corr_p50 serv_p50 diff
for round in $(seq "$rounds"); do
  for rate in $rates; do
    read -r rps lag50 lag99 c50 s50 gcpu < <(run_lanebench "$rate")
    printf '%-5s %-9s %7s %9s %9s %9s %9s %9s %6s   (generator CPU %s%%)\n' "$round" lanebench "$rate" "$rps" "$lag50" "$lag99" "$c50" "$s50" \
      "$(awk -v a="$c50" -v b="$s50" 'BEGIN{printf "%.3f", a-b}')" "$gcpu"
    if [ -n "$wrk2" ]; then
      read -r rps c50 s50 < <(run_wrk2 "$rate")
      printf '%-5s %-9s %7s %9s %9s %9s %9s %9s %6s\n' "$round" wrk2 "$rate" "$rps" - - "$c50" "$s50" \
        "$(awk -v a="$c50" -v b="$s50" 'BEGIN{printf "%.3f", a-b}')"
    fi
  done
done
echo
echo "lag: actual send minus the later of the slot and the moment the connection was free (ms);"
echo "corr/serv: median latency from the intended send / from the actual send (ms); diff = corr - serv."
