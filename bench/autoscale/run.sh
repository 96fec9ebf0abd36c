#!/usr/bin/env bash
# Load ramp against the autoscaler of `surge serve`'s local workers
# (docs/autoscaling.md): bench/autoscale/ramp.py replays shape.json against a
# worker-pool identity model that starts with one worker, then
# bench/autoscale/plot.py draws the run. About 2 minutes. Not part of
# `make test` or `make bench`.
#
#   scripts/install-bench-deps plots    # matplotlib, for the plot
#   bench/autoscale/run.sh
#   SHAPE=my_shape.json OUT=/tmp/ramp PNG=/tmp/ramp/ramp.png bench/autoscale/run.sh
#
# Environment (defaults in brackets):
#   SURGE_BIN [build/release/surge]  SURGE_BACKEND_DIRECTORY [build/release/backends]
#   SHAPE [bench/autoscale/shape.json]  OUT [bench/autoscale/results]
#   PNG [docs/img/autoscale_ramp.png]
# Output in OUT: samples.csv, scale_events.csv, summary.json, surge.out, surge.err.
# Exits 1 if any request failed (the plot is drawn all the same).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
python=.venv/bin/python
plots=.bench-venvs/plots/bin/python
surge_bin=${SURGE_BIN:-build/release/surge}
out=${OUT:-bench/autoscale/results}

[ -x "$python" ] || { echo "autoscale/run.sh: no $python (scripts/install-deps builds it)" >&2; exit 1; }
[ -x "$surge_bin" ] || { echo "autoscale/run.sh: no surge binary at $surge_bin" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "autoscale/run.sh: needs redis-server" >&2; exit 1; }

status=0
rm -f "$out/samples.csv"
"$python" bench/autoscale/ramp.py --surge-bin "$surge_bin" \
  --backend-directory "${SURGE_BACKEND_DIRECTORY:-$(dirname "$surge_bin")/backends}" \
  --shape "${SHAPE:-bench/autoscale/shape.json}" --out "$out" || status=$?
if [ ! -f "$out/samples.csv" ]; then
  echo "autoscale/run.sh: no samples; not plotted" >&2
elif [ -x "$plots" ]; then
  "$plots" bench/autoscale/plot.py --results "$out" --out "${PNG:-docs/img/autoscale_ramp.png}"
else
  echo "autoscale/run.sh: no $plots (scripts/install-bench-deps plots); not plotted" >&2
fi
exit "$status"
