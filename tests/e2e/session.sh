#!/usr/bin/env bash
# Inside the virtual display and D-Bus session: for each scenario (the main
# one, then the desktop one; or the scripts given), a fresh data directory,
# fresh XDG folders and its own tauri-driver.
set -euo pipefail
if [ $# -eq 0 ]; then set -- tests/e2e/test_app.py tests/e2e/test_desktop.py; fi
# The vSphere account the scenario adds reads its password from here (vcsim accepts any).
export POWERDECK_E2E_VC_PASSWORD=vcsim-accepts-any
# The desktop scenario's EC2 secret, which must show up nowhere.
export POWERDECK_E2E_DIAG_SECRET="e2e-diag-$RANDOM$RANDOM-secret"

run_one() {
  POWERDECK_DATA_DIR="$(mktemp -d)"
  export POWERDECK_DATA_DIR
  # The webview keeps its own storage (the window's remembered choices), and
  # the app its window geometry and login entry, under the XDG folders: fresh
  # ones each run, so every run is a first launch and nothing touches the real home.
  # The login entry is written under $HOME/.config/autostart whatever
  # XDG_CONFIG_HOME says (the autostart crate's choice), so HOME moves too.
  export HOME="$POWERDECK_DATA_DIR/home"
  export XDG_DATA_HOME="$HOME/.local/share" XDG_CACHE_HOME="$HOME/.cache" XDG_CONFIG_HOME="$HOME/.config"
  mkdir -p "$XDG_CONFIG_HOME"
  tauri-driver --port 4444 >"$POWERDECK_DATA_DIR/tauri-driver.log" 2>&1 &
  DRIVER=$!
  trap 'kill $DRIVER 2>/dev/null || true; rm -rf "$POWERDECK_DATA_DIR"' EXIT
  for _ in $(seq 1 100); do
    if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:4444/status')" 2>/dev/null; then break; fi
    sleep 0.1
  done
  "${POWERDECK_VENV:-.venv}/bin/python" "$1"
  kill $DRIVER 2>/dev/null || true
  wait $DRIVER 2>/dev/null || true
  rm -rf "$POWERDECK_DATA_DIR"
  trap - EXIT
}

for script in "$@"; do run_one "$script"; done
