#!/usr/bin/env bash
# The window's checks: its pure modules under `node --test`, its types under
# `tsc`, then the real app in a real WebKit webview, driven over WebDriver,
# on a virtual display with its own D-Bus session (so notifications reach a
# real daemon we can read back).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/ensure-gui-deps.sh
source scripts/ensure-node-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"
node --test tests/ui/*.test.js
# The IPC types the window is checked against, generated from the Rust
# types by ts-rs into ui/generated/ (the export tests write them): the
# core's, and the shell's own.
cargo test --locked -q -p powerdeck-core --lib export_bindings >/dev/null
cargo test --locked -q -p powerdeck --lib export_bindings >/dev/null
tests/node_modules/.bin/tsc -p tsconfig.json
echo "ui: unit tests and type check passed"
if ! command -v tauri-driver >/dev/null 2>&1; then
  cargo install tauri-driver --locked
fi
cargo build --locked --workspace --bins
xvfb-run -a -s "-screen 0 1920x1080x24" dbus-run-session -- bash tests/e2e/session.sh
