#!/usr/bin/env bash
# The README's two commands as a new user runs them: a fresh clone of the committed tree, a fresh
# virtual environment, `make demo`, then `make test`. Run before an issue is called resolved
# (`make fresh-check`); a green run in a used checkout can hide a missing install step.
# Cargo's download cache and pip's wheel cache are shared with this machine (they are caches,
# not installs); the build directory, the Python packages and the tools are all new.
set -euo pipefail
top=$(git rev-parse --show-toplevel)
work=$(mktemp -d "${TMPDIR:-/tmp}/mpssl-fresh.XXXXXX")
echo "fresh clone in $work"
git clone --quiet "$top" "$work/mpssl"
# shared/ sits beside the checkout, as in CI.
[ -d "$top/../shared" ] && ln -s "$(cd "$top/../shared" && pwd)" "$work/shared"
python3 -m venv "$work/venv"
# shellcheck disable=SC1091
. "$work/venv/bin/activate"
cd "$work/mpssl"
make demo
make test
echo "fresh-check passed in $work"
