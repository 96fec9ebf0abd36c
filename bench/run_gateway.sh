#!/usr/bin/env bash
# The Redis Streams path against the in-process one, on one machine:
#   XADD ops/s       redis-benchmark -q -n $XADD_REQUESTS XADD bench '*' f v   (Redis's own ceiling)
#   pool_identity    identity model served by $WORKERS `surge worker`s through the gateway
#   local_identity   the same model in-process
# with `surge bench` (closed loop) at each concurrency. Writes
# bench/results/gateway.json and bench/results/gateway_section.md (spliced
# into docs/benchmarks.md by run_all.sh between the gateway markers).
#
#   bench/run_gateway.sh
#   DURATION=2 WARMUP=0 GATEWAY_CONCURRENCY=1,8 XADD_REQUESTS=20000 bench/run_gateway.sh   # a smoke run
#
# Environment: DURATION [15], WARMUP [3], GATEWAY_CONCURRENCY [1,8,32,128],
# WORKERS [2], XADD_REQUESTS [200000], ELEMENTS [16] (FP32 values per request).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
surge_bin=${SURGE_BIN:-build/release/surge}
duration=${DURATION:-15}
warmup=${WARMUP:-3}
concurrency=${GATEWAY_CONCURRENCY:-1,8,32,128}
workers=${WORKERS:-2}
xadd_requests=${XADD_REQUESTS:-200000}
elements=${ELEMENTS:-16}
results=bench/results
mkdir -p "$results"

work=$(mktemp -d "${TMPDIR:-/tmp}/surge-gateway.XXXXXX")
surge_pid=""
redis_pid=""
worker_pids=()
cleanup() {
  for pid in "${worker_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${worker_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$surge_pid" ] && kill -TERM "$surge_pid" 2>/dev/null; then wait "$surge_pid" 2>/dev/null || true; fi
  if [ -n "$redis_pid" ] && kill -TERM "$redis_pid" 2>/dev/null; then wait "$redis_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# ---- a model repository: the same identity model twice ----
repository=$work/models
model_config() {
  cat <<PBTXT
name: "$1"
backend: "identity"
max_batch_size: 8
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
dynamic_batching { }
$2
PBTXT
}
mkdir -p "$repository/local_identity/1" "$repository/pool_identity/1"
model_config local_identity "" >"$repository/local_identity/config.pbtxt"
model_config pool_identity "worker_pool { heartbeat_ms: 500 claim_idle_ms: 5000 }" >"$repository/pool_identity/config.pbtxt"

# ---- redis-server on a free loopback port ----
redis_port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
  --logfile "$work/redis.log" &
redis_pid=$!
deadline=$((SECONDS + 10))
until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do
  if ! kill -0 "$redis_pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
    echo "run_gateway: redis-server did not start" >&2
    exit 1
  fi
  sleep 0.05
done
redis_url=redis://127.0.0.1:$redis_port

echo "run_gateway: redis-benchmark -q -p $redis_port -n $xadd_requests XADD bench '*' f v" >&2
xadd_line=$(redis-benchmark -q -p "$redis_port" -n "$xadd_requests" XADD bench '*' f v | tr '\r' '\n' | grep -a 'requests per second' | tail -n 1)
xadd_rps=$(echo "$xadd_line" | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p')
redis-cli -p "$redis_port" del bench >/dev/null

# ---- surge serve (the gateway) and the workers ----
# shellcheck source=bench/lib/surge.sh
. bench/lib/surge.sh
surge_serve_command --redis "$redis_url"
launch_surge "$work" || { echo "run_gateway: surge did not start" >&2; exit 1; }
url=http://127.0.0.1:$surge_port

backend_args=()
[ -d "$(dirname "$surge_bin")/backends" ] && backend_args=(--backend-directory "$(dirname "$surge_bin")/backends")
[ -n "${SURGE_BACKEND_DIRECTORY:-}" ] && backend_args=(--backend-directory "$SURGE_BACKEND_DIRECTORY")
for i in $(seq 1 "$workers"); do
  "$surge_bin" worker --model-repository "$repository" --model pool_identity --redis "$redis_url" \
    --name "bench-$i" "${backend_args[@]}" >"$work/worker-$i.out" 2>&1 &
  worker_pids+=($!)
done
deadline=$((SECONDS + 60))
until [ "$(cat "$work"/worker-*.out 2>/dev/null | grep -c ' joined model ')" -ge "$workers" ]; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "run_gateway: workers did not join" >&2
    tail -n 5 "$work"/worker-*.out >&2
    exit 1
  fi
  sleep 0.05
done
# The gateway counts live workers a few times per heartbeat; wait until it has.
until curl -s "http://127.0.0.1:$(sed -n 's/^surge: metrics listening on [^ ]*:\([0-9]*\).*/\1/p' "$work/surge.out")/metrics" |
  grep -q "surge_worker_pool_live_workers{model=\"pool_identity\"} $workers"; do
  [ "$SECONDS" -ge "$deadline" ] && { echo "run_gateway: the gateway never saw the workers" >&2; exit 1; }
  sleep 0.05
done

runs=()
run() {
  local name=$1
  shift
  local cmd=("$surge_bin" bench --url "$url" --duration "${duration}s" --warmup "${warmup}s" --json "$@")
  echo "run_gateway: ${cmd[*]}" >&2
  "${cmd[@]}" >"$work/$name.json"
  runs+=("$name=$work/$name.json")
}
# Redis's own counters over the gateway run: commands executed and socket
# reads (about one per round trip a client makes) per request answered.
redis-cli -p "$redis_port" config resetstat >/dev/null
run pool_identity --model pool_identity --binary --shape "INPUT0=$elements" --concurrency "$concurrency"
redis_info() { redis-cli -p "$redis_port" info "$1" | tr -d '\r'; }
redis_commands=$(redis_info commandstats | sed -n 's/^cmdstat_[a-z|]*:calls=\([0-9]*\).*/\1/p' | awk '{ n += $1 } END { print n + 0 }')
redis_reads=$(redis_info stats | sed -n 's/^total_reads_processed:\([0-9]*\)/\1/p')
run local_identity --model local_identity --binary --shape "INPUT0=$elements" --concurrency "$concurrency"

/usr/bin/python3 bench/gateway_report.py --serve-command "${surge_command[*]}" --workers "$workers" \
  --xadd-rps "${xadd_rps:-0}" --xadd-command "redis-benchmark -q -n $xadd_requests XADD bench '*' f v" \
  --redis-commands "${redis_commands:-0}" --redis-reads "${redis_reads:-0}" \
  --json "$results/gateway.json" --markdown "$results/gateway_section.md" "${runs[@]}"
cat "$results/gateway_section.md"
