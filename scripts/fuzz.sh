#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser (fuzz/, cargo-fuzz on nightly Rust):
#   scripts/fuzz.sh [RUNS] [TARGET...]     # default: 10 000 000 runs of each target
# Not part of the test run (it needs nightly and an hour); the test run
# replays what it keeps in fuzz/corpus/ and fuzz/regressions/ (an input that
# once failed: copy it there from fuzz/artifacts/ when you fix it). Prints, per
# target, the executions, crashes (0 or the run stops with the input in
# fuzz/artifacts/), slow inputs past the timeout, and peak memory.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
RUNS="${1:-10000000}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(xml ec2 vsphere ovirt azure cloudstack user_input)
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cd fuzz
# Safe Rust: no sanitizer needed, which keeps executions fast; debug
# assertions on, so an arithmetic overflow is a crash like any panic.
FLAGS=(--release --sanitizer none --debug-assertions)
cargo +nightly fuzz build "${FLAGS[@]}"
for t in "${TARGETS[@]}"; do
  log="artifacts/$t.log"
  mkdir -p artifacts
  start=$(date +%s)
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: over 2 GiB is a leak or a bomb.
  cargo +nightly fuzz run "${FLAGS[@]}" "$t" "corpus/$t" -- -runs="$RUNS" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 >"$log" 2>&1 || { echo "$t: FAILED, see fuzz/$log"; tail -30 "$log"; exit 1; }
  # Keep the corpus small: only inputs that add coverage stay in the repository.
  cargo +nightly fuzz cmin "${FLAGS[@]}" "$t" "corpus/$t" >/dev/null 2>&1
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  peak=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | grep -o '[0-9]*$')
  slow=$(grep -c 'Slowest unit' "$log" || true)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
  echo "$t: $runs executions in $(( $(date +%s) - start )) s, 0 crashes, $slow slow inputs, peak RSS ${peak} MB, $cov, corpus $(ls "corpus/$t" | wc -l) inputs"
done
