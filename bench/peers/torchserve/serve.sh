#!/usr/bin/env bash
# TorchServe peer: POST /predictions/mlp on 127.0.0.1:PORT.
#
#   bench/peers/torchserve/serve.sh PORT WORKDIR
#
# Packs model_repository/mlp/1/model.pt with handler.py and common.py into
# WORKDIR/model-store/mlp.mar (torch-model-archiver), writes
# WORKDIR/config.properties and runs TorchServe in the foreground. Batching as
# TorchServe documents it: the model's batchSize 64 and maxBatchDelay 2 (ms)
# in config.properties' `models`; one backend worker (minWorkers = maxWorkers = 1).
# Management and metrics APIs listen on two other free loopback ports; token
# authorization is off (loopback only, and the benchmark sends no token);
# logging is cut to warnings (log4j2.xml) and system metrics are off, so no
# per-request log lines are written, as with surge and the other peers.
set -euo pipefail
port=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
venv=${PEER_VENV:-$root/.bench-venvs/torchserve}
model=${PEER_MODEL:-$root/model_repository/mlp/1/model.pt}
export PATH="$venv/bin:$PATH"

mkdir -p "$work/model-store" "$work/logs"
torch-model-archiver --force --model-name mlp --version 1.0 --serialized-file "$model" \
  --handler "$here/handler.py" --extra-files "$here/../common.py" --export-path "$work/model-store"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
cat >"$work/config.properties" <<CONF
inference_address=http://127.0.0.1:$port
management_address=http://127.0.0.1:$(free_port)
metrics_address=http://127.0.0.1:$(free_port)
model_store=$work/model-store
load_models=mlp.mar
default_workers_per_model=1
disable_system_metrics=true
disable_token_authorization=true
models={"mlp": {"1.0": {"defaultVersion": true, "marName": "mlp.mar", "minWorkers": 1, "maxWorkers": 1, "batchSize": 64, "maxBatchDelay": 2, "responseTimeout": 120}}}
CONF

cd "$work"
export LOG_LOCATION=$work/logs METRICS_LOCATION=$work/logs
exec torchserve --foreground --ncs --disable-token-auth --model-store "$work/model-store" \
  --ts-config "$work/config.properties" --log-config "$here/log4j2.xml"
