#!/usr/bin/env bash
# The .deb as an admin meets it: built by Tauri's bundler, installed with
# apt, its programs run from /usr/bin (pdk on a fresh data directory; the
# app under Xvfb, checked over WebDriver to open on the demo fleet), its
# completions, man page, desktop entry and AppStream metadata in place, its
# dependencies the runtime libraries only, then removed cleanly.
set -euo pipefail
cd "$(dirname "$0")/../.."
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export PATH="$HOME/.cargo/bin:$PATH"

deb="$(bash scripts/build-deb.sh)"
echo "deb: $deb ($(du -h "$deb" | cut -f1))"
fail() { echo "deb test FAILED: $*" >&2; exit 1; }

package="$(dpkg-deb --field "$deb" Package)"
depends="$(dpkg-deb --field "$deb" Depends)"
echo "deb: $package depends on: $depends"
case "$depends" in *libwebkit2gtk-4.1-0*) ;; *) fail "it does not depend on WebKitGTK 4.1" ;; esac
case "$depends" in *-dev*) fail "it depends on a development package: $depends" ;; esac
contents="$(dpkg-deb --contents "$deb")"
for f in usr/bin/powerdeck usr/bin/pdk usr/share/applications/Powerdeck.desktop \
         usr/share/bash-completion/completions/pdk usr/share/zsh/vendor-completions/_pdk \
         usr/share/fish/vendor_completions.d/pdk.fish usr/share/man/man1/pdk.1.gz \
         usr/share/metainfo/dev.powerdeck.desktop.metainfo.xml usr/share/icons/hicolor/128x128/apps/powerdeck.png; do
  grep -Eq " (\./)?$f\$" <<<"$contents" || fail "the package has no /$f"
done

# Whatever an earlier, interrupted run left installed goes first.
$SUDO dpkg --purge "$package" >/dev/null 2>&1 || true
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "$deb"
trap 'DEBIAN_FRONTEND=noninteractive $SUDO apt-get remove -y "$package" >/dev/null 2>&1 || true' EXIT

version="$(dpkg-deb --field "$deb" Version)"
# Outputs are read whole before grep looks at them: `cmd | grep -q` under
# pipefail fails at random when grep's early exit kills cmd with SIGPIPE
# (pdk, like any Unix filter, dies quietly on a closed pipe).
pdk_version="$(/usr/bin/pdk --version)"
grep -q "^pdk $version (" <<<"$pdk_version" || fail "pdk --version: $pdk_version"
app_version="$(/usr/bin/powerdeck --version)"
grep -q "^powerdeck $version (" <<<"$app_version" || fail "powerdeck --version: $app_version"
data="$(mktemp -d)"
vms="$(/usr/bin/pdk --data-dir "$data" vms list)"
grep -q "running" <<<"$vms" || fail "the installed pdk shows no running demo VM: $vms"
rm -rf "$data"
man_page="$(gzip -dc /usr/share/man/man1/pdk.1.gz)"
grep -q "pdk" <<<"$man_page" || fail "the man page is empty"
if command -v desktop-file-validate >/dev/null; then desktop-file-validate /usr/share/applications/Powerdeck.desktop; fi
if command -v appstreamcli >/dev/null; then appstreamcli validate --no-net --explain /usr/share/metainfo/dev.powerdeck.desktop.metainfo.xml; fi

POWERDECK_E2E_APP=/usr/bin/powerdeck xvfb-run -a -s "-screen 0 1440x900x24" dbus-run-session -- bash tests/e2e/session.sh tests/e2e/test_installed.py

DEBIAN_FRONTEND=noninteractive $SUDO apt-get remove -y "$package"
trap - EXIT
for f in /usr/bin/powerdeck /usr/bin/pdk /usr/share/applications/Powerdeck.desktop /usr/share/man/man1/pdk.1.gz; do
  [ ! -e "$f" ] || fail "$f is still there after removal"
done
echo "deb: built, installed, ran and removed cleanly"
