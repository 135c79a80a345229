#!/usr/bin/env bash
# Quick start: install dependencies, build, and train the CNN preset on
# Fashion-MNIST for 3 epochs with the CPU backend.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build
exec build/tools/vktrain train --model cnn --epochs 3 "$@"
