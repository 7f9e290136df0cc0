#!/bin/sh
# Install Chromium from the distribution's packages for the browser test
# (tests/test_serve_browser.py drives it with Playwright's Python client).
# Idempotent: does nothing when a chromium binary is already on the PATH.
# Never downloads browsers through Playwright itself.
set -eu

for candidate in chromium chromium-browser; do
    if command -v "$candidate" >/dev/null 2>&1; then
        echo "install-browser: $(command -v "$candidate") already installed"
        exit 0
    fi
done

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: no apt-get here; install Chromium with your package manager" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium
echo "install-browser: installed $(command -v chromium)"
