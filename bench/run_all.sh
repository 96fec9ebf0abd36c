#!/usr/bin/env bash
# Every benchmark, one after another, then the plots and docs/benchmarks.md:
#   1. bench/run_core.sh             surge's HTTP path beside nginx -> bench/results/core.md
#      bench/run_batching.sh         mlp vs mlp_nobatch, resnet18 (surge bench) -> bench/results/batching.*
#      bench/run_generation.sh       kjv_lm, continuous vs static batching at 64 streams (surge bench
#                                    --protocol openai), then genai-perf -> bench/results/generation.*
#      bench/run_gateway.sh          Redis Streams gateway + workers vs in-process -> bench/results/gateway.*
#   2. bench/peers/run_peers.sh      surge beside LitServe, Ray Serve, BentoML, TorchServe, MLServer,
#                                    async-batcher -> bench/results/peers.{md,json}
#   3. perf_analyzer (tritonclient)  against surge's mlp -> bench/results/perf_analyzer.{txt,json}
#   4. bench/plots/plot.py           -> docs/img/*_throughput_p99.png
#   5. generated sections spliced into docs/benchmarks.md between markers
#      (<!-- NAME:begin --> ... <!-- NAME:end --> for core, batching, generation, gateway, peers); the
#      rest of the file, the analysis written by hand, is left alone
# Loopback only. Needs `make build models` and scripts/install-bench-deps
# (`make bench` does all three). A step that fails is reported and the
# others still run; the exit status is non-zero if any step failed.
#
#   bench/run_all.sh                 # ~17 min with the default 15 s per point
#   DURATION=10 bench/run_all.sh     # ~10 min
#
# Environment: DURATION [15] and WARMUP [3] go to run_core.sh and run_peers.sh;
# PEERS, CONCURRENCY, SERVER_CPUS, CLIENT_CPUS as in run_peers.sh;
# SKIP ["" or any of: core batching generation gateway peers perf_analyzer plots docs];
# GENERATION_DURATION [60] and GENERATION_WARMUP [10] go to run_generation.sh;
# PA_CONCURRENCY [1:64:4] perf_analyzer's --concurrency-range; PA_TIMEOUT [300] s.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export DURATION=${DURATION:-15} WARMUP=${WARMUP:-3}
surge_bin=${SURGE_BIN:-build/release/surge}
repository=${MODEL_REPOSITORY:-model_repository}
results=bench/results
skip=" ${SKIP:-} "
failed=()
began=$SECONDS
mkdir -p "$results"

# shellcheck source=bench/lib/surge.sh
. bench/lib/surge.sh

step() { echo "run_all: == $* ($((SECONDS - began)) s)" >&2; }
skipped() { [[ "$skip" == *" $1 "* ]]; }

# ---- 1. core ------------------------------------------------------------------
if ! skipped core; then
  step "core: bench/run_core.sh"
  bench/run_core.sh >/dev/null || failed+=("core (bench/run_core.sh exited $?)")
fi

if ! skipped batching; then
  step "batching: bench/run_batching.sh"
  bench/run_batching.sh >/dev/null || failed+=("batching (bench/run_batching.sh exited $?)")
fi

if ! skipped generation; then
  step "generation: bench/run_generation.sh"
  bench/run_generation.sh >/dev/null || failed+=("generation (bench/run_generation.sh exited $?)")
if ! skipped gateway; then
  step "gateway: bench/run_gateway.sh"
  bench/run_gateway.sh >/dev/null || failed+=("gateway (bench/run_gateway.sh exited $?)")
fi

# ---- 2. peers -----------------------------------------------------------------
if ! skipped peers; then
  step "peers: bench/peers/run_peers.sh"
  bench/peers/run_peers.sh >/dev/null || failed+=("peers (bench/peers/run_peers.sh exited $?)")
fi

# ---- 3. perf_analyzer against surge -------------------------------------------
run_perf_analyzer() {
  local pa=.venv/bin/perf_analyzer out=$results/perf_analyzer.txt json=$results/perf_analyzer.json
  local report=(/usr/bin/python3 bench/peers/report.py perf-analyzer "$out" --json "$json")
  : >"$out"
  if [ ! -x "$pa" ]; then
    "${report[@]}" --rc 127 --error "$pa not found (tritonclient[all] in .venv ships it: make deps)"
    return 1
  fi
  # Its CUDA runtime dependency, installed (unused) by scripts/install-bench-deps.
  local cudart
  cudart=$(find .bench-venvs/perf_analyzer -name 'libcudart.so.12' -printf '%h\n' 2>/dev/null | head -n 1)
  [ -n "$cudart" ] && export LD_LIBRARY_PATH="$cudart${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  local version
  version=$("$pa" --version 2>&1 | head -n 1)
  if ! "$pa" --version >/dev/null 2>&1; then
    "${report[@]}" --rc 127 --error "$pa cannot start: $version"
    return 1
  fi

  local work surge_pid port="" rc
  work=$(mktemp -d "${TMPDIR:-/tmp}/surge-pa.XXXXXX")
  surge_command=()
  launch_surge "$work"
  port=${surge_port:-}
  if [ -z "$port" ]; then
    "${report[@]}" --rc 1 --error "surge did not start: $(tail -n 5 "$work/surge.err")"
    kill -TERM "$surge_pid" 2>/dev/null
    wait "$surge_pid" 2>/dev/null
    rm -rf "$work"
    return 1
  fi
  # One perf_analyzer call per level, so a level that does not settle costs only
  # itself (perf_analyzer stops at the first such level). A 2 s window and a
  # 25 % stability band keep each level to a few windows on a shared 2-core
  # machine (the defaults, 5 s and 10 %, can take minutes a level).
  local range=${PA_CONCURRENCY:-1:64:4} first last step c level_rc deadline=$((SECONDS + ${PA_TIMEOUT:-300}))
  IFS=: read -r first last step <<<"$range"
  local cmd=("$pa" -m mlp -u "127.0.0.1:$port" -i http --measurement-interval 2000 --stability-percentage 25
    --max-trials 8)
  step "perf_analyzer: ${cmd[*]} --concurrency-range C:C for C in $range"
  rc=0
  for ((c = first; c <= last; c += ${step:-1})); do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "error: PA_TIMEOUT (${PA_TIMEOUT:-300} s) reached before concurrency $c" >>"$out"
      rc=124
      break
    fi
    timeout 120 "${cmd[@]}" --concurrency-range "$c:$c" >>"$out" 2>&1
    level_rc=$?
    [ "$level_rc" -eq 0 ] || { rc=$level_rc; echo "error: perf_analyzer exited $level_rc at concurrency $c" >>"$out"; }
  done
  cmd+=(--concurrency-range "C:C  # C = $range, one call each")
  "${report[@]}" --rc "$rc" --command-line "${cmd[*]}" --version "$version"
  kill -TERM "$surge_pid" 2>/dev/null
  wait "$surge_pid" 2>/dev/null
  rm -rf "$work"
  return "$rc"
}
if ! skipped perf_analyzer; then
  step "perf_analyzer"
  run_perf_analyzer || failed+=("perf_analyzer (see $results/perf_analyzer.json)")
fi

# ---- 4. plots -----------------------------------------------------------------
if ! skipped plots; then
  step "plots: bench/plots/plot.py"
  if [ -x .bench-venvs/plots/bin/python ]; then
    .bench-venvs/plots/bin/python bench/plots/plot.py || failed+=("plots (bench/plots/plot.py exited $?)")
  else
    failed+=("plots (no .bench-venvs/plots: scripts/install-bench-deps plots)")
  fi
fi

# ---- 5. docs/benchmarks.md ----------------------------------------------------
# Replaces <!-- NAME:begin --> ... <!-- NAME:end --> in docs/benchmarks.md
# with a generated section; appends the block when the markers are missing.
splice_section() {
  local name=$1 section=$2 doc=docs/benchmarks.md
  [ -f "$section" ] || return 1
  /usr/bin/python3 - "$doc" "$section" "$name" <<'PY'
import sys
from pathlib import Path

doc, section, name = Path(sys.argv[1]), Path(sys.argv[2]).read_text().rstrip("\n"), sys.argv[3]
begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
block = f"{begin}\n{section}\n{end}"
text = doc.read_text() if doc.exists() else "# Benchmarks\n"
if begin in text and end in text and text.index(begin) < text.index(end):
    head, rest = text.split(begin, 1)
    text = head + block + rest.split(end, 1)[1]
else:
    text = text.rstrip("\n") + "\n\n" + block + "\n"
doc.write_text(text)
print(f"run_all: wrote the {name} section into {doc}", file=sys.stderr)
PY
}
splice_docs() {
  local rc=0
  if [ -f "$results/core.md" ]; then
    # The core report without its title: the section has its own heading.
    # Its "## " headings become "### " under the section's own.
    { echo "## Core: the HTTP limit and identity overhead"; echo; tail -n +2 "$results/core.md" | sed 's/^## /### /'; } \
      >"$results/core_section.md"
    splice_section core "$results/core_section.md" || rc=1
  fi
  [ -f "$results/batching_section.md" ] && { splice_section batching "$results/batching_section.md" || rc=1; }
  [ -f "$results/generation.md" ] && { splice_section generation "$results/generation.md" || rc=1; }
  [ -f "$results/gateway_section.md" ] && { splice_section gateway "$results/gateway_section.md" || rc=1; }
  /usr/bin/python3 bench/peers/report.py section --results "$results" --output "$results/peers_section.md" &&
    splice_section peers "$results/peers_section.md" || rc=1
  return "$rc"
}
if ! skipped docs; then
  step "docs: docs/benchmarks.md"
  splice_docs || failed+=("docs (splicing docs/benchmarks.md)")
fi

step "done"
if [ "${#failed[@]}" -gt 0 ]; then
  printf 'run_all: FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "run_all: all steps done in $((SECONDS - began)) s; reports in $results/" >&2
