#!/usr/bin/env bash
# Make sure a Chromium for the browser tests exists: the system package, installed with
# apt-get when missing and we run as root; otherwise say what to install.
set -euo pipefail
for c in "${CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -n "$c" ] && [ -x "$c" ]; then echo "chromium: $c"; exit 0; fi
done
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "chromium: not found, installing the Debian package 'chromium' with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
  [ -x /usr/bin/chromium ] && { echo "chromium: /usr/bin/chromium"; exit 0; }
fi
echo "chromium: not found. The browser tests need the system Chromium: install the package" >&2
echo "'chromium' (sudo apt-get install chromium) or set CHROMIUM=/path/to/chromium." >&2
exit 1
