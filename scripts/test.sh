#!/usr/bin/env bash
# Runs every test Powerdeck has, installing what is missing first:
# the Rust tests (engine, CLI, EC2 against moto, vSphere against vcsim), then
# the window: its modules' unit tests (node --test), its type check (tsc),
# and the desktop app end to end in a real webview (with axe-core).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
source scripts/ensure-gui-deps.sh
source scripts/ensure-test-peers.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo test --workspace --locked
bash tests/e2e/run.sh
