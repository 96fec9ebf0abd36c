#!/usr/bin/env bash
# Runs the libFuzzer targets of a fuzz build one after another, each for
# SECONDS, starting from the committed seeds (tests/fuzz/corpus/<target>) and
# the corpus earlier runs grew (<build>/fuzz-corpus/<target>, kept between
# runs). Prints the executions, the rate and the findings of each target;
# exits 1 when any target found a crash, a leak, a timeout or a broken
# invariant (the input is in <build>/fuzz-findings/<target>/).
#
#   tests/fuzz/run.sh <build dir> <seconds per target> [target...]
#   FUZZ_RUNS=10000000 tests/fuzz/run.sh ...   # also stop each after that many executions
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:?build directory}
seconds=${2:?seconds per target}
shift 2
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  targets=(http_request kserve_request grpc_infer openai_request resp_reader stream_entries model_config image_decode)
fi

failed=0
summary=()
for target in "${targets[@]}"; do
  binary="$build/fuzz/fuzz_$target"
  corpus="$build/fuzz-corpus/$target"
  findings="$build/fuzz-findings/$target"
  log="$build/fuzz-logs/$target.log"
  mkdir -p "$corpus" "$findings" "$(dirname "$log")"
  echo "fuzz: $target for ${seconds}s"
  # -timeout: one input running this long is a finding (a hang);
  # -rss_limit_mb: so is growing past this (an allocation a client controls).
  status=0
  "$binary" -max_total_time="$seconds" ${FUZZ_RUNS:+-runs="$FUZZ_RUNS"} -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$findings/" "$corpus" "$root/tests/fuzz/corpus/$target" >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  units=$(find "$corpus" -type f | wc -l)
  found=$(find "$findings" -type f | wc -l)
  line=$(printf '%-16s %12s execs %8s exec/s  corpus %6s  findings %s' "$target" "${execs:-?}" "${rate:-?}" \
    "$units" "$found")
  summary+=("$line")
  if [ "$status" -ne 0 ] || [ "$found" -ne 0 ]; then
    failed=1
    echo "fuzz: $target FAILED (exit $status); the log is $log, the inputs are in $findings:"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz invariant broken|.*runtime error)' "$log" | head -5 || true
  fi
done

echo "fuzz: ${seconds}s per target"
printf '  %s\n' "${summary[@]}"
exit "$failed"
