#!/usr/bin/env bash
# The window's inventory at 100 000 VMs in JavaScriptCore alone: fetches the
# jsc shell of the WebKitGTK release this machine has (Debian's
# libjavascriptcoregtk-4.0-bin, unpacked under target/, not installed) and
# runs tests/ui/bench/heap.mjs in it. Prints the live heap and the peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=target/jsc
if [ ! -x "$dir/usr/bin/jsc" ]; then
  mkdir -p "$dir/debs"
  (cd "$dir/debs" && apt-get download libjavascriptcoregtk-4.0-bin libjavascriptcoregtk-4.0-18 >/dev/null 2>&1)
  for deb in "$dir"/debs/*.deb; do dpkg-deb -x "$deb" "$dir"; done
fi
LD_LIBRARY_PATH="$PWD/$dir/usr/lib/x86_64-linux-gnu" /usr/bin/time -f "peak RSS of the jsc process: %M KB" "$dir/usr/bin/jsc" -m tests/ui/bench/heap.mjs
