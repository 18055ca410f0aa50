#!/usr/bin/env bash
# Relative regression benchmark: builds two revisions of a target in separate git work
# trees and measures them on this machine interleaved (base, head, base, head, ...), so
# both see the same runner noise, then judges the difference with `lanebench compare`.
# Beside the timed rounds it counts instructions per request under callgrind
# (`lanebench cost`), which does not move with the machine's noise: those counts lead the
# markdown and, by default, they and the error rate are what fail the job.
#
# Usage: scripts/ci-compare.sh BASE_REV HEAD_REV [TARGET] [SCENARIO]
#   TARGET    target folder name (default hyperlane)
#   SCENARIO  scenario file, or a name under scenarios/ of HEAD (default: the default scenario)
# Environment:
#   ROUNDS=5            interleaved timed rounds; each round is one `lanebench run` per side (with
#                       one repeat per run, fewer than 3 rounds can never show a significant change);
#                       0 skips the timed rounds
#   QUICK=1             pass --quick to every run (short levels, for smoke tests)
#   COST=1              count instructions per request (0 skips it; skipped with a warning when
#                       valgrind is not installed; a target that cannot be counted says why)
#   COST_ROUNDS=2       interleaved counts per side (they agree to well under 1 %; two show it)
#   COST_REQUESTS=1000  counted requests of each scenario request (`lanebench cost --requests`)
#   THRESHOLD="5%"      passed to `lanebench compare --threshold` (space-separated list)
#   FAIL_ON=...         passed to `lanebench compare --fail-on` (default: instructions and errors
#                       when counted, every figure otherwise)
#   OUT=results/ci-compare   where the rounds, compare.md and compare.json go
#   HARNESS_TARGET_DIR  cargo target folder for building lanebench [default: TARGET_CACHE/harness,
#                       a copy of target/release when new] (cache it in CI)
#   TARGET_CACHE=target/ci-compare   keeps each side's cargo target folder between
#                       invocations, so only what changed is rebuilt (cache it in CI); an
#                       empty one starts as a copy of target/release; one invocation at a
#                       time per folder
#   LANEBENCH           a lanebench binary to use instead of building one from HEAD_REV
# Exit status: that of `lanebench compare` (0 no regression, 1 regression, 2 bad input);
# 2 also when a work tree, the build or a run fails.
set -euo pipefail

if [[ $# -lt 2 || $# -gt 4 ]]; then
    echo "usage: $0 BASE_REV HEAD_REV [TARGET] [SCENARIO]" >&2
    exit 2
fi
repo=$(git rev-parse --show-toplevel)
base_rev=$(git -C "$repo" rev-parse --verify --quiet "$1^{commit}") || { echo "$0: BASE_REV $1: not a commit" >&2; exit 2; }
head_rev=$(git -C "$repo" rev-parse --verify --quiet "$2^{commit}") || { echo "$0: HEAD_REV $2: not a commit" >&2; exit 2; }
target=${3:-hyperlane}
scenario=${4:-}
rounds=${ROUNDS:-5}
cost=${COST:-1}
cost_rounds=${COST_ROUNDS:-2}
out=${OUT:-$repo/results/ci-compare}
cache=${TARGET_CACHE:-$repo/target/ci-compare}
[[ "$rounds" =~ ^[0-9]+$ ]] || { echo "$0: ROUNDS=$rounds: expected a non-negative integer" >&2; exit 2; }
[[ "$cost" == 0 || "$cost" == 1 ]] || { echo "$0: COST=$cost: expected 0 or 1" >&2; exit 2; }
[[ "$cost_rounds" =~ ^[1-9][0-9]*$ ]] || { echo "$0: COST_ROUNDS=$cost_rounds: expected a positive integer" >&2; exit 2; }
[[ "${COST_REQUESTS:-1000}" =~ ^[1-9][0-9]*$ ]] || { echo "$0: COST_REQUESTS=$COST_REQUESTS: expected a positive integer" >&2; exit 2; }
if [[ "$cost" == 1 ]] && ! command -v valgrind >/dev/null; then
    echo "$0: warning: valgrind is not installed; instruction counts skipped (apt-get install valgrind)" >&2
    cost=0
fi
if [[ "$rounds" == 0 && "$cost" == 0 ]]; then
    echo "$0: nothing to measure: ROUNDS=0 and no instruction counts" >&2
    exit 2
fi

mkdir -p "$cache/base" "$cache/head"
exec 9>"$cache/.lock"
flock -n 9 || { echo "$0: another ci-compare is using TARGET_CACHE=$cache; wait or set another" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/lanebench-ci-compare.XXXXXX")
cleanup() {
    for side in base head; do
        if [[ -d "$work/$side" ]]; then
            git -C "$repo" worktree remove --force "$work/$side" >/dev/null 2>&1 || true
        fi
    done
    git -C "$repo" worktree prune >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

started=$SECONDS
echo "== work trees: base $base_rev, head $head_rev" >&2
git -C "$repo" worktree add --detach --quiet "$work/base" "$base_rev" || exit 2
git -C "$repo" worktree add --detach --quiet "$work/head" "$head_rev" || exit 2
for side in base head; do
    # Targets build into their tree's target/ (their manifests run ../../target/...);
    # pointing it at the cache keeps dependencies built between invocations. An empty
    # cache starts as a copy of this repository's release build, whose dependencies match.
    if [[ -z "$(ls -A "$cache/$side")" && -d "$repo/target/release" ]]; then
        echo "== seeding $cache/$side from $repo/target/release" >&2
        cp -a "$repo/target/release" "$cache/$side/"
    fi
    rm -rf "$work/$side/target"
    ln -s "$cache/$side" "$work/$side/target"
done

if [[ -n "${LANEBENCH:-}" ]]; then
    lanebench=$LANEBENCH
    [[ -x "$lanebench" ]] || { echo "$0: LANEBENCH=$lanebench: not an executable" >&2; exit 2; }
else
    echo "== building lanebench from head" >&2
    harness_target=${HARNESS_TARGET_DIR:-$cache/harness}
    if [[ ! -e "$harness_target" && -d "$repo/target/release" ]]; then
        mkdir -p "$harness_target" && cp -a "$repo/target/release" "$harness_target/"
    fi
    # Any failure before the comparison is exit 2, so that 1 keeps meaning "regressed".
    CARGO_TARGET_DIR="$harness_target" cargo build --release --quiet -p lanebench \
        --manifest-path "$work/head/Cargo.toml" || { echo "$0: building lanebench at $head_rev failed" >&2; exit 2; }
    lanebench="$harness_target/release/lanebench"
fi

run_flags=(--targets "$target")
if [[ -n "$scenario" ]]; then
    if [[ -f "$scenario" ]]; then
        scenario_file=$(realpath "$scenario")
    elif [[ -f "$work/head/scenarios/$scenario.toml" ]]; then
        scenario_file="$work/head/scenarios/$scenario.toml"
    else
        echo "$0: SCENARIO $scenario: no such file, nor scenarios/$scenario.toml in $head_rev" >&2
        exit 2
    fi
    run_flags+=(--scenario "$scenario_file")
fi
[[ "${QUICK:-0}" == 1 ]] && run_flags+=(--quick)

cost_flags=(--targets "$target" --requests "${COST_REQUESTS:-1000}")
[[ -n "${scenario_file:-}" ]] && cost_flags+=(--scenario "$scenario_file")

rm -rf "$out/base" "$out/head"
mkdir -p "$out/base" "$out/head"
timings=()
if [[ "$cost" == 1 ]]; then
    phase=$SECONDS
    for round in $(seq 1 "$cost_rounds"); do
        for side in base head; do
            echo "== instruction count $round/$cost_rounds: $side" >&2
            # Exit 1 is a failed count: it is in cost.json and compare judges it.
            code=0
            env -u CARGO_TARGET_DIR "$lanebench" cost "${cost_flags[@]}" \
                --targets-dir "$work/$side/targets" \
                --out "$out/$side/cost-$(printf %02d "$round")" >&2 || code=$?
            [[ "$code" -le 1 ]] || { echo "$0: lanebench cost failed for $side in round $round" >&2; exit 2; }
        done
    done
    timings+=("counts $((SECONDS - phase)) s")
fi
phase=$SECONDS
for round in $(seq 1 "$rounds"); do
    for side in base head; do
        echo "== round $round/$rounds: $side" >&2
        env -u CARGO_TARGET_DIR "$lanebench" run "${run_flags[@]}" \
            --targets-dir "$work/$side/targets" \
            --out "$out/$side/round-$(printf %02d "$round")" >&2 ||
            { echo "$0: lanebench run failed for $side in round $round" >&2; exit 2; }
    done
done
[[ "$rounds" -gt 0 ]] && timings+=("timed rounds $((SECONDS - phase)) s")

compare_flags=(--markdown "$out/compare.md" --json "$out/compare.json")
for t in ${THRESHOLD:-}; do
    compare_flags+=(--threshold "$t")
done
[[ -n "${FAIL_ON:-}" ]] && compare_flags+=(--fail-on "$FAIL_ON")
status=0
"$lanebench" compare "$out/base" "$out/head" "${compare_flags[@]}" || status=$?
echo "markdown: $out/compare.md" >&2
echo "time: $((SECONDS - started)) s in all (${timings[*]})" >&2
exit "$status"
