#!/usr/bin/env bash
# Installs Debian's chromium for the HTML report's browser test when no browser is there yet.
# A browser given in ORDEAL_CHROMIUM, or one at /usr/bin/chromium, is left alone.
set -euo pipefail
if [ -n "${ORDEAL_CHROMIUM:-}" ] && [ -x "${ORDEAL_CHROMIUM}" ]; then
  echo "browser: ${ORDEAL_CHROMIUM} (ORDEAL_CHROMIUM)"
  exit 0
fi
if [ -x /usr/bin/chromium ]; then
  echo "browser: /usr/bin/chromium"
  exit 0
fi
echo "browser: installing Debian's chromium"
as_root=()
if [ "$(id -u)" -ne 0 ]; then as_root=(sudo); fi
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version
