#!/usr/bin/env bash
# Runs the Powerdeck desktop app on the embedded demo fleet, installing what
# is missing first. With no display (an SSH session, a container) it runs the
# headless engine instead and streams what happens (Ctrl-C to stop).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
source scripts/ensure-gui-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --locked --workspace --bins
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec ./target/debug/powerdeck "$@"
fi
echo "No display found (DISPLAY/WAYLAND_DISPLAY unset): running the headless engine instead."
./target/debug/pdk vms list
exec ./target/debug/pdk watch
