#!/usr/bin/env bash
# MLServer peer: KServe v2 POST /v2/models/mlp/infer on 127.0.0.1:PORT.
#
#   bench/peers/mlserver/serve.sh PORT WORKDIR
#
# Writes WORKDIR/settings.json and WORKDIR/models/mlp/model-settings.json and
# runs `mlserver start WORKDIR` in the foreground. The model is runtime.py's
# MLPRuntime (a custom MLModel) on model_repository/mlp/1/model.pt. Batching as
# MLServer documents it: adaptive batching through the model's max_batch_size
# 64 and max_batch_time 0.002 (s). One inference worker process
# (parallel_workers 1, MLServer's default; one model instance), so the model
# runs outside the process that parses HTTP, as TorchServe's backend worker and
# LitServe's inference worker do. gRPC and Prometheus metrics stay on, as in a
# default deployment, on two other free loopback ports, with the metrics'
# multiprocess files under WORKDIR. debug false: no per-request access log.
set -euo pipefail
port=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
venv=${PEER_VENV:-$root/.bench-venvs/mlserver}
model=${PEER_MODEL:-$root/model_repository/mlp/1/model.pt}
batch=${PEER_MAX_BATCH_SIZE:-64}
wait_s=$(python3 -c "print(${PEER_MAX_WAIT_MS:-2} / 1000)")

mkdir -p "$work/models/mlp" "$work/metrics" "$work/envs"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
cat >"$work/settings.json" <<JSON
{
  "debug": false,
  "host": "127.0.0.1",
  "http_port": $port,
  "grpc_port": $(free_port),
  "metrics_port": $(free_port),
  "metrics_dir": "$work/metrics",
  "environments_dir": "$work/envs",
  "parallel_workers": 1,
  "model_repository_root": "$work/models",
  "load_models_at_startup": true
}
JSON
cat >"$work/models/mlp/model-settings.json" <<JSON
{
  "name": "mlp",
  "implementation": "runtime.MLPRuntime",
  "max_batch_size": $batch,
  "max_batch_time": $wait_s,
  "parameters": {"uri": "$model"},
  "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 64]}],
  "outputs": [{"name": "output", "datatype": "FP32", "shape": [-1, 10]}]
}
JSON

# The inference worker is a separate process: it imports runtime.MLPRuntime
# through PYTHONPATH, not through the model folder MLServer adds only while
# it loads the settings.
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
cd "$work"
exec "$venv/bin/mlserver" start "$work"
