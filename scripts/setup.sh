#!/usr/bin/env bash
# One-time set-up on a fresh machine: the browser for the HTML report test, the locked
# dependencies, and the build. Afterwards `npm start` and `npm test` work.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-browser.sh
npm ci
npm run build
