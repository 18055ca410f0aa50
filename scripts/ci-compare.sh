#!/usr/bin/env bash
# Relative regression benchmark: builds two revisions of a target in separate git work
# trees and measures them on this machine interleaved (base, head, base, head, ...), so
# both see the same runner noise, then judges the difference with `lanebench compare`.
#
# Usage: scripts/ci-compare.sh BASE_REV HEAD_REV [TARGET] [SCENARIO]
#   TARGET    target folder name (default hyperlane)
#   SCENARIO  scenario file, or a name under scenarios/ of HEAD (default: the default scenario)
# Environment:
#   ROUNDS=5            interleaved rounds; each round is one `lanebench run` per side (with
#                       one repeat per run, fewer than 3 rounds can never show a significant change)
#   QUICK=1             pass --quick to every run (short levels, for smoke tests)
#   THRESHOLD="5%"      passed to `lanebench compare --threshold` (space-separated list)
#   OUT=results/ci-compare   where the round results, compare.md and compare.json go
#   HARNESS_TARGET_DIR  cargo target folder for building lanebench (cache it in CI)
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
out=${OUT:-$repo/results/ci-compare}
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "$0: ROUNDS=$rounds: expected a positive integer" >&2; exit 2; }

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

echo "== work trees: base $base_rev, head $head_rev" >&2
git -C "$repo" worktree add --detach --quiet "$work/base" "$base_rev" || exit 2
git -C "$repo" worktree add --detach --quiet "$work/head" "$head_rev" || exit 2

echo "== building lanebench from head" >&2
harness_target=${HARNESS_TARGET_DIR:-$work/harness-target}
# Any failure before the comparison is exit 2, so that 1 keeps meaning "regressed".
CARGO_TARGET_DIR="$harness_target" cargo build --release --quiet -p lanebench \
    --manifest-path "$work/head/Cargo.toml" || { echo "$0: building lanebench at $head_rev failed" >&2; exit 2; }
lanebench="$harness_target/release/lanebench"

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

rm -rf "$out/base" "$out/head"
mkdir -p "$out/base" "$out/head"
for round in $(seq 1 "$rounds"); do
    for side in base head; do
        echo "== round $round/$rounds: $side" >&2
        # Targets build into their own work tree's target folder, as their manifests expect.
        env -u CARGO_TARGET_DIR "$lanebench" run "${run_flags[@]}" \
            --targets-dir "$work/$side/targets" \
            --out "$out/$side/round-$(printf %02d "$round")" >&2 ||
            { echo "$0: lanebench run failed for $side in round $round" >&2; exit 2; }
    done
done

compare_flags=(--markdown "$out/compare.md" --json "$out/compare.json")
for t in ${THRESHOLD:-}; do
    compare_flags+=(--threshold "$t")
done
status=0
"$lanebench" compare "$out/base" "$out/head" "${compare_flags[@]}" || status=$?
echo "markdown: $out/compare.md" >&2
exit "$status"
