#!/bin/sh
# Installs headless Chromium from Debian's packages unless it is there (idempotent).
# Called by `make test` (and so by .ci/run): tests/integration/api/test_ui_page.py drives it over the
# DevTools Protocol (tests/browser.py); nothing downloads a browser build of its own.
set -eu
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null
