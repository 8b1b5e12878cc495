#!/usr/bin/env bash
# What building and testing the desktop app needs: WebKitGTK and the
# appindicator library (the tray needs it at run time too), and for the
# end-to-end tests a virtual X server, D-Bus, a notification daemon (dunst),
# WebKit's WebDriver and tauri-driver; for the package test, the desktop
# entry and AppStream validators.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

need=()
for pkg in libwebkit2gtk-4.1-dev libayatana-appindicator3-dev xvfb xauth webkit2gtk-driver dbus dunst imagemagick x11-utils procps desktop-file-utils appstream; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${need[@]}"
fi
