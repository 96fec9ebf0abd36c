#!/usr/bin/env bash
# Fraud scoring with windows over a Redis stream, at a sweep of open-loop
# request rates: surge's `fraud` features model (5-minute windows kept in
# the server, fed from the stream) beside the setup Feast users build (a
# consumer computing the same windows and pushing them to Feast's Redis
# online store, and a FastAPI + uvicorn service doing get_online_features
# and XGBoost on the same model file). Both read one stream of demo
# transactions in one redis-server started here. Before anything is
# measured, both sides' vectors must equal the Python reference bit for bit
# and their scores agree within 1e-6, or it exits 1. Also measured, for
# context: a bare Redis PING and Feast's online read alone. Not part of
# `make test` or `make bench`. About 6 minutes at the defaults.
#
#   make build models && scripts/install-bench-deps feast
#   bench/features/run.sh
#   RATES="100 400" DURATION=10 bench/features/run.sh
#   SIDES=feast USERS=500 bench/features/run.sh
#
# Environment (defaults in brackets):
#   RATES ["100 200 400 800"] requests/s   DURATION [30] measured s per level   WARMUP [5] s
#   USERS [2000] SEED [21] SPAN_MINUTES [20] MEDIAN_GAP_S [60]: the stream (scripts/models/fraud_data.py)
#   SIDES ["surge feast"]   CHECK_USERS [500]   P99_BOUND_MS [20]   CONNECTIONS [256]
#   FEAST_WORKERS [1] uvicorn worker processes of the Feast service (surge: its default 2 I/O threads)
#   SURGE_BIN [build/release/surge]  MODEL_REPOSITORY [model_repository]
#   SURGE_BACKEND_DIRECTORY [] passed as --backend-directory when set
#
# Output: bench/results/features.json (machine, versions, commands, the
# stream, the checks, every level) and a table on stdout. The max rate with
# p99 under the bound is the highest level answered within 2% of the offered
# rate, without errors, with p99 under P99_BOUND_MS.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
python=.venv/bin/python
repository=${MODEL_REPOSITORY:-model_repository}
export SURGE_BIN=${SURGE_BIN:-build/release/surge}

[ -x "$python" ] || { echo "features/run.sh: no $python (scripts/install-deps builds it)" >&2; exit 1; }
[ -x .bench-venvs/feast/bin/python ] ||
  { echo "features/run.sh: no .bench-venvs/feast: scripts/install-bench-deps feast" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "features/run.sh: no redis-server (scripts/install-deps)" >&2; exit 1; }
if [ ! -f "$repository/fraud_xgboost/1/model.json" ] || [ ! -f "$repository/fraud/config.pbtxt" ]; then
  /usr/bin/python3 scripts/make_models.py --output "$repository" --only fraud_xgboost fraud
fi

settings=()
for name in RATES DURATION WARMUP USERS SEED SPAN_MINUTES MEDIAN_GAP_S SIDES CHECK_USERS P99_BOUND_MS CONNECTIONS \
  FEAST_WORKERS; do
  [ -n "${!name:-}" ] && settings+=("$name=\"${!name}\"")
done

exec "$python" bench/features/features_bench.py \
  --model-repository "$repository" \
  --rates "${RATES:-100 200 400 800}" \
  --duration "${DURATION:-30}" \
  --warmup "${WARMUP:-5}" \
  --users "${USERS:-2000}" \
  --seed "${SEED:-21}" \
  --span-minutes "${SPAN_MINUTES:-20}" \
  --median-gap-s "${MEDIAN_GAP_S:-60}" \
  --sides "${SIDES:-surge feast}" \
  --feast-workers "${FEAST_WORKERS:-1}" \
  --check-users "${CHECK_USERS:-500}" \
  --p99-bound-ms "${P99_BOUND_MS:-20}" \
  --connections "${CONNECTIONS:-256}" \
  --output bench/results/features.json \
  --command "${settings[*]:+${settings[*]} }bench/features/run.sh"
