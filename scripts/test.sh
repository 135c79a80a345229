#!/usr/bin/env bash
# The whole test suite: a release build and an ASan/UBSan build, each
# running every cmocka test. Installs dependencies first if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build
meson test -C build --print-errorlogs --num-processes 2

scripts/build.sh build-asan -Dbuildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --print-errorlogs --num-processes 2 --timeout-multiplier 3
