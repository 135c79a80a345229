#!/usr/bin/env bash
# Federated-learning figures of docs/benchmarks.md, from `vktrain
# federate` runs (20 clients, Fashion-MNIST, mlp, default devices:
# 20% stragglers 10x slower, a third of the clients with half the memory
# of a full step):
#   1. dense FedAvg against the compressed codec (top-k 1% + error
#      feedback + int8 + zstd) and against dense with secure aggregation,
#      for the same rounds: accuracy and bytes per client update;
#   2. FedBuff against FedAvg: simulated time to a target accuracy.
#   bench/federate_bench.sh [VKTRAIN] [SEEDS] [ROUNDS] [STEPS] [TARGET]
# Defaults: build/tools/vktrain, "1 2 3", 200 FedAvg rounds, 300 FedBuff
# steps, 0.85. Each run takes 20-90 s on one core.
set -euo pipefail
vktrain="${1:-build/tools/vktrain}"
seeds="${2:-1 2 3}"
rounds="${3:-200}"
steps="${4:-300}"
target="${5:-0.85}"
compressed="topk=0.01,ef,int8=256,zstd=3"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

summary() { # file key
  grep '"summary"' "$1" | sed -e "s/.*\"$2\":\([^,}]*\).*/\1/"
}
last10() { # mean test accuracy of the last 10 rounds
  grep -v '"summary"' "$1" | tail -n 10 | sed -e 's/.*"test_accuracy":\([^,}]*\).*/\1/' |
    awk '{ s += $1 } END { printf "%.4f\n", s / NR }'
}
stats() { # "mean (min-max)" of numbers on stdin, scaled
  awk -v k="$1" -v d="$2" '{ v = $1 * k; s += v; if (NR == 1 || v < lo) lo = v; if (NR == 1 || v > hi) hi = v }
    END { if (NR == 0) printf "-"; else printf "%.*f (%.*f-%.*f)", d, s / NR, d, lo, d, hi }'
}
run() { # name federate-args...
  local name=$1
  shift
  for seed in $seeds; do
    "$vktrain" federate --clients 20 --threads 1 --quiet --seed "$seed" --target "$target" \
      --log "$work/$name-$seed.jsonl" "$@" > /dev/null
  done
}
column() { # name key|last10 scale digits
  for seed in $seeds; do
    if [ "$2" = last10 ]; then last10 "$work/$1-$seed.jsonl"; else summary "$work/$1-$seed.jsonl" "$2"; fi
  done | { grep -v null || true; } | stats "$3" "$4"
}

run dense --rounds "$rounds" --codec dense
run secagg --rounds "$rounds" --codec dense --secure-agg
run topk --rounds "$rounds" --codec "$compressed"
run topk_slr2 --rounds "$rounds" --codec "$compressed" --server-lr 2
echo "FedAvg, $rounds rounds of 10 clients, seeds $seeds: mean (min-max)"
echo
echo "| codec | server lr | final acc % | last-10 mean acc % | bytes per update | vs dense fp32 |"
echo "|---|---:|---:|---:|---:|---:|"
for row in "dense|dense|1" "secagg|dense, secure aggregation|1" "topk|$compressed|1" "topk_slr2|$compressed|2"; do
  IFS='|' read -r name label slr <<< "$row"
  echo "| $label | $slr | $(column "$name" final_accuracy 100 2) | $(column "$name" last10 100 2) |" \
    "$(column "$name" bytes_per_update 1 0) | $(column "$name" compression 1 0)x |"
done

run fedbuff --mode fedbuff --buffer 5 --rounds "$steps" --codec "$compressed" --server-lr 2
echo
echo "Time to ${target} test accuracy (simulated seconds; runs that never got there are left out):"
echo
echo "| schedule | reached | time to target s | updates to target | final acc % |"
echo "|---|---:|---:|---:|---:|"
for row in "topk_slr2 FedAvg" "fedbuff FedBuff"; do
  set -- $row
  reached=0
  for seed in $seeds; do
    [ "$(summary "$work/$1-$seed.jsonl" time_to_target)" != null ] && reached=$((reached + 1))
  done
  echo "| $2 | $reached/$(echo $seeds | wc -w) | $(column "$1" time_to_target 1 0) |" \
    "$(column "$1" updates_to_target 1 0) | $(column "$1" final_accuracy 100 2) |"
done
