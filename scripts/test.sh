#!/usr/bin/env bash
# Runs every test Powerdeck has, installing what is missing first: the
# formatting and lint gates, the Rust tests (engine, CLI, EC2 against moto,
# vSphere against vcsim, the hostile world), the provider fakes against their
# vendors' SDKs, then the window: its modules' unit tests (node --test), its
# type check (tsc), and the desktop app end to end in a real webview (with
# axe-core); last, the .deb: built, installed with apt, run and removed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
source scripts/ensure-gui-deps.sh
source scripts/ensure-test-peers.sh
export PATH="$HOME/.cargo/bin:$PATH"
# Hygiene gates first: they fail fast and say exactly where.
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
# The provider fakes, proven with each vendor's own client (the witnesses).
"$POWERDECK_VENV/bin/python" -m unittest discover -s tests/fakes -t . -p 'test_*.py'
bash tests/e2e/run.sh
bash tests/deb/test.sh
