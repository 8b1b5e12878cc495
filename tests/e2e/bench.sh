#!/usr/bin/env bash
# Desktop app benchmarks: tests/e2e/bench.sh (numbers go to BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/ensure-deps.sh
source scripts/ensure-gui-deps.sh
source scripts/ensure-test-peers.sh
export PATH="$HOME/.cargo/bin:$PATH"
command -v tauri-driver >/dev/null 2>&1 || cargo install tauri-driver --locked
# The product ships release builds; measure those (set PROFILE=debug to compare).
PROFILE="${PROFILE:-release}"
if [ "$PROFILE" = release ]; then cargo build --locked --workspace --bins --release; else cargo build --locked --workspace --bins; fi
export POWERDECK_BIN_DIR="$PWD/target/$PROFILE"
xvfb-run -a -s "-screen 0 1440x900x24" dbus-run-session -- bash tests/e2e/session.sh tests/e2e/bench_app.py
