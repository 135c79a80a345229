#!/usr/bin/env bash
# Step time of the mlp and cnn presets at batch 64 on the CPU backend and
# on a Vulkan device, side by side, plus setup time (device, trainer,
# step compile with pipelines) with a cold and a warm pipeline cache.
#   bench/vulkan_steps.sh [VKTRAIN] [STEPS] [DEVICE]
# Defaults: build/tools/vktrain, 20 steps, vulkan. Evaluation runs on the
# test set at the end of each run and is excluded from the step time.
set -euo pipefail
vktrain="${1:-build/tools/vktrain}"
steps="${2:-20}"
device="${3:-vulkan}"
cache=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$cache" "$log"' EXIT

field() { grep '"summary"' "$log" | sed -e "s/.*\"$1\":\([0-9.e+-]*\).*/\1/"; }

run() { # model device
  VKT_PIPELINE_CACHE_DIR="$cache" "$vktrain" train --model "$1" --device "$2" --steps "$steps" \
    --no-shuffle --quiet --log "$log"
  local rate setup
  rate=$(field samples_per_s)
  setup=$(field setup_seconds)
  awk -v m="$1" -v d="$2" -v r="$rate" -v s="$setup" \
    'BEGIN { printf "| %s | %s | %.2f | %.0f | %.3f |\n", m, d, 64000 / r, r, s }'
}

echo "| model | device | ms/step (batch 64) | samples/s | setup s |"
echo "|---|---|---:|---:|---:|"
for model in mlp cnn; do
  run "$model" cpu
  rm -rf "${cache:?}"/*
  run "$model" "$device"           # cold pipeline cache
  run "$model" "$device"           # warm: the cache file written by the run before
done
