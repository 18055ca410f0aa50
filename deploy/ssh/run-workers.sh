#!/bin/sh
# Runs one lanebench load split over several generator machines reached over ssh, then
# merges the workers' results exactly with `lanebench merge`.
#
# Each host needs `lanebench` on its PATH and a synchronised clock (NTP): every worker
# waits for one common start (--start-at, LEAD seconds from now), so that their measured
# windows coincide (`lanebench merge` refuses windows more than 1% apart). A host named
# `local` runs its worker on this machine without ssh. The default example runs two
# local workers against a server on loopback:
#
#   deploy/ssh/run-workers.sh
#   HOSTS="gen1 gen2 gen3" URL=http://10.0.0.5:8080/health LOAD_ARGS="-c 300 -d 60s --allow-remote" \
#     deploy/ssh/run-workers.sh
#
# Variables: HOSTS (one worker per word), URL, LOAD_ARGS (the whole run's flags: each
# worker takes its share of -c / -n / --rate), OUT (local results folder), LEAD (seconds
# between now and the common start: time to reach every host).
set -eu

HOSTS=${HOSTS:-"local local"}
URL=${URL:-http://127.0.0.1:8080/health}
LOAD_ARGS=${LOAD_ARGS:-"-c 64 -d 10s"}
OUT=${OUT:-lanebench-workers}
REMOTE_DIR=${REMOTE_DIR:-/tmp/lanebench-worker}
LEAD=${LEAD:-5}
start_at="$(( $(date +%s) + LEAD ))000"

count=0
for _ in $HOSTS; do count=$((count + 1)); done
mkdir -p "$OUT"

run_on() { # host, command
    if [ "$1" = local ]; then sh -c "$2"; else ssh -o BatchMode=yes "$1" "$2"; fi
}
fetch() { # host, remote file, local file
    if [ "$1" = local ]; then cp "$2" "$3"; else scp -q "$1:$2" "$3"; fi
}

pids=""
i=0
for host in $HOSTS; do
    dir="$REMOTE_DIR-$i"
    run_on "$host" "mkdir -p $dir && lanebench load $LOAD_ARGS --quiet --max-error-rate 100% \
        --start-at $start_at --segment $i/$count --json $dir/worker-$i.json --hdr-log $dir/worker-$i.hlog '$URL' >/dev/null" &
    pids="$pids $!"
    i=$((i + 1))
done

failed=0
for pid in $pids; do wait "$pid" || failed=1; done
if [ "$failed" -ne 0 ]; then
    echo "run-workers.sh: a worker failed; not merging" >&2
    exit 1
fi

i=0
for host in $HOSTS; do
    dir="$REMOTE_DIR-$i"
    fetch "$host" "$dir/worker-$i.json" "$OUT/worker-$i.json"
    fetch "$host" "$dir/worker-$i.hlog" "$OUT/worker-$i.hlog"
    i=$((i + 1))
done

lanebench merge "$OUT"/worker-*.json --json "$OUT/merged.json"
