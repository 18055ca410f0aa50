#!/usr/bin/env bash
# The project's test command (what CI runs): every target whose toolchain is present is
# built and checked against the endpoint contract, then formatting, lints, and the unit
# and integration tests of the whole workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== endpoint contract: lanebench verify --all"
cargo run --release -q -p lanebench -- verify --all

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets -q -- -D warnings

echo "== cargo test"
cargo test --workspace
