#!/usr/bin/env bash
# Core HTTP benchmark, loopback only. wrk drives, one target at a time:
#   nginx      static 200 (what this machine's loopback HTTP tops out at)
#   surge      GET /v2/health/live (the HTTP path alone)
#   surge      identity_fp32, mlp, mlp_nobatch: JSON infer, one row per request
# and surge's resident memory is read before and after. The report (machine,
# versions, figures, exact commands) is printed and written to bench/results/core.md.
#
#   bench/run_core.sh
#   DURATION=5 WARMUP=1 bench/run_core.sh
#
# Environment (defaults in brackets):
#   SURGE_BIN [build/release/surge]  MODEL_REPOSITORY [model_repository]
#   SURGE_BACKEND_DIRECTORY [<dir of SURGE_BIN>/backends when it exists]
#   SURGE_ARGS [] extra `surge serve` flags, e.g. "--threads 4"
#   DURATION [20] seconds per measured run   WARMUP [3] seconds of unmeasured load first
#   THREADS [2] and CONNECTIONS [64] for wrk
#   SERVER_CPUS, CLIENT_CPUS [] taskset CPU lists to keep servers and wrk apart
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

surge_bin=${SURGE_BIN:-build/release/surge}
repository=${MODEL_REPOSITORY:-model_repository}
duration=${DURATION:-20}
warmup=${WARMUP:-3}
threads=${THREADS:-2}
connections=${CONNECTIONS:-64}
report=bench/results/core.md

die() {
  echo "run_core: $*" >&2
  exit 1
}

for tool in wrk nginx curl python3; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps installs it)"
done
[ -x "$surge_bin" ] || die "no surge binary at $surge_bin (cmake --preset release && cmake --build --preset release)"
[ -d "$repository" ] || die "no model repository at $repository (/usr/bin/python3 scripts/make_models.py --output $repository)"

server_prefix=()
client_prefix=()
[ -n "${SERVER_CPUS:-}" ] && server_prefix=(taskset -c "$SERVER_CPUS")
[ -n "${CLIENT_CPUS:-}" ] && client_prefix=(taskset -c "$CLIENT_CPUS")

work=$(mktemp -d "${TMPDIR:-/tmp}/surge-bench.XXXXXX")
surge_pid=""
nginx_pid=""
cleanup() {
  if [ -n "$surge_pid" ] && kill -TERM "$surge_pid" 2>/dev/null; then wait "$surge_pid" 2>/dev/null || true; fi
  if [ -n "$nginx_pid" ] && kill -QUIT "$nginx_pid" 2>/dev/null; then wait "$nginx_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Polls `condition` (a command) every 50 ms until it succeeds; dies after $2 seconds.
wait_for() {
  local what=$1 seconds=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || die "$what: not after $seconds s"
    sleep 0.05
  done
}

rss_mib() {
  awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}

# ---- surge ------------------------------------------------------------------

# shellcheck source=bench/lib/surge.sh
. bench/lib/surge.sh
# shellcheck disable=SC2206  # SURGE_ARGS is a list of flags, split on purpose
surge_serve_command ${SURGE_ARGS:-}
surge_command=("${server_prefix[@]}" "${surge_command[@]}")
launch_surge "$work" || die "surge did not start"
surge_url=http://127.0.0.1:$surge_port
rss_start=$(rss_mib "$surge_pid")

# ---- nginx ------------------------------------------------------------------

nginx_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
nginx_conf=$work/nginx/nginx.conf
mkdir -p "$work/nginx"
sed -e "s|@PREFIX@|$work/nginx|g" -e "s|@PORT@|$nginx_port|g" bench/nginx/nginx.conf >"$nginx_conf"
# Drop temp paths of modules this nginx was built without (nginx-light and friends).
for module in fastcgi uwsgi scgi proxy; do
  if nginx -V 2>&1 | grep -q -- "--without-http_${module}_module"; then
    sed -i "/^[[:space:]]*${module}_temp_path /d" "$nginx_conf"
  fi
done
nginx_cmd=("${server_prefix[@]}" nginx -p "$work/nginx" -c "$nginx_conf" -e "$work/nginx/error.log")
"${nginx_cmd[@]}" 2>"$work/nginx.err" &
nginx_pid=$!

nginx_ready() {
  if ! kill -0 "$nginx_pid" 2>/dev/null; then
    cat "$work/nginx.err" "$work/nginx/error.log" >&2 2>/dev/null || true
    die "nginx exited during start-up"
  fi
  curl -sf -o /dev/null "http://127.0.0.1:$nginx_port/"
}
wait_for "nginx start-up" 10 nginx_ready

# ---- checks: every target answers 200 before it is measured -----------------

zeros() {
  local n=$1 i
  printf '0'
  for ((i = 1; i < n; i++)); do printf ',0'; done
}

check_infer() {
  local model=$1 input=$2 width=$3 code
  local body="{\"inputs\":[{\"name\":\"$input\",\"shape\":[1,$width],\"datatype\":\"FP32\",\"data\":[$(zeros "$width")]}]}"
  code=$(curl -s -o "$work/check.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data "$body" "$surge_url/v2/models/$model/infer")
  [ "$code" = 200 ] || die "$model answered $code: $(head -c 300 "$work/check.json")"
}
check_infer identity_fp32 INPUT0 16
check_infer mlp input 64
check_infer mlp_nobatch input 64

# ---- runs -------------------------------------------------------------------

rows=()
commands=()
# bench LABEL URL SCRIPT [SCRIPT ARGS...]
bench() {
  local label=$1 url=$2 script=$3
  shift 3
  local script_args=()
  [ $# -gt 0 ] && script_args=(-- "$@")
  if [ "$warmup" -gt 0 ]; then
    "${client_prefix[@]}" wrk -t"$threads" -c"$connections" -d"${warmup}s" -s "$script" "$url" "${script_args[@]}" >/dev/null
  fi
  local cmd=("${client_prefix[@]}" wrk -t"$threads" -c"$connections" -d"${duration}s" -s "$script" "$url"
    "${script_args[@]}")
  echo "run_core: $label: ${cmd[*]}" >&2
  local out line
  out=$("${cmd[@]}")
  line=$(grep '^wrk-summary' <<<"$out") || die "wrk printed no summary for $label:"$'\n'"$out"
  field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
  rows+=("| $label | $(field rps) | $(field p50_ms) | $(field p90_ms) | $(field p99_ms) | $(field max_ms) | $(field requests) | $(field non2xx) | $(field socket_errors) |")
  commands+=("${cmd[*]}")
}

bench "nginx static 200" "http://127.0.0.1:$nginx_port/" bench/wrk/summary.lua
bench "surge GET /v2/health/live" "$surge_url/v2/health/live" bench/wrk/summary.lua
bench "surge identity_fp32 [1,16]" "$surge_url" bench/wrk/infer.lua identity_fp32 INPUT0 1,16
bench "surge mlp [1,64]" "$surge_url" bench/wrk/infer.lua mlp input 1,64
bench "surge mlp_nobatch [1,64]" "$surge_url" bench/wrk/infer.lua mlp_nobatch input 1,64

rss_end=$(rss_mib "$surge_pid")

# ---- report -----------------------------------------------------------------

surge_version=$(timeout 10 "$surge_bin" --version 2>/dev/null | head -n 1) || surge_version="n/a (no --version)"
[ -n "$surge_version" ] || surge_version="n/a"
revision=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git status --porcelain 2>/dev/null)" ] || revision="$revision (uncommitted changes)"
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
[ -n "$cpu_model" ] || cpu_model=$(uname -m)
memory=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)

mkdir -p "$(dirname "$report")"
{
  echo "# surge core benchmark"
  echo
  placement="wrk and the servers share the machine's CPUs"
  [ -z "${SERVER_CPUS:-}${CLIENT_CPUS:-}" ] ||
    placement="servers on CPUs ${SERVER_CPUS:-any}, wrk on CPUs ${CLIENT_CPUS:-any}"
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), revision $revision. Loopback only; $placement."
  echo
  echo "## Machine"
  echo
  echo "| | |"
  echo "|---|---|"
  echo "| CPUs (nproc) | $(nproc) |"
  echo "| CPU model | $cpu_model |"
  echo "| Memory | $memory |"
  echo "| Kernel | $(uname -sr) |"
  echo
  echo "## Versions"
  echo
  echo "| | |"
  echo "|---|---|"
  echo "| surge | $surge_version |"
  echo "| wrk | $(wrk -v 2>&1 | head -n 1 | sed 's/ Copyright.*//') |"
  echo "| nginx | $(nginx -v 2>&1 | sed 's/^nginx version: //') |"
  echo
  echo "## Results"
  echo
  echo "wrk -t$threads -c$connections, ${duration} s per row after ${warmup} s of warm-up; latencies in milliseconds."
  echo
  echo "| target | requests/s | p50 | p90 | p99 | max | requests | non-2xx | socket errors |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "surge resident memory (VmRSS): $rss_start MiB after start-up, $rss_end MiB after the runs."
  echo
  echo "## Commands"
  echo
  echo '```sh'
  echo "${surge_command[*]}"
  echo "${nginx_cmd[*]}   # bench/nginx/nginx.conf with @PORT@=$nginx_port"
  printf '%s\n' "${commands[@]}"
  echo '```'
} | tee "$report"
echo "run_core: wrote $report" >&2
