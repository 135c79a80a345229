#!/usr/bin/env bash
# Configure (once) and build vktrain into build/ (release) or the
# directory and meson options given: scripts/build.sh DIR [OPTIONS...]
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build}"
shift || true
if [ ! -f "$dir/build.ninja" ]; then
  meson setup "$dir" "$@" >/dev/null
fi
ninja -C "$dir"
