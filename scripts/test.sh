#!/usr/bin/env bash
# Runs every test Powerdeck has, installing what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
source scripts/ensure-test-peers.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo test --workspace --locked
