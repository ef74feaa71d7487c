#!/usr/bin/env bash
# Runs the Node.js binding tests (CTest's node/bindings).  Installs koffi
# from package-lock.json first when node_modules lacks it (npm's cache makes
# later installs work offline).  DOCSTORE_LIBRARY names the library to test.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules/koffi ]; then
    npm ci --no-audit --no-fund --prefer-offline
fi
exec node --test test/*.test.js
