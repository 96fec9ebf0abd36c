#!/usr/bin/env bash
# surge beside the serving systems people would run instead, on the same
# machine, same model file, same request, same client, same concurrencies.
# Loopback only. One server at a time:
#   start it on a free 127.0.0.1 port; wait until it answers the benchmark's
#   request with the same output torch gives (bench/peers/check.py, 1e-4);
#   WARMUP seconds of unmeasured load; then for each concurrency C:
#     wrk -t min(2,C) -cC -dDURATION -s bench/peers/peer.lua URL -- mlp input 1,64
#   stop it (every process it started), next.
# A server that cannot be installed, started or checked is reported with the
# exact error instead of figures. Writes bench/results/peers.md and peers.json.
#
#   bench/peers/run_peers.sh
#   DURATION=5 WARMUP=1 PEERS="surge litserve" bench/peers/run_peers.sh
#
# Environment (defaults in brackets):
#   PEERS [surge litserve rayserve bentoml torchserve async_batcher mlserver]
#   CONCURRENCY ["1 4 16 64"]  DURATION [15] s per run  WARMUP [3] s per server
#   SURGE_BIN [build/release/surge]  MODEL_REPOSITORY [model_repository]
#   SURGE_BACKEND_DIRECTORY [<dir of SURGE_BIN>/backends when it exists]
#   START_TIMEOUT [180] s for a server to answer correctly
#   SERVER_CPUS, CLIENT_CPUS [] taskset CPU lists to keep servers and wrk apart
# The peers' virtualenvs come from scripts/install-bench-deps (.bench-venvs/).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
# shellcheck source=bench/lib/surge.sh
. bench/lib/surge.sh

peers=(${PEERS:-surge litserve rayserve bentoml torchserve async_batcher mlserver})
concurrency=(${CONCURRENCY:-1 4 16 64})
duration=${DURATION:-15}
warmup=${WARMUP:-3}
start_timeout=${START_TIMEOUT:-180}
surge_bin=${SURGE_BIN:-build/release/surge}
repository=${MODEL_REPOSITORY:-model_repository}
venvs=.bench-venvs
results=bench/results
system_python=/usr/bin/python3

die() {
  echo "run_peers: $*" >&2
  exit 1
}
for tool in wrk curl "$system_python"; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps installs it)"
done
[ -f "$repository/mlp/1/model.pt" ] || die "no $repository/mlp/1/model.pt (make models)"

server_prefix=()
client_prefix=()
[ -n "${SERVER_CPUS:-}" ] && server_prefix=(taskset -c "$SERVER_CPUS")
[ -n "${CLIENT_CPUS:-}" ] && client_prefix=(taskset -c "$CLIENT_CPUS")

work=$(mktemp -d "${TMPDIR:-/tmp}/surge-peers.XXXXXX")
server_pid=""
server_pgid=""

# Every process the server started: its descendants and whatever is left in
# its process group (servers are started with setsid; TorchServe's java and
# Ray's actors outlive their parents or leave it).
server_processes() {
  local pid=$1 pgid=$2
  {
    descendants "$pid"
    [ -n "$pgid" ] && ps -o pid= -g "$pgid" 2>/dev/null
    echo "$pid"
  } | tr -d ' ' | sort -un
}
descendants() {
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    echo "$child"
    descendants "$child"
  done
}
stop_server() {
  [ -n "$server_pid" ] || return 0
  local pids alive
  # The server leads its own process group unless setsid had to fork (when it
  # was a group leader already); then the descendants of server_pid cover it.
  [ "$(ps -o pgid= -p "$server_pid" 2>/dev/null | tr -d ' ')" = "$server_pid" ] && server_pgid=$server_pid
  pids=$(server_processes "$server_pid" "$server_pgid")
  kill -TERM "$server_pid" 2>/dev/null || true
  for _ in $(seq 150); do # 15 s for an orderly exit
    alive=""
    for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
    [ -z "$alive" ] && break
    sleep 0.1
  done
  pids=$(
    for p in $pids; do kill -0 "$p" 2>/dev/null && echo "$p"; done
    server_processes "$server_pid" "$server_pgid"
  )
  for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 1
  for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  server_pgid=""
}
cleanup() {
  stop_server
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  "$system_python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# launch LOG COMMAND...: starts the server in its own session.
launch() {
  local log=$1
  shift
  setsid -w "${server_prefix[@]}" "$@" >"$log" 2>&1 </dev/null &
  server_pid=$!
  server_pgid=""
}

venv_version() { # VENV DIST...
  local venv=$1
  shift
  "$venv/bin/python" - "$@" <<'PY' 2>/dev/null || echo "unknown"
import importlib.metadata as m, sys
print(", ".join(f"{d} {m.version(d)}" for d in sys.argv[1:]))
PY
}

# ---- one function per server: sets label, version, url, command; starts it --

start_surge() {
  local port_file=$1 log=$2
  label="surge"
  [ -x "$surge_bin" ] || {
    echo "no surge binary at $surge_bin (make build)" >"$dir/error"
    return 1
  }
  version=$(timeout 10 "$surge_bin" --version 2>/dev/null | head -n 1 || true)
  surge_serve_command
  command_line=("${surge_command[@]}")
  launch "$log" "${command_line[@]}"
  local port="" deadline=$((SECONDS + 60))
  while [ -z "$port" ]; do
    kill -0 "$server_pid" 2>/dev/null || return 0 # check.py reports the exit
    port=$(surge_port_from "$log")
    [ "$SECONDS" -lt "$deadline" ] || break
    [ -n "$port" ] || sleep 0.05
  done
  url=http://127.0.0.1:$port/v2/models/mlp/infer
  notes="dynamic_batching { preferred_batch_size: [64] max_queue_delay_microseconds: 2000 }, max_batch_size 64, one instance, intra_op_threads 1 (model_repository/mlp/config.pbtxt)"
}

start_litserve() {
  local port=$1 log=$2 venv=$venvs/litserve
  label="LitServe"
  version=$(venv_version "$venv" litserve)
  url=http://127.0.0.1:$port/predict
  command_line=("$venv/bin/python" bench/peers/litserve/server.py --port "$port")
  notes="LitAPI(max_batch_size=64, batch_timeout=0.002); one inference worker, one API server process"
  launch "$log" "${command_line[@]}"
}

start_rayserve() {
  local port=$1 log=$2 venv=$venvs/rayserve
  label="Ray Serve"
  version=$(venv_version "$venv" ray)
  url=http://127.0.0.1:$port/mlp
  command_line=("$venv/bin/python" bench/peers/rayserve/server.py --port "$port")
  notes="@serve.batch(max_batch_size=64, batch_wait_timeout_s=0.002); one replica, max_ongoing_requests 128; local Ray instance on loopback"
  launch "$log" "${command_line[@]}"
}

start_bentoml() {
  local port=$1 log=$2 venv=$venvs/bentoml
  label="BentoML"
  version=$(venv_version "$venv" bentoml)
  url=http://127.0.0.1:$port/infer
  command_line=(env BENTOML_DO_NOT_TRACK=true "$venv/bin/bentoml" serve service:MLP --host 127.0.0.1 --port "$port"
    --working-dir bench/peers/bentoml)
  notes="@bentoml.api(batchable=True, max_batch_size=64, max_latency_ms=1000): adaptive wait, no fixed-wait setting; one worker, one thread"
  launch "$log" "${command_line[@]}"
}

start_torchserve() {
  local port=$1 log=$2 venv=$venvs/torchserve
  label="TorchServe"
  version="$(venv_version "$venv" torchserve torch-model-archiver), $(java -version 2>&1 | head -n 1)"
  url=http://127.0.0.1:$port/predictions/mlp
  command_line=(bench/peers/torchserve/serve.sh "$port" "$work/torchserve")
  notes="batchSize 64, maxBatchDelay 2 ms (config.properties); one backend worker; logging at WARN"
  launch "$log" "${command_line[@]}"
}

start_async_batcher() {
  local port=$1 log=$2 venv=$venvs/async_batcher
  label="async-batcher"
  version=$(venv_version "$venv" async-batcher fastapi uvicorn)
  url=http://127.0.0.1:$port/predict
  command_line=("$venv/bin/python" bench/peers/async_batcher/server.py --port "$port")
  notes="AsyncBatcher(max_batch_size=64, max_queue_time=0.002, concurrency=1) behind FastAPI on one uvicorn worker"
  launch "$log" "${command_line[@]}"
}

start_mlserver() {
  local port=$1 log=$2 venv=$venvs/mlserver
  label="MLServer"
  version=$(venv_version "$venv" mlserver uvicorn)
  # KServe v2 natively: the same route and body as surge's.
  url=http://127.0.0.1:$port/v2/models/mlp/infer
  command_line=(bench/peers/mlserver/serve.sh "$port" "$work/mlserver")
  notes="adaptive batching max_batch_size 64, max_batch_time 0.002 s (model-settings.json); custom MLModel runtime; one inference worker (parallel_workers 1)"
  launch "$log" "${command_line[@]}"
}

# ---- runs -------------------------------------------------------------------

declare -A labels=([surge]=surge [litserve]=LitServe [rayserve]="Ray Serve" [bentoml]=BentoML
  [torchserve]=TorchServe [async_batcher]=async-batcher [mlserver]=MLServer)

run_server() {
  local name=$1
  dir=$work/servers/$name
  mkdir -p "$dir"
  label=${labels[$name]:-$name} version="" url="" notes="" command_line=()
  local log=$dir/server.log

  if ! declare -F "start_$name" >/dev/null; then
    echo "unknown server $name" >"$dir/error"
    printf 'label=%s\n' "$name" >"$dir/meta"
    return
  fi
  if [ "$name" != surge ]; then
    if [ -f "$venvs/$name.error" ]; then
      cp "$venvs/$name.error" "$dir/error"
    elif [ ! -x "$venvs/$name/bin/python" ]; then
      echo "not installed: no virtualenv at .bench-venvs/$name (scripts/install-bench-deps $name)" >"$dir/error"
    fi
  fi

  # Other work on a shared machine shows here (1, 5, 15 min averages).
  cut -d' ' -f1-3 /proc/loadavg >"$dir/loadavg"
  if [ ! -f "$dir/error" ]; then
    echo "run_peers: $name: starting" >&2
    local port
    port=$(free_port)
    "start_$name" "$port" "$log" || true
  fi
  if [ ! -f "$dir/error" ]; then
    local check_out began=$SECONDS
    if check_out=$("$system_python" bench/peers/check.py "$url" --pid "$server_pid" --timeout "$start_timeout" 2>&1); then
      echo "run_peers: $name: $check_out after $((SECONDS - began)) s" >&2
      echo "$((SECONDS - began))" >"$dir/startup_s"
    else
      {
        echo "$check_out"
        echo "--- last lines of the server's output:"
        tail -n 25 "$log"
      } >"$dir/error"
    fi
  fi
  {
    printf 'label=%s\n' "$label"
    printf 'version=%s\n' "$version"
    printf 'url=%s\n' "$url"
    printf 'notes=%s\n' "$notes"
    printf 'command=%s\n' "${command_line[*]}"
  } >"$dir/meta"
  if [ -f "$dir/error" ]; then
    echo "run_peers: $name: FAILED: $(head -n 3 "$dir/error")" >&2
    stop_server
    return
  fi

  local script_args=(-- mlp input 1,64)
  if [ "$warmup" -gt 0 ]; then
    "${client_prefix[@]}" wrk -t2 -c"${concurrency[-1]}" -d"${warmup}s" -s bench/peers/peer.lua "$url" "${script_args[@]}" >/dev/null || true
  fi
  local c t cmd out line
  for c in "${concurrency[@]}"; do
    t=$((c < 2 ? c : 2)) # wrk needs at least one connection per thread
    cmd=("${client_prefix[@]}" wrk -t"$t" -c"$c" -d"${duration}s" -s bench/peers/peer.lua "$url" "${script_args[@]}")
    echo "run_peers: $name: ${cmd[*]}" >&2
    out=$("${cmd[@]}" 2>&1) || true
    if line=$(grep '^wrk-summary' <<<"$out"); then
      printf '%s\t%s\t%s\t%s\n' "$c" "$t" "$line" "${cmd[*]}" >>"$dir/runs.tsv"
      echo "run_peers: $name: c=$c ${line#wrk-summary }" >&2
    else
      printf '%s\t%s\t%s\t%s\n' "$c" "$t" "wrk-failed $(tr '\n\t' '  ' <<<"$out" | cut -c1-300)" "${cmd[*]}" >>"$dir/runs.tsv"
    fi
  done
  # Still up after the load? (a crash mid-run shows as socket errors too)
  kill -0 "$server_pid" 2>/dev/null || {
    echo "the server exited during the runs; last lines of its output:"
    tail -n 25 "$log"
  } >"$dir/error"
  stop_server
}

for name in "${peers[@]}"; do
  run_server "$name"
done

mkdir -p "$results"
"$system_python" bench/peers/report.py peers "$work" \
  --duration "$duration" --warmup "$warmup" --concurrency "${concurrency[*]}" --order "${peers[*]}" \
  --server-cpus "${SERVER_CPUS:-}" --client-cpus "${CLIENT_CPUS:-}" \
  --json "$results/peers.json" --markdown "$results/peers.md"
echo "run_peers: wrote $results/peers.md and $results/peers.json" >&2
