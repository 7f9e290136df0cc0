#!/bin/sh
# Install Neovim from the distribution's packages for the editor test
# (tests/test_lsp_neovim.py drives `citerec lsp` through it, headless).
# Idempotent: does nothing when nvim is already on the PATH.
set -eu

if command -v nvim >/dev/null 2>&1; then
    echo "install-neovim: $(command -v nvim) already installed ($(nvim --version | head -n 1))"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-neovim: no apt-get here; install Neovim with your package manager" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends neovim
echo "install-neovim: installed $(command -v nvim) ($(nvim --version | head -n 1))"
