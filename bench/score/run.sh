#!/usr/bin/env bash
# Batch scoring: `surge score` with the churn demo model (churn_xgboost) over
# PostgreSQL tables of 1M and 100k synthetic customers (scripts/models/churn_data.py),
# in a PostgreSQL server of its own on a free loopback port, removed afterwards.
# Prints rows/s and peak RSS for each size (the same peak for both: memory is
# bounded by --page-rows and --in-flight, not by the table) and writes
# bench/results/score.json (machine, versions, figures, the exact commands).
# Not part of `make test` or `make bench`.
#
#   bench/score/run.sh
#   SIZES=200000,20000 PAGE_ROWS=1000 IN_FLIGHT=2 bench/score/run.sh
#
# Environment (defaults in brackets):
#   SURGE_BIN [build/release/surge]  MODEL_REPOSITORY [model_repository]
#   SURGE_BACKEND_DIRECTORY [] passed as --backend-directory when set
#   SIZES [1000000,100000] table sizes   PAGE_ROWS [4096]   IN_FLIGHT [4]
# As root, PostgreSQL runs as the `postgres` system user (tests/e2e/postgres_e2e.py).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

surge_bin=${SURGE_BIN:-build/release/surge}
repository=${MODEL_REPOSITORY:-model_repository}
python=.venv/bin/python

die() {
  echo "score/run.sh: $*" >&2
  exit 1
}

[ -x "$python" ] || die "no $python (scripts/install-deps builds it)"
[ -x "$surge_bin" ] || die "no surge binary at $surge_bin (cmake --preset release && cmake --build --preset release)"
if [ ! -f "$repository/churn_xgboost/1/model.json" ]; then
  /usr/bin/python3 scripts/make_models.py --output "$repository" --only churn_xgboost
fi

exec "$python" bench/score/score_bench.py \
  --surge-bin "$surge_bin" \
  --model-repository "$repository" \
  --backend-directory "${SURGE_BACKEND_DIRECTORY:-}" \
  --sizes "${SIZES:-1000000,100000}" \
  --page-rows "${PAGE_ROWS:-4096}" \
  --in-flight "${IN_FLIGHT:-4}" \
  --output bench/results/score.json
