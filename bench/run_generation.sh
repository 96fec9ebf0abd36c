#!/usr/bin/env bash
# Continuous vs static batching on one generative model (kjv_lm by default):
# a temporary repository holds two copies of the model whose config.pbtxt
# differ only in `generation { batching: CONTINUOUS | STATIC }` (the weights
# are symlinked), one `surge serve` loads both, and `surge bench --protocol
# openai` puts the same load on each in turn: 64 concurrent streams, prompts
# drawn from bench/generation/prompts.txt, max_tokens drawn per request so
# generations end at different lengths. Then genai-perf runs against the
# continuous copy (bench/run_genai_perf.sh) when it is installed.
#
# Writes bench/results/generation.md (spliced into docs/benchmarks.md by
# run_all.sh) and bench/results/generation.json (every figure and both
# surge bench documents), and prints the report.
#
#   bench/run_generation.sh
#   GENERATION_DURATION=10 GENERATION_WARMUP=2 GENAI_PERF=0 bench/run_generation.sh
#   MODEL_REPOSITORY=/tmp/repo MODEL=echo PROMPT_FILE=my_prompts.txt bench/run_generation.sh
#
# Environment (defaults in brackets):
#   SURGE_BIN [build/release/surge]  MODEL_REPOSITORY [model_repository]  MODEL [kjv_lm]
#   SURGE_BACKEND_DIRECTORY [<dir of SURGE_BIN>/backends when it exists]
#   CONCURRENCY [64] concurrent streams
#   GENERATION_DURATION [60] seconds measured per mode  GENERATION_WARMUP [10] seconds before
#   MAX_TOKENS_RANGE [8:192]  MAX_TOKENS_DISTRIBUTION [log-uniform: many short answers, few long]
#   PROMPT_FILE [bench/generation/prompts.txt]  TEMPERATURE [the server's default]
#   IGNORE_EOS [0; 1: every request generates its max_tokens]
#   GENAI_PERF [1; 0 skips genai-perf]  RESULTS [bench/results]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
surge_bin=${SURGE_BIN:-build/release/surge}
source_repository=${MODEL_REPOSITORY:-model_repository}
model=${MODEL:-kjv_lm}
concurrency=${CONCURRENCY:-64}
duration=${GENERATION_DURATION:-60}
warmup=${GENERATION_WARMUP:-10}
range=${MAX_TOKENS_RANGE:-8:192}
distribution=${MAX_TOKENS_DISTRIBUTION:-log-uniform}
prompt_file=${PROMPT_FILE:-bench/generation/prompts.txt}
results=${RESULTS:-bench/results}

die() {
  echo "run_generation: $*" >&2
  exit 1
}

[ -x "$surge_bin" ] || die "no surge binary at $surge_bin (cmake --preset release && cmake --build --preset release)"
[ -f "$source_repository/$model/config.pbtxt" ] ||
  die "no model $model in $source_repository (kjv_lm is built by make models; MODEL=NAME picks another)"
[ -f "$prompt_file" ] || die "no prompt file $prompt_file"
command -v curl >/dev/null || die "curl not found (scripts/install-deps installs it)"
mkdir -p "$results"

work=$(mktemp -d "${TMPDIR:-/tmp}/surge-generation.XXXXXX")
surge_pid=""
cleanup() {
  if [ -n "$surge_pid" ] && kill -TERM "$surge_pid" 2>/dev/null; then wait "$surge_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

continuous=${model}_continuous
static=${model}_static
/usr/bin/python3 bench/generation/make_variants.py "$source_repository/$model" "$work/repository" \
  "$continuous=CONTINUOUS" "$static=STATIC" || die "cannot make the two copies of $model"

# shellcheck source=bench/lib/surge.sh
. bench/lib/surge.sh
repository=$work/repository
surge_serve_command
launch_surge "$work" || die "surge did not start on $repository"
url=http://127.0.0.1:$surge_port
metrics_port=$(sed -n 's/^surge: metrics listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$work/surge.out" | head -n 1)
# The report names the source repository, not the temporary one.
serve_command="${surge_command[*]}"
serve_command=${serve_command//$work\/repository/<temporary repository: $continuous and $static from $source_repository\/$model>}

{
  echo "surge: $("$surge_bin" --version 2>&1 | head -n 1)"
  echo "kernel: $(uname -srm)"
  echo "CPUs: $(nproc) x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  echo "memory: $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "revision: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
} >"$work/versions.txt"

scrape() {
  curl -sf "http://127.0.0.1:$metrics_port/metrics" >"$1" || : >"$1"
}

runs=()
run_mode() {
  local name=$1 served=$2
  local cmd=("$surge_bin" bench --protocol openai --url "$url" --model "$served" --concurrency "$concurrency"
    --duration "${duration}s" --warmup "${warmup}s" --max-tokens-range "$range"
    --max-tokens-distribution "$distribution" --prompt-file "$prompt_file" --seed 1 --timeout-ms 600000 --json)
  [ -n "${TEMPERATURE:-}" ] && cmd+=(--temperature "$TEMPERATURE")
  [ "${IGNORE_EOS:-0}" = 1 ] && cmd+=(--ignore-eos)
  echo "run_generation: ${cmd[*]}" >&2
  scrape "$work/$name.before.prom"
  "${cmd[@]}" >"$work/$name.json" || die "surge bench failed on $served (exit $?)"
  scrape "$work/$name.after.prom"
  runs+=(--run "$name=$work/$name.json,$work/$name.before.prom,$work/$name.after.prom")
}
run_mode continuous "$continuous"
run_mode static "$static"

genai=()
if [ "${GENAI_PERF:-1}" = 1 ]; then
  echo "run_generation: bench/run_genai_perf.sh against $continuous" >&2
  # Same server, same model file, same concurrency; genai-perf records its own failure reason.
  URL=$url MODEL=$continuous TOKENIZER_MODEL_DIR=$source_repository/$model OUT=$results/genai_perf \
    CONCURRENCY=$concurrency REQUEST_COUNT=$((concurrency * 4)) WARMUP_REQUESTS=$concurrency \
    bench/run_genai_perf.sh >&2 || echo "run_generation: genai-perf did not complete (see $results/genai_perf)" >&2
  genai=(--genai-perf "$results/genai_perf")
fi

/usr/bin/python3 bench/generation/report.py --markdown "$results/generation.md" --json "$results/generation.json" \
  --serve-command "$serve_command" --model "$model" --config "$source_repository/$model/config.pbtxt" \
  --versions "$work/versions.txt" "${genai[@]}" "${runs[@]}"
cat "$results/generation.md"
