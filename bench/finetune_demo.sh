#!/usr/bin/env bash
# Fine-tuning recipe: train the cnn on Fashion-MNIST classes 0-4, then
# fine-tune it on classes 5-9 with each trainable-set policy, and report
# accuracy on the new classes, accuracy kept on the old ones, the step's
# planned memory and training throughput.
#   bench/finetune_demo.sh [VKTRAIN] [BASE_EPOCHS] [FINETUNE_EPOCHS] [DEVICE]
# Defaults: build/tools/vktrain, 3, 1, cpu.
set -euo pipefail
vktrain="${1:-build/tools/vktrain}"
base_epochs="${2:-3}"
ft_epochs="${3:-1}"
device="${4:-cpu}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

field() { # file key
  grep '"summary"' "$1" | sed -e "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/"
}
accuracy() { # weights classes
  "$vktrain" eval --model cnn --device "$device" --init "$1" --classes "$2" |
    sed -e 's/.*test_acc \([0-9.]*\)%.*/\1/'
}

"$vktrain" train --model cnn --device "$device" --classes 0-4 --epochs "$base_epochs" --quiet \
  --save "$work/base.safetensors" --log "$work/base.jsonl"
echo "base: cnn trained on classes 0-4 for $base_epochs epochs:" \
  "$(accuracy "$work/base.safetensors" 0-4)% on 0-4"
echo
echo "| policy | trained params | planned MB | samples/s | acc 5-9 % | acc 0-4 % |"
echo "|---|---:|---:|---:|---:|---:|"
for policy in full last:1 bias bias+last:1 lora:4 lora:4+last:1 channels:0.25; do
  out="$work/ft.safetensors"
  "$vktrain" train --model cnn --device "$device" --classes 5-9 --epochs "$ft_epochs" --quiet \
    --init "$work/base.safetensors" --policy "$policy" --merge-lora --save "$out" --log "$work/ft.jsonl"
  awk -v p="$policy" -v t="$(field "$work/ft.jsonl" trained_params)" \
    -v b="$(field "$work/ft.jsonl" planned_bytes)" -v r="$(field "$work/ft.jsonl" samples_per_s)" \
    -v new="$(accuracy "$out" 5-9)" -v old="$(accuracy "$out" 0-4)" \
    'BEGIN { printf "| %s | %d | %.2f | %.0f | %s | %s |\n", p, t, b / 1e6, r, new, old }'
done
