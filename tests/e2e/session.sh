#!/usr/bin/env bash
# Inside the virtual display and D-Bus session: a fresh data directory,
# tauri-driver, then the scenario (or the script given as $1).
set -euo pipefail
POWERDECK_DATA_DIR="$(mktemp -d)"
export POWERDECK_DATA_DIR
# The webview keeps its own storage (the window's remembered choices) under
# the XDG folders: a fresh one each run, so every run is a first launch.
export XDG_DATA_HOME="$POWERDECK_DATA_DIR/xdg-data" XDG_CACHE_HOME="$POWERDECK_DATA_DIR/xdg-cache"
# The vSphere account the scenario adds reads its password from here (vcsim accepts any).
export POWERDECK_E2E_VC_PASSWORD=vcsim-accepts-any
tauri-driver --port 4444 >"$POWERDECK_DATA_DIR/tauri-driver.log" 2>&1 &
DRIVER=$!
trap 'kill $DRIVER 2>/dev/null || true; rm -rf "$POWERDECK_DATA_DIR"' EXIT
for _ in $(seq 1 100); do
  if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:4444/status')" 2>/dev/null; then break; fi
  sleep 0.1
done
"${POWERDECK_VENV:-.venv}/bin/python" "${1:-tests/e2e/test_app.py}"
