#!/usr/bin/python3
"""Turns bench/run_gateway.sh's measurements into bench/results/gateway.{json,md}.

    gateway_report.py --json OUT.json --markdown OUT.md --xadd-rps N --xadd-command CMD --workers N
                      [--serve-command CMD] pool_identity=bench.json local_identity=bench.json
"""

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", required=True)
    parser.add_argument("--markdown", required=True)
    parser.add_argument("--serve-command", default="")
    parser.add_argument("--xadd-rps", type=float, required=True)
    parser.add_argument("--xadd-command", default="")
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--redis-commands", type=int, default=0,
                        help="commands Redis executed during the gateway run (INFO commandstats)")
    parser.add_argument("--redis-reads", type=int, default=0,
                        help="socket reads Redis processed during the gateway run (total_reads_processed)")
    parser.add_argument("runs", nargs="+", help="NAME=path to a surge bench --json document")
    args = parser.parse_args()

    runs = {}
    for item in args.runs:
        name, path = item.split("=", 1)
        runs[name] = json.loads(Path(path).read_text())
    pool, local = runs["pool_identity"], runs["local_identity"]
    Path(args.json).write_text(
        json.dumps({"xadd_rps": args.xadd_rps, "workers": args.workers, "redis_commands": args.redis_commands,
                    "redis_reads": args.redis_reads, "runs": runs}, indent=2) + "\n")

    machine = pool["machine"]
    local_levels = {level["concurrency"]: level for level in local["levels"]}
    lines = [
        "## Redis Streams gateway and workers",
        "",
        f"{pool['started_at']}; {machine['logical_cpus']} CPUs ({machine['cpu']}), {machine['os']}; "
        f"client, gateway, {args.workers} workers and redis-server share the CPUs. Client: `surge bench`, "
        f"closed loop, {pool['settings']['duration_s']:g} s per level after {pool['settings']['warmup_s']:g} s "
        "of warm-up; latencies in milliseconds. The same identity model runs through the gateway "
        "(`worker_pool`) and in-process.",
        "",
        f"Redis alone: {args.xadd_rps:,.0f} XADD/s (`{args.xadd_command}`). "
        "Each request through the gateway costs an XADD, a worker's XREADGROUP share, a reply XADD, "
        "an XACK share and the gateway's XREAD share.",
        "",
        f"Server: `{args.serve_command}`",
        "",
        f"`{pool['command_line']}`",
        "",
        "| concurrency | gateway requests/s | in-process requests/s | gateway p50 | gateway p99 "
        "| in-process p99 | p99 added | gateway errors |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for level in pool["levels"]:
        same = local_levels.get(level["concurrency"])
        lat = level["latency_us"]
        local_p99 = same["latency_us"]["p99"] / 1000 if same else float("nan")
        local_rps = same["throughput_rps"] if same else float("nan")
        lines.append(
            f"| {level['concurrency']} | {level['throughput_rps']:,.1f} | {local_rps:,.1f} | {lat['p50'] / 1000:.2f} "
            f"| {lat['p99'] / 1000:.2f} | {local_p99:.2f} | {lat['p99'] / 1000 - local_p99:.2f} "
            f"| {level['errors']['total']} |"
        )
    lines.append("")
    answered = sum(level.get("requests", 0) for level in pool["levels"])
    if args.redis_commands and answered:
        lines += [
            f"Redis over the gateway run (warm-up included): {args.redis_commands / answered:.2f} commands and "
            f"{args.redis_reads / answered:.2f} socket reads (about one per client round trip) per request answered.",
            "",
        ]
    Path(args.markdown).write_text("\n".join(lines))


if __name__ == "__main__":
    main()
