#!/usr/bin/env bash
# genai-perf (NVIDIA's LLM benchmark client; it drives perf_analyzer's OpenAI
# service kind) against surge's /v1/completions with --streaming and
# synthetic prompts: an independent measurement of TTFT, inter-token latency
# and output tokens/s beside `surge bench --protocol openai`.
#
#   bench/run_genai_perf.sh                                   # starts surge on model_repository, model kjv_lm
#   URL=http://127.0.0.1:8000 MODEL=kjv_lm bench/run_genai_perf.sh   # against a running server
#
# genai-perf counts tokens with a Hugging Face tokenizer, which by default it
# downloads from the Hugging Face hub. Here it gets a local one instead
# (bench/genai_perf/make_tokenizer.py): the model's own SentencePiece model
# (the first *.model file under the model's directory), or for echo_lm a
# byte-level one; TOKENIZER=DIR names any other local tokenizer directory.
# Nothing is downloaded (HF_HUB_OFFLINE=1).
#
# Writes $OUT [bench/results/genai_perf]/: genai-perf's artifacts, its console
# table (genai_perf.txt), and summary.json (version, command, figures) or,
# when it cannot run, failure.json with the reason; bench/generation/report.py
# reads either.
#
# Environment (defaults in brackets):
#   MODEL [kjv_lm]  URL [none: start surge]  MODEL_REPOSITORY [model_repository]
#   TOKENIZER [made as above]  TOKENIZER_MODEL_DIR [MODEL_REPOSITORY/MODEL]
#   ENDPOINT_TYPE [completions, or chat]  CONCURRENCY [16]  REQUEST_COUNT [200]  WARMUP_REQUESTS [16]
#   INPUT_TOKENS [32]  OUTPUT_TOKENS [64]  IGNORE_EOS [1: every request generates OUTPUT_TOKENS]
#   PERF_ANALYZER [.venv/bin/perf_analyzer]  GENAI_PERF_TIMEOUT [600] seconds
# Needs `scripts/install-bench-deps genai_perf perf_analyzer`.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${OUT:-bench/results/genai_perf}
model=${MODEL:-kjv_lm}
repository=${MODEL_REPOSITORY:-model_repository}
surge_bin=${SURGE_BIN:-build/release/surge}
venv=.bench-venvs/genai_perf
pa=${PERF_ANALYZER:-.venv/bin/perf_analyzer}
rm -rf "$out"
mkdir -p "$out"

work=$(mktemp -d "${TMPDIR:-/tmp}/surge-genai-perf.XXXXXX")
surge_pid=""
cleanup() {
  if [ -n "$surge_pid" ] && kill -TERM "$surge_pid" 2>/dev/null; then wait "$surge_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# fail REASON [COMMAND]: records why genai-perf did not run, and stops.
fail() {
  /usr/bin/python3 -c 'import json, sys; print(json.dumps({"reason": sys.argv[1], "command": sys.argv[2]}, indent=2))' \
    "$1" "${2:-}" >"$out/failure.json"
  echo "run_genai_perf: $1" >&2
  exit 1
}

if [ ! -x "$venv/bin/genai-perf" ]; then
  detail=""
  [ -f "$venv.error" ] && detail=" (installing it failed: $(tail -n 3 "$venv.error" | tr '\n' ' '))"
  fail "genai-perf is not installed: scripts/install-bench-deps genai_perf$detail"
fi
[ -x "$pa" ] || fail "perf_analyzer not found at $pa (tritonclient[all] in .venv ships it: make deps)"
# perf_analyzer's CUDA runtime dependency (loaded, never used), as run_all.sh step 3 does.
cudart=$(find .bench-venvs/perf_analyzer -name 'libcudart.so.12' -printf '%h\n' 2>/dev/null | head -n 1)
[ -n "$cudart" ] && export LD_LIBRARY_PATH="$cudart${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
pa_version=$("$pa" --version 2>&1 | head -n 1)
"$pa" --version >/dev/null 2>&1 || fail "perf_analyzer cannot start: $pa_version (scripts/install-bench-deps perf_analyzer)"
# genai-perf runs the perf_analyzer it finds on PATH: this one.
mkdir -p "$work/bin"
ln -s "$(cd "$(dirname "$pa")" && pwd)/$(basename "$pa")" "$work/bin/perf_analyzer"
export PATH="$work/bin:$PATH" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

# ---- a local tokenizer -----------------------------------------------------------
tokenizer=${TOKENIZER:-}
tokenizer_note="the tokenizer at $tokenizer"
if [ -z "$tokenizer" ]; then
  model_dir=${TOKENIZER_MODEL_DIR:-$repository/$model}
  spm=$(find -L "$model_dir" -name '*.model' -type f 2>/dev/null | head -n 1)
  tokenizer=$work/tokenizer
  if [ -n "$spm" ]; then
    "$venv/bin/python" bench/genai_perf/make_tokenizer.py --sentencepiece "$spm" "$tokenizer" >&2 ||
      fail "cannot make a Hugging Face tokenizer from $spm"
    tokenizer_note="the model's own SentencePiece model ($(basename "$spm")) as a local Hugging Face tokenizer"
  elif grep -Eq 'backend:[[:space:]]*"echo_lm"' "$model_dir/config.pbtxt" 2>/dev/null; then
    "$venv/bin/python" bench/genai_perf/make_tokenizer.py --bytes "$tokenizer" >&2 ||
      fail "cannot make a byte-level tokenizer"
    tokenizer_note="a byte-level tokenizer (echo_lm's tokens are bytes)"
  else
    fail "no local tokenizer for $model: no SentencePiece *.model under $model_dir; set TOKENIZER to a Hugging Face tokenizer directory (without one genai-perf downloads a tokenizer from the Hugging Face hub)"
  fi
fi

# ---- the server ------------------------------------------------------------------
url=${URL:-}
if [ -z "$url" ]; then
  [ -x "$surge_bin" ] || fail "no surge binary at $surge_bin"
  # shellcheck source=bench/lib/surge.sh
  . bench/lib/surge.sh
  surge_serve_command
  launch_surge "$work" || fail "surge did not start: $(tail -n 3 "$work/surge.err" 2>/dev/null | tr '\n' ' ')"
  url=http://127.0.0.1:$surge_port
fi

# ---- genai-perf ------------------------------------------------------------------
concurrency=${CONCURRENCY:-16}
warmup_requests=${WARMUP_REQUESTS:-16}
# perf_analyzer 2.51 never finishes a warm-up of fewer requests than its
# concurrency (it keeps sending); ask for at least one per slot.
[ "$warmup_requests" -ge "$concurrency" ] || warmup_requests=$concurrency
cmd=("$venv/bin/genai-perf" profile -m "$model" --endpoint-type "${ENDPOINT_TYPE:-completions}" --streaming
  -u "${url#http://}" --tokenizer "$tokenizer"
  --synthetic-input-tokens-mean "${INPUT_TOKENS:-32}" --synthetic-input-tokens-stddev 0
  --output-tokens-mean "${OUTPUT_TOKENS:-64}" --output-tokens-stddev 0
  --concurrency "$concurrency" --request-count "${REQUEST_COUNT:-200}"
  --warmup-request-count "$warmup_requests" --random-seed 1
  --artifact-dir "$out/artifacts" --profile-export-file profile_export.json)
[ "${IGNORE_EOS:-1}" = 1 ] && cmd+=(--extra-inputs ignore_eos:true)
shown="${cmd[*]}"
shown=${shown//$work\/tokenizer/<local tokenizer>}
echo "run_genai_perf: $shown" >&2
# A bound, so a perf_analyzer that never finishes cannot hold up the other benchmarks.
timeout "${GENAI_PERF_TIMEOUT:-600}" "${cmd[@]}" >"$out/genai_perf.txt" 2>&1
rc=$?
[ "$rc" -eq 124 ] && fail "genai-perf did not finish within ${GENAI_PERF_TIMEOUT:-600} s" "$shown"
if [ "$rc" -ne 0 ]; then
  fail "genai-perf exited $rc: $(grep -v '^\s*$' "$out/genai_perf.txt" | tail -n 4 | tr '\n' ' ')" "$shown"
fi
export_file=$(find "$out/artifacts" -name '*genai_perf.json' | head -n 1)
[ -n "$export_file" ] || fail "genai-perf wrote no *genai_perf.json under $out/artifacts" "$shown"

/usr/bin/python3 - "$export_file" "$out/summary.json" "$("$venv/bin/genai-perf" --version 2>&1 | tail -n 1)" \
  "$pa_version" "$shown" "$tokenizer_note" <<'PY'
import json
import sys

export, summary, version, pa_version, command, tokenizer_note = sys.argv[1:]
figures = json.load(open(export))
rows = [
    ("time_to_first_token", "Time to first token"),
    ("inter_token_latency", "Inter-token latency"),
    ("request_latency", "Request latency"),
    ("output_sequence_length", "Output tokens per request"),
    ("input_sequence_length", "Input tokens per request"),
    ("output_token_throughput", "Output tokens/s"),
    ("request_throughput", "Requests/s"),
]
metrics = {key: figures[key] for key, _ in rows if isinstance(figures.get(key), dict)}
json.dump({"version": f"{version}, {pa_version}", "command": command, "tokenizer_note": tokenizer_note,
           "rows": rows, "metrics": metrics}, open(summary, "w"), indent=2)
PY
cat "$out/genai_perf.txt"
