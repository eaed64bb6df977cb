#!/usr/bin/env bash
# Training throughput of the tiny dense model under libgomp's OMP_WAIT_POLICY (unset, PASSIVE, ACTIVE), on a quiet machine
# and with 1 and 2 other CPU-bound processes (busy loops), interleaved and repeated. Prints one line per run and a median
# per (busy, policy). Usage: bench/OmpWaitPolicy/run.sh [reps] [steps]   (about 6 min with the defaults on 2 cores)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
reps="${1:-3}"; steps="${2:-12}"
work="$(mktemp -d)"; trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
"$root/ultramem" --help >/dev/null 2>&1 # build first, not inside a timed run
run() { # policy busy rep -> median training tokens/s over steps 4..N (step 1-3: warm-up)
  local policy="$1" out="$work/run-$1-$2-$3"
  env ${policy:+OMP_WAIT_POLICY=$policy} "$root/ultramem" train --preset tiny --steps "$steps" --batch-size 16 \
    --eval-interval 100000 --checkpoint-interval 100000 --out "$out" >/dev/null 2>&1
  python3 - "$out/metrics.jsonl" <<'PY'
import json, statistics, sys
v = [json.loads(l)["tokens_per_s"] for l in open(sys.argv[1]) if '"split":"train"' in l][3:]
print(round(statistics.median(v)))
PY
  rm -rf "$out"
}
declare -A all
for busy in 0 1 2; do
  pids=()
  for _ in $(seq 1 "$busy"); do (while :; do :; done) & pids+=($!); done
  n=$reps; [ "$busy" -gt 0 ] && n=$(( reps > 2 ? 2 : reps ))
  for rep in $(seq 1 "$n"); do
    for policy in "" PASSIVE ACTIVE; do
      t=$(run "$policy" "$busy" "$rep")
      echo "busy=$busy policy=${policy:-unset} rep=$rep tokens/s=$t"
      all["$busy ${policy:-unset}"]+="$t "
    done
  done
  for p in "${pids[@]}"; do kill "$p"; done
done
echo "median tokens/s (busy processes, policy):"
for key in "${!all[@]}"; do
  echo "$key $(echo ${all[$key]} | tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
done | sort
