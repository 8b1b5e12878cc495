#!/usr/bin/env bash
# Runs Powerdeck on the embedded demo fleet, installing what is missing first.
# Until the desktop app lands this is the headless engine: the fleet's
# inventory, then a live stream of what happens to it (Ctrl-C to stop).
# Try `pdk vm stop <name>` from another terminal while it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --locked --bin pdk
export POWERDECK_DATA_DIR="${POWERDECK_DATA_DIR:-$HOME/.local/share/powerdeck}"
./target/debug/pdk vms list
exec ./target/debug/pdk watch
