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

# VMware's vCenter simulator, built from Debian's govmomi library with our
# launcher, and vcsim-tags, the witness for its vAPI tags (govmomi's own client).
if [ ! -x target/vcsim ] || [ tests/vcsim/main.go -nt target/vcsim ] \
  || [ ! -x target/vcsim-tags ] || [ tests/vcsim/tags/main.go -nt target/vcsim-tags ]; then
  if ! command -v go >/dev/null 2>&1 || [ ! -d /usr/share/gocode/src/github.com/vmware/govmomi ]; then
    echo "installing: golang-go golang-github-vmware-govmomi-dev"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends golang-go golang-github-vmware-govmomi-dev
  fi
  mkdir -p target
  if [ ! -x target/vcsim ] || [ tests/vcsim/main.go -nt target/vcsim ]; then
    GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$PWD/target/go-cache" go build -o target/vcsim ./tests/vcsim
  fi
  if [ ! -x target/vcsim-tags ] || [ tests/vcsim/tags/main.go -nt target/vcsim-tags ]; then
    GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$PWD/target/go-cache" go build -o target/vcsim-tags ./tests/vcsim/tags
  fi
fi
export POWERDECK_VCSIM="$PWD/target/vcsim"
export POWERDECK_VCSIM_TAGS="$PWD/target/vcsim-tags"
