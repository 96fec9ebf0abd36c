#!/usr/bin/env bash
# Overload without collapse: a model whose capacity is set by waiting
# (identity with execute_delay_us, one instance, no batching), so that 10x its
# capacity is a rate the load generator can offer on the same two cores.
#   1. capacity: closed loop, 8 connections;
#   2. 10x capacity, open loop (Poisson) for OVERLOAD_SECONDS, over HTTP, then gRPC;
#   3. RSS of the server before, right after, and 30 s after each overload.
# Goodput = requests answered 200/OK per second; every other request must be
# refused (429 / UNAVAILABLE) rather than time out. Writes
# bench/results/overload.json and bench/results/overload_section.md.
#
#   bench/run_overload.sh
#   OVERLOAD_SECONDS=20 SETTLE_SECONDS=5 bench/run_overload.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
surge_bin=${SURGE_BIN:-build/release/surge}
overload_seconds=${OVERLOAD_SECONDS:-60}
settle_seconds=${SETTLE_SECONDS:-30}
delay_us=${EXECUTE_DELAY_US:-1000}
queue_wait_us=${QUEUE_WAIT_US:-500000}
results=bench/results
mkdir -p "$results"

work=$(mktemp -d "${TMPDIR:-/tmp}/surge-overload.XXXXXX")
surge_pid=""
cleanup() {
  if [ -n "$surge_pid" ] && kill -TERM "$surge_pid" 2>/dev/null; then wait "$surge_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

repository=$work/repository
mkdir -p "$repository/slow_identity/1"
cat >"$repository/slow_identity/config.pbtxt" <<PB
name: "slow_identity"
backend: "identity"
max_batch_size: 0
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ 16 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 16 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
parameters { key: "execute_delay_us" value { string_value: "$delay_us" } }
admission { max_queue_wait_microseconds: $queue_wait_us }
PB

# shellcheck source=bench/lib/surge.sh
. bench/lib/surge.sh
surge_serve_command
launch_surge "$work" || { echo "run_overload: surge did not start" >&2; exit 1; }
grpc_port=$(sed -n 's/^surge: grpc listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$work/surge.out" | head -n 1)
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$surge_pid/status"; }

bench() {
  local name=$1
  shift
  echo "run_overload: surge bench $*" >&2
  "$surge_bin" bench --model slow_identity --json --timeout-ms 5000 "$@" >"$work/$name.json"
}

bench capacity --url "http://127.0.0.1:$surge_port" --concurrency 8 --duration 10s --warmup 2s
capacity=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["levels"][0]["throughput_rps"])' \
  "$work/capacity.json")
rate=$(/usr/bin/python3 -c 'import sys; print(int(float(sys.argv[1]) * 10))' "$capacity")
echo "run_overload: capacity $capacity req/s; offering $rate req/s" >&2

declare -A rss
for protocol in http grpc; do
  url="http://127.0.0.1:$surge_port"
  [ "$protocol" = grpc ] && url="127.0.0.1:$grpc_port"
  rss[${protocol}_before]=$(rss_kb)
  bench "overload_$protocol" --protocol "$protocol" --url "$url" --rate "$rate" --arrival poisson \
    --duration "${overload_seconds}s" --warmup 2s --max-connections 4096 --threads 2
  rss[${protocol}_after]=$(rss_kb)
  sleep "$settle_seconds"
  rss[${protocol}_settled]=$(rss_kb)
done

/usr/bin/python3 - "$work" "$capacity" "$rate" "$delay_us" "$queue_wait_us" \
  "${rss[http_before]}" "${rss[http_after]}" "${rss[http_settled]}" \
  "${rss[grpc_before]}" "${rss[grpc_after]}" "${rss[grpc_settled]}" \
  "$results/overload.json" "$results/overload_section.md" "${surge_command[*]}" <<'PY'
import json, sys
(work, capacity, rate, delay_us, queue_wait_us, hb, ha, hs, gb, ga, gs, out_json, out_md, command) = sys.argv[1:]
capacity = float(capacity)
rows = []
for protocol, before, after, settled in (("http", hb, ha, hs), ("grpc", gb, ga, gs)):
    run = json.load(open(f"{work}/overload_{protocol}.json"))
    level = run["levels"][0]
    rows.append({
        "protocol": protocol,
        "offered_rps": int(rate),
        "goodput_rps": level["throughput_rps"],
        "goodput_of_capacity": level["throughput_rps"] / capacity,
        "admitted_p50_ms": level["latency_us"]["p50"] / 1000,
        "admitted_p99_ms": level["latency_us"]["p99"] / 1000,
        "admitted_max_ms": level["latency_us"]["max"] / 1000,
        "requests": level["requests"],
        "successes": level["successes"],
        "errors": level["errors"],
        "rss_kb": {"before": int(before), "after": int(after), "settled": int(settled)},
        "rss_settled_over_before": int(settled) / int(before),
    })
    machine = run["machine"]
json.dump({"capacity_rps": capacity, "execute_delay_us": int(delay_us), "queue_wait_us": int(queue_wait_us),
           "machine": machine, "serve_command": command, "runs": rows}, open(out_json, "w"), indent=2)
md = [f"Model: identity with `execute_delay_us: {delay_us}`, one instance, `max_batch_size: 0`, "
      f"`admission {{ max_queue_wait_microseconds: {queue_wait_us} }}` (bench/run_overload.sh). "
      f"Capacity (closed loop, 8 connections): **{capacity:,.0f} req/s**. "
      f"Machine: {machine.get('cpu', '?')}, {machine.get('logical_cpus', '?')} logical CPUs.",
      "",
      "| protocol | offered req/s | goodput req/s | goodput ÷ capacity | admitted p50 ms | admitted p99 ms | refused (429/UNAVAILABLE) | other errors | RSS before → after → 30 s later (MB) |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
for r in rows:
    by_status = r["errors"]["by_status"]
    refused = sum(v for k, v in by_status.items() if "429" in k or "UNAVAILABLE" in k)
    other = r["errors"]["total"] - refused
    mb = {k: v / 1024 for k, v in r["rss_kb"].items()}
    md.append(f"| {r['protocol']} | {r['offered_rps']:,} | {r['goodput_rps']:,.0f} | {r['goodput_of_capacity']:.2f} | "
              f"{r['admitted_p50_ms']:.1f} | {r['admitted_p99_ms']:.1f} | {refused:,} | {other:,} "
              f"({json.dumps(r['errors']['by_kind'])}) | {mb['before']:.0f} → {mb['after']:.0f} → {mb['settled']:.0f} |")
open(out_md, "w").write("\n".join(md) + "\n")
print("\n".join(md))
PY
