#!/usr/bin/python3
"""Turns `surge bench --json` documents into bench/results/batching.{json,md}.

    batching_report.py --json OUT.json --markdown OUT.md [--serve-command CMD] NAME=bench.json ...
"""

import argparse
import json
from pathlib import Path


def level_row(level: dict) -> str:
    lat = level["latency_us"]
    errors = level["errors"]["total"]
    return (
        f"| {level['concurrency']} | {level['throughput_rps']:,.1f} | {lat['p50'] / 1000:.2f} | "
        f"{lat['p90'] / 1000:.2f} | {lat['p99'] / 1000:.2f} | {lat['max'] / 1000:.2f} | {errors} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", required=True)
    parser.add_argument("--markdown", required=True)
    parser.add_argument("--serve-command", default="")
    parser.add_argument("runs", nargs="+", help="NAME=path to a surge bench --json document")
    args = parser.parse_args()

    runs = {}
    for item in args.runs:
        name, path = item.split("=", 1)
        runs[name] = json.loads(Path(path).read_text())
    Path(args.json).write_text(json.dumps(runs, indent=2) + "\n")

    first = next(iter(runs.values()))
    machine = first["machine"]
    lines = [
        "## Batching and compute-bound models",
        "",
        f"{first['started_at']}; {machine['logical_cpus']} CPUs ({machine['cpu']}), {machine['os']}; "
        f"client and server share the CPUs. Client: `surge bench`, closed loop, "
        f"{first['settings']['duration_s']:g} s per level after {first['settings']['warmup_s']:g} s of warm-up; "
        "latencies in milliseconds.",
        "",
        f"Server: `{args.serve_command}`",
        "",
    ]
    for name, doc in runs.items():
        target = doc["target"]
        shapes = ", ".join(f"{i['name']} {i['datatype']} {i['shape']}" for i in target["inputs"])
        lines += [
            f"### {name}",
            "",
            f"{target['encoding']} tensors, {target['request_bytes']:,} B per request ({shapes}).",
            f"`{doc['command_line']}`",
            "",
            "| concurrency | requests/s | p50 | p90 | p99 | max | errors |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            *(level_row(level) for level in doc["levels"]),
            "",
        ]
    if "mlp" in runs and "mlp_nobatch" in runs:
        lines += ["Batched ÷ unbatched `mlp` throughput, same run:", "", "| concurrency | ratio |", "|---:|---:|"]
        for batched, unbatched in zip(runs["mlp"]["levels"], runs["mlp_nobatch"]["levels"]):
            ratio = batched["throughput_rps"] / unbatched["throughput_rps"] if unbatched["throughput_rps"] else 0
            lines.append(f"| {batched['concurrency']} | {ratio:.2f}× |")
        lines.append("")
        lines += ["Batched ÷ unbatched `mlp` p50 latency, same run (under 1: batched is faster):", "",
                  "| concurrency | batched p50 ms | unbatched p50 ms | difference ms |", "|---:|---:|---:|---:|"]
        for batched, unbatched in zip(runs["mlp"]["levels"], runs["mlp_nobatch"]["levels"]):
            b, u = batched["latency_us"]["p50"] / 1000, unbatched["latency_us"]["p50"] / 1000
            lines.append(f"| {batched['concurrency']} | {b:.3f} | {u:.3f} | {b - u:+.3f} |")
        lines.append("")
    if "mlp" in runs and "identity_fp32" in runs:
        by_concurrency = {level["concurrency"]: level for level in runs["identity_fp32"]["levels"]}
        lines += ["Batched `mlp` ÷ `identity_fp32` (same JSON encoding, [1,64] FP32) throughput, same run:", "",
                  "| concurrency | ratio |", "|---:|---:|"]
        for batched in runs["mlp"]["levels"]:
            identity = by_concurrency.get(batched["concurrency"])
            if identity and identity["throughput_rps"]:
                lines.append(f"| {batched['concurrency']} | {batched['throughput_rps'] / identity['throughput_rps']:.2f}× |")
        lines.append("")
    Path(args.markdown).write_text("\n".join(lines))


if __name__ == "__main__":
    main()
