#!/usr/bin/env bash
# Step time of the mlp and cnn presets at batch 64 on the CPU backend and
# on a Vulkan device, side by side, plus setup time (device, trainer,
# step compile with pipelines) with a cold and a warm pipeline cache.
#   bench/vulkan_steps.sh [VKTRAIN] [STEPS] [DEVICE] [DISABLE] [REPEATS]
# Defaults: build/tools/vktrain, 20 steps, vulkan, none, 1. Evaluation
# runs on the test set at the end of each run and is excluded from the
# step time.
# DISABLE (e.g. subgroup): each model gets one more device row with
# VKT_VULKAN_DISABLE=DISABLE (warm cache), to compare with the warm row.
# REPEATS: the warm rows are medians of that many runs, the two variants
# alternating, so that changes in machine load affect both alike.
set -euo pipefail
vktrain="${1:-build/tools/vktrain}"
steps="${2:-20}"
device="${3:-vulkan}"
disable="${4:-}"
repeats="${5:-1}"
cache=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$cache" "$log"' EXIT

field() { grep '"summary"' "$log" | sed -e "s/.*\"$1\":\([0-9.e+-]*\).*/\1/"; }

measure() { # model device [VKT_VULKAN_DISABLE value]: prints "samples/s setup_s"
  local env=(VKT_PIPELINE_CACHE_DIR="$cache")
  if [ -n "${3:-}" ]; then env+=(VKT_VULKAN_DISABLE="$3"); fi
  env "${env[@]}" "$vktrain" train --model "$1" --device "$2" --steps "$steps" --no-shuffle --quiet --log "$log"
  echo "$(field samples_per_s) $(field setup_seconds)"
}

median() { # numbers on stdin
  sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

row() { # model label "rate setup"...: the row of their medians
  local m="$1" label="$2" rate setup
  shift 2
  rate=$(printf '%s\n' "$@" | cut -d' ' -f1 | median)
  setup=$(printf '%s\n' "$@" | cut -d' ' -f2 | median)
  awk -v m="$m" -v d="$label" -v r="$rate" -v s="$setup" \
    'BEGIN { printf "| %s | %s | %.2f | %.0f | %.3f |\n", m, d, 64000 / r, r, s }'
}

echo "| model | device | ms/step (batch 64) | samples/s | setup s |"
echo "|---|---|---:|---:|---:|"
for model in mlp cnn; do
  row "$model" cpu "$(measure "$model" cpu)"
  rm -rf "${cache:?}"/*
  row "$model" "$device (cold cache)" "$(measure "$model" "$device")"
  on=() off=()
  for ((r = 0; r < repeats; r++)); do # warm: the cache file written by the cold run
    on+=("$(measure "$model" "$device")")
    if [ -n "$disable" ]; then off+=("$(measure "$model" "$device" "$disable")"); fi
  done
  row "$model" "$device (warm cache)" "${on[@]}"
  if [ -n "$disable" ]; then row "$model" "$device (warm, $disable off)" "${off[@]}"; fi
done
