#!/usr/bin/env bash
# The project's test command (what CI runs): the Debian packages the tests need are
# installed when missing (or named, with how to install them); then every target whose
# toolchain is present is
# built and checked against the endpoint contract, in memory mode and in database mode,
# and against its service-to-service rules in both; then formatting, lints, and the unit
# and integration tests. Ends with one line totalling the tests run.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=lib/system-packages.sh
. scripts/lib/system-packages.sh
ensure_system_packages

# Every protocol each target serves (h1, h1-tls, h2c, h2; pipelined order on HTTP/1.1);
# the ones a manifest declares unsupported are listed with their reason.
echo "== endpoint contract on every protocol: lanebench verify --all --protocol all"
cargo run --release -q -p lanebench -- verify --all --protocol all

# The same targets (already built) in database mode, against a PostgreSQL the harness
# starts from the machine's binaries: one database per target, WORKERS=2.
echo "== endpoint contract in database mode: lanebench verify --all --store postgres"
cargo run --release -q -p lanebench -- verify --all --store postgres

# The service-to-service rules (targets/CONTRACT.md), in memory and database mode: each
# target as a user service, end to end with its own order service and against the
# harness's failing one.
echo "== service-to-service contract: lanebench verify --all --chain"
cargo run --release -q -p lanebench -- verify --all --chain
echo "== service-to-service contract in database mode: lanebench verify --all --chain --store postgres"
cargo run --release -q -p lanebench -- verify --all --chain --store postgres

# FastAPI's circuit breaker is its own small state machine: its tests need only Python.
echo "== FastAPI's breaker: python3 -m unittest"
(cd targets/fastapi && python3 -m unittest -q test_breaker)

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets -q -- -D warnings

echo "== cargo test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Of the targets, only the shared Rust store has tests of its own (its circuit breaker's,
# on a clock the tests move, and its TLS set-up); the contract checks above are every
# target's.
cargo test -p lanebench-load -p lanebench -p target-store --features target-store/tls --lib --bins --tests 2>&1 | tee "$log"
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f; exit (f > 0 || p == 0) }' "$log"
