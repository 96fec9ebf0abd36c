#!/usr/bin/env bash
# Hundreds of concurrent streaming users against a running surge (or any
# OpenAI-compatible server), with Locust headless:
#
#   bench/locust/run.sh http://127.0.0.1:8000
#   MODEL=echo USERS=200 RUN_TIME=30s bench/locust/run.sh http://127.0.0.1:8000
#
# Writes bench/results/locust_{stats,stats_history,failures,exceptions}.csv
# (Locust's --csv), bench/results/locust_summary.json (tokens and tokens/s,
# TTFT and full-stream percentiles) and prints Locust's summary. The custom
# request types are "ttft" (to the first text) and "stream" (to data: [DONE];
# its size column is the tokens generated).
#
# Environment (defaults in brackets):
#   MODEL [kjv_lm]  USERS [300]  SPAWN_RATE [50]  RUN_TIME [60s]
#   MAX_TOKENS [64]  MAX_TOKENS_MIN [0: every request asks MAX_TOKENS]
#   PROMPT ["In the beginning"]  PROMPT_FILE []  ENDPOINT [chat, or completions]
#   RESULTS [bench/results]  LOCUST [.bench-venvs/locust/bin/locust]
# Needs `scripts/install-bench-deps locust`.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
url=${1:?usage: bench/locust/run.sh URL  (e.g. http://127.0.0.1:8000)}
locust=${LOCUST:-.bench-venvs/locust/bin/locust}
results=${RESULTS:-bench/results}
[ -x "$locust" ] || { echo "run.sh: $locust not found (scripts/install-bench-deps locust)" >&2; exit 1; }
mkdir -p "$results"

args=(-f bench/locust/locustfile.py --host "$url" --headless
  -u "${USERS:-300}" -r "${SPAWN_RATE:-50}" -t "${RUN_TIME:-60s}"
  --csv "$results/locust" --only-summary --stop-timeout 30
  --model "${MODEL:-kjv_lm}" --max-tokens "${MAX_TOKENS:-64}" --max-tokens-min "${MAX_TOKENS_MIN:-0}"
  --summary-json "$results/locust_summary.json")
if [ -n "${PROMPT_FILE:-}" ]; then
  args+=(--prompt-file "$PROMPT_FILE")
else
  args+=(--prompt "${PROMPT:-In the beginning}")
fi
[ "${ENDPOINT:-chat}" = completions ] && args+=(--completions)

# Hundreds of users are hundreds of sockets.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "run.sh: $("$locust" --version 2>&1 | head -n 1); $(uname -srm); $(nproc) CPUs" >&2
echo "run.sh: $locust ${args[*]}" >&2
"$locust" "${args[@]}"
