#!/usr/bin/env bash
# End-to-end: the real app in a real WebKit webview, driven over WebDriver,
# on a virtual display with its own D-Bus session (so notifications reach a
# real daemon we can read back).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/ensure-gui-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v tauri-driver >/dev/null 2>&1; then
  cargo install tauri-driver --locked
fi
cargo build --locked --workspace --bins
xvfb-run -a -s "-screen 0 1440x900x24" dbus-run-session -- bash tests/e2e/session.sh
