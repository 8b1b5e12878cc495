#!/usr/bin/env bash
# Builds Powerdeck's .deb with Tauri's bundler (from npm, pinned by
# packaging/deb/package-lock.json): the release app, then pdk with its
# completions and man page (packaging/deb/prepare.sh), packed with the
# desktop entry, icons and AppStream metadata. Prints the package's path.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh >&2
source scripts/ensure-gui-deps.sh >&2
source scripts/ensure-node-deps.sh >&2
export PATH="$HOME/.cargo/bin:$PATH"
if ! [ packaging/deb/node_modules/.installed -nt packaging/deb/package-lock.json ]; then
  (cd packaging/deb && npm ci --no-audit --no-fund --loglevel=error) >&2
  touch packaging/deb/node_modules/.installed
fi
# Its own target folder and a stripped release without debug info: the
# benchmarks' release builds (target/release) keep their line tables. The
# bundler runs its before-bundle command in the frontend folder, hence the root.
export CARGO_TARGET_DIR="$PWD/target/package" CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=true
POWERDECK_ROOT="$PWD" packaging/deb/node_modules/.bin/tauri build --ci --bundles deb -- --locked >&2
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
ls "$CARGO_TARGET_DIR/release/bundle/deb/Powerdeck_${version}_$(dpkg --print-architecture).deb"
