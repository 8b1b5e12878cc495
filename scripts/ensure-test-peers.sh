#!/usr/bin/env bash
# Install the test peers: a Python venv (.venv) with moto's EC2 server and
# boto3 as the independent client. Re-run safely; it only does what is missing.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "installing: python3 python3-venv"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends python3 python3-venv
fi

VENV="${POWERDECK_VENV:-$PWD/.venv}"
STAMP="$VENV/.requirements"
if [ ! -x "$VENV/bin/moto_server" ] || ! cmp -s scripts/test-requirements.txt "$STAMP"; then
  echo "preparing the Python test peers in $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r scripts/test-requirements.txt
  cp scripts/test-requirements.txt "$STAMP"
fi
export POWERDECK_VENV="$VENV"
