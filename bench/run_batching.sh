#!/usr/bin/env bash
# Batching and compute-bound runs, driven by `surge bench` (closed loop):
#   mlp vs mlp_nobatch  one row per request, JSON, 1..64 concurrent clients
#   identity_fp32       the same [1,64] FP32 JSON request at 64 clients (what batching must hide)
#   resnet18            one 3x224x224 image per request, binary tensors, 1..8 clients
# Writes bench/results/batching.json (every level) and
# bench/results/batching_section.md (spliced into docs/benchmarks.md by run_all.sh).
#
#   bench/run_batching.sh
#   DURATION=5 WARMUP=1 bench/run_batching.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
surge_bin=${SURGE_BIN:-build/release/surge}
repository=${MODEL_REPOSITORY:-model_repository}
duration=${DURATION:-15}
warmup=${WARMUP:-3}
results=bench/results
mkdir -p "$results"

work=$(mktemp -d "${TMPDIR:-/tmp}/surge-batching.XXXXXX")
surge_pid=""
cleanup() {
  if [ -n "$surge_pid" ] && kill -TERM "$surge_pid" 2>/dev/null; then wait "$surge_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=bench/lib/surge.sh
. bench/lib/surge.sh
surge_serve_command
launch_surge "$work" || { echo "run_batching: surge did not start" >&2; exit 1; }
url=http://127.0.0.1:$surge_port

runs=()
run() {
  local name=$1
  shift
  local cmd=("$surge_bin" bench --url "$url" --duration "${duration}s" --warmup "${warmup}s" --json "$@")
  echo "run_batching: ${cmd[*]}" >&2
  "${cmd[@]}" >"$work/$name.json"
  runs+=("$name=$work/$name.json")
}
run mlp --model mlp --concurrency 1,2,4,8,16,32,64
run mlp_nobatch --model mlp_nobatch --concurrency 1,2,4,8,16,32,64
run identity_fp32 --model identity_fp32 --shape INPUT0=1,64 --concurrency 64
run resnet18 --model resnet18 --binary --concurrency 1,2,4,8

/usr/bin/python3 bench/batching_report.py --serve-command "${surge_command[*]}" \
  --json "$results/batching.json" --markdown "$results/batching_section.md" "${runs[@]}"
cat "$results/batching_section.md"
