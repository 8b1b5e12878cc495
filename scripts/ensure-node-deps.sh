#!/usr/bin/env bash
# What checking the window needs besides the webview: Node (the unit tests of
# ui/*.js run under `node --test`) and, from npm with the committed lock file,
# TypeScript (type-checks the JSDoc of ui/*.js; there is no build step) and
# axe-core (injected into the real webview by the end-to-end test). They go
# into tests/node_modules, which git ignores.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

need=()
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${need[@]}"
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Install again only when the lock file changed since the last install.
if ! [ "$here/tests/node_modules/.installed" -nt "$here/tests/package-lock.json" ]; then
  (cd "$here/tests" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$here/tests/node_modules/.installed"
fi
