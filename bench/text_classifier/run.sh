#!/usr/bin/env bash
# The text classifier benchmark: surge's text_classifier (tokenizer ->
# minilm_kjv ensemble, ragged batching) under open-loop load at a sweep of
# arrival rates, the same sweep against the FastAPI + ONNX Runtime +
# tokenizers peer (bench/peers/text_fastapi) on the same model file, and the
# bare ONNX Runtime ceiling (ceiling.py). Not part of `make test`.
#
#   make build models && scripts/install-bench-deps text_fastapi
#   bench/text_classifier/run.sh
#   RATES="100 200 400" DURATION=20 SERVERS=surge bench/text_classifier/run.sh
#   SERVERS=surge_tokens ...   # surge's minilm_kjv fed client-tokenized verses
#
# Output: bench/results/text_classifier.json (every level of every server and
# the ceiling) and a table on stdout; the max rate with p99 < 200 ms is the
# highest level whose achieved rate is within 2% of the offered one, with no
# errors and p99 under 200 ms.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
surge_bin=${SURGE_BIN:-$root/build/release/surge}
repository=${REPOSITORY:-$root/model_repository}
rates=(${RATES:-50 100 150 200 300 400 500})
duration=${DURATION:-60}
warmup=${WARMUP:-5}
servers=(${SERVERS:-surge text_fastapi})
python=$root/.venv/bin/python
out=$root/bench/results
mkdir -p "$out"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# shellcheck source=../lib/surge.sh
source "$root/bench/lib/surge.sh"

sweep() {  # sweep NAME URL [open_loop.py args...]
  local name=$1 url=$2
  shift 2
  for rate in "${rates[@]}"; do
    "$python" bench/text_classifier/open_loop.py --url "$url" --rate "$rate" --duration "$duration" \
      --warmup "$warmup" --json "$work/$name-$rate.json" "$@" >/dev/null
    echo "$name rate $rate: $(cat "$work/$name-$rate.json")" >&2
  done
}

for server in "${servers[@]}"; do
  if [ "$server" = surge ] || [ "$server" = surge_tokens ]; then
    launch_surge "$work" || { echo "surge did not start" >&2; exit 1; }
    pids+=("$surge_pid")
    if [ "$server" = surge ]; then
      sweep surge "http://127.0.0.1:$surge_port"
    else
      sweep surge_tokens "http://127.0.0.1:$surge_port" --tokens "$repository/minilm_tokenizer/1/tokenizer.json"
    fi
    kill "$surge_pid"; wait "$surge_pid" 2>/dev/null || true
  else
    peer_python=$root/.bench-venvs/$server/bin/python
    [ -x "$peer_python" ] || { echo "$peer_python missing: scripts/install-bench-deps $server" >&2; exit 1; }
    port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$peer_python" "bench/peers/$server/server.py" --port "$port" --repository "$repository" \
      >"$work/$server.out" 2>&1 &
    peer_pid=$!
    pids+=("$peer_pid")
    for _ in $(seq 600); do
      curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' \
        -d '{"inputs":[{"name":"TEXT","shape":[1,1],"datatype":"BYTES","data":["In the beginning"]}]}' \
        "http://127.0.0.1:$port/v2/models/text_classifier/infer" && break
      sleep 0.1
    done
    sweep "$server" "http://127.0.0.1:$port"
    kill "$peer_pid"; wait "$peer_pid" 2>/dev/null || true
  fi
done

"$python" bench/text_classifier/ceiling.py --repository "$repository" >"$work/ceiling.json"

"$python" - "$work" "$out/text_classifier.json" "${servers[@]}" <<'PY'
import json, pathlib, platform, subprocess, sys
work, target, servers = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3:]
ceiling = json.loads((work / "ceiling.json").read_text())
report = {"machine": f"{platform.processor() or platform.machine()}, {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores",
          "ceiling": ceiling, "servers": {}}
for server in servers:
    levels = sorted((json.loads(p.read_text()) for p in work.glob(f"{server}-*.json")), key=lambda l: l["offered_rate"])
    ok = [l for l in levels if not l["errors"] and l["p99_ms"] is not None and l["p99_ms"] < 200
          and l["achieved_rate"] >= 0.98 * l["offered_rate"]]
    best = max((l["offered_rate"] for l in ok), default=None)
    report["servers"][server] = {"levels": levels, "max_rate_p99_under_200ms": best}
    print(f"{server}: max rate at p99 < 200 ms: {best} req/s")
    for l in levels:
        print(f"  {l['offered_rate']:>6} offered  {l['achieved_rate']:>7} achieved  p50 {l['p50_ms']} ms  p99 {l['p99_ms']} ms  errors {l['errors']}")
print(f"ceiling (bare ONNX Runtime, batch {ceiling['best_batch']}): {ceiling['ceiling_sentences_per_second']} sentences/s")
target.write_text(json.dumps(report, indent=1) + "\n")
PY
