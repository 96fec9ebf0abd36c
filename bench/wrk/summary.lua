-- Prints one machine-readable line after a wrk run, in fixed units, so
-- run_core.sh need not parse wrk's human-oriented output:
--   wrk-summary requests=N seconds=S rps=R p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. non2xx=N socket_errors=N
-- Used on its own for plain GETs, and loaded by infer.lua.

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors
  io.write(string.format(
    "wrk-summary requests=%d seconds=%.2f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f non2xx=%d socket_errors=%d\n",
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
