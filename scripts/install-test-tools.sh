#!/bin/sh
# Install the programs the end-to-end tests drive, from the distribution's packages:
#   chromium  for tests/test_serve_browser.py (Playwright's Python client drives it; never Playwright's own browsers)
#   nvim      for tests/test_lsp_neovim.py (`citerec lsp` in a real editor, headless)
# Idempotent: installs only what is missing from the PATH, with one apt-get run.
set -eu

missing=""
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing="$missing chromium"
command -v nvim >/dev/null 2>&1 || missing="$missing neovim"

if [ -z "$missing" ]; then
    echo "install-test-tools: chromium and nvim already installed"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-test-tools: no apt-get here; install$missing with your package manager" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086 # the package names are meant to split
$SUDO apt-get install -y -q --no-install-recommends $missing
echo "install-test-tools: installed$missing"
