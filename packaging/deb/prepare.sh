#!/usr/bin/env bash
# Run by the Tauri bundler before it packs the .deb (tauri.conf.json's
# beforeBundleCommand), after it built the app: the command line, its shell
# completions and its man page, all generated from the one CLI definition,
# into target/package/release/deb-extras where the bundle's file list
# expects them (scripts/build-deb.sh sets CARGO_TARGET_DIR to target/package).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --locked -p powerdeck-cli --bin pdk
release="${CARGO_TARGET_DIR:?run scripts/build-deb.sh}/release"
out="$release/deb-extras"
rm -rf "$out" && mkdir -p "$out"
pdk="$release/pdk"
"$pdk" completions bash >"$out/pdk.bash"
"$pdk" completions zsh >"$out/_pdk"
"$pdk" completions fish >"$out/pdk.fish"
"$pdk" man | gzip -9n >"$out/pdk.1.gz"
