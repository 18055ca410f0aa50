#!/usr/bin/env bash
# Is a warming runtime measured warm? `lanebench run`'s figure against the same process a
# minute later, and against wrk on a fresh process of the same target, round by round.
#
# Each round, on 2 CPUs (server on CPU 0, generator on CPU 1, both under nice -n -15):
#   run   `lanebench run --targets T` on a scenario of one level (C connections, GET
#         /api/users/1, the minimum warm-up W, the default 60 s cap, 10 s repeats), with
#         8 repeats on the one process: the first is the figure a one-repeat run publishes,
#         right after the warm-up; repeats 7-8 are the same process after a further minute
#         of warm load (the reference the figure must be within 10% of);
#   wrk   a fresh process of T started from its manifest the same way (WORKERS=1, pinned),
#         then `wrk -t1 -cC -d15s` twelve times back to back (3 minutes): what wrk reads at
#         each age of the process, after a minute (60-75 s) and on its plateau (last 4).
# Prints one line per round with the ratios, the repeats in order, the caveats `run` left
# on the level (a noisy round is not a verdict), and wrk's windows; keeps nothing unless
# told where (-o).
#
# Usage: scripts/bench-warmup.sh [-t TARGET] [-c CONNECTIONS] [-r ROUNDS] [-w WARMUP] [-o DIR]
#   -t  target name under targets/ (default spring-boot)
#   -c  connections (default 64)     -r  rounds (default 3)
#   -w  the scenario's minimum warm-up (default 2s, as in the issue that asked for this)
#   -o  keep each round's results folder and logs in DIR (created; must not exist)
# Needs: wrk, taskset, python3 (3.11+), curl, 2+ CPUs, a release build (cargo build
# --release -p lanebench; LANEBENCH=path/to/lanebench to use another), the target built.
set -euo pipefail

target=spring-boot
connections=64
rounds=3
warmup=2s
keep=""
while getopts "t:c:r:w:o:h" opt; do
  case "$opt" in
    t) target=$OPTARG ;;
    c) connections=$OPTARG ;;
    r) rounds=$OPTARG ;;
    w) warmup=$OPTARG ;;
    o) keep=$OPTARG ;;
    *) sed -n '2,24p' "$0"; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
lanebench=${LANEBENCH:-$root/target/release/lanebench}
manifest=$root/targets/$target/target.toml
for tool in wrk taskset python3 curl; do
  command -v "$tool" >/dev/null || { echo "bench-warmup: $tool not found" >&2; exit 2; }
done
[ -x "$lanebench" ] || { echo "bench-warmup: $lanebench not built (cargo build --release -p lanebench)" >&2; exit 2; }
[ -f "$manifest" ] || { echo "bench-warmup: $manifest: no such target" >&2; exit 2; }
[ "$(nproc)" -ge 2 ] || { echo "bench-warmup: needs at least 2 CPUs" >&2; exit 2; }
if [ -n "$keep" ]; then
  [ ! -e "$keep" ] || { echo "bench-warmup: -o $keep: already exists" >&2; exit 2; }
  mkdir -p "$keep" || { echo "bench-warmup: -o $keep: cannot create it" >&2; exit 2; }
fi

work=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then
    kill -TERM -- "-$server" 2>/dev/null || true
    sleep 1
    kill -KILL -- "-$server" 2>/dev/null || true
  fi
  if [ -n "$keep" ]; then cp -r "$work"/. "$keep"/ 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cat >"$work/check.toml" <<EOF
name = "warmup-check"
description = "GET /api/users/1 at $connections connections, $warmup minimum warm-up, 8 repeats on one process"
duration = "10s"
warmup = "$warmup"
warmup_max = "60s"
repeats = 8
connections = [$connections]
startup_samples = 1

[[request]]
name = "user"
path = "/api/users/1"
expect_status = 200
EOF

run_cmd=$(python3 -c 'import sys,tomllib; print(tomllib.load(open(sys.argv[1],"rb"))["run"])' "$manifest")

# One `lanebench run`: prints "figure warmup_s steady later" on its first line, then the
# repeats in order and the level's caveats.
lanebench_round() {
  local out=$work/run-$1
  nice -n -15 "$lanebench" run --targets "$target" --scenario "$work/check.toml" --out "$out" \
    >"$work/run-$1.log" 2>&1 || { echo "bench-warmup: lanebench run failed, see below" >&2; tail -5 "$work/run-$1.log" >&2; exit 1; }
  python3 - "$out/results.json" <<'EOF'
import json, statistics, sys
t = json.load(open(sys.argv[1]))["targets"][0]
level = t["levels"][0]
reps = level["repeats"]
later = statistics.median(r["load"]["success_rps"] for r in reps[6:8])
print(f'{reps[0]["load"]["success_rps"]:.0f} {reps[0]["warmup_s"]:.0f} {reps[0]["steady"]} {later:.0f}')
print('      lanebench repeats: ' + ' '.join(f'{r["load"]["success_rps"] / 1000:.1f}k' for r in reps))
caveats = level.get("caveats") or []
print('      caveats: ' + ('; '.join(json.dumps(c) for c in caveats) if caveats else 'none'))
EOF
}

# A fresh process under wrk: prints the twelve 15 s windows' req/s.
wrk_round() {
  local port=$((20000 + RANDOM % 20000))
  (cd "$root/targets/$target" && PORT=$port WORKERS=1 LANEBENCH_WRAP="" exec setsid taskset -c 0 nice -n -15 sh -c "$run_cmd") \
    >"$work/server-$1.log" 2>&1 &
  server=$!
  for _ in $(seq 1 600); do
    curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 0.1
  done
  local windows=()
  for i in $(seq 1 12); do
    # In the background and waited for: wrk ends cleanly on Ctrl-C, and a shell whose
    # foreground child did so would not run its INT trap; `wait` returns at once.
    taskset -c 1 nice -n -15 wrk -t1 -c"$connections" -d15s "http://127.0.0.1:$port/api/users/1" \
      >"$work/wrk-$1-$i.out" &
    wait $!
    windows+=("$(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$work/wrk-$1-$i.out")")
  done
  kill -TERM -- "-$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  server=""
  echo "${windows[*]}"
}

echo "target $target, $connections connections, minimum warm-up $warmup, $rounds rounds"
printf '%-5s %10s %8s %7s %12s %6s | %10s %12s %8s %8s\n' round figure warm-up steady "+1 min same" ratio "wrk 60-75s" "wrk plateau" "fig/60s" "fig/plat"
for round in $(seq 1 "$rounds"); do
  lanebench_round "$round" >"$work/lanebench-$round.txt"
  read -r figure warm steady later <"$work/lanebench-$round.txt"
  # Not in a subshell, so that the trap still knows the server's group to stop.
  wrk_round "$round" >"$work/wrk-$round.txt"
  read -r -a w <"$work/wrk-$round.txt"
  python3 - "$round" "$figure" "$warm" "$steady" "$later" "${w[@]}" <<'EOF'
import statistics, sys
r, fig, warm, steady, later = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5])
w = [float(x) for x in sys.argv[6:]]
plateau = statistics.median(w[8:12])
print(f'{r:<5} {fig:>10,.0f} {warm:>7}s {steady:>7} {later:>12,.0f} {fig/later:>6.2f} | {w[4]:>10,.0f} {plateau:>12,.0f} {fig/w[4]:>8.2f} {fig/plateau:>8.2f}')
print('      wrk windows: ' + ' '.join(f'{x/1000:.1f}k' for x in w), flush=True)
EOF
  tail -n +2 "$work/lanebench-$round.txt"
done
