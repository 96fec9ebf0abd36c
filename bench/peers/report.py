#!/usr/bin/python3
"""Turns the peer benchmark's raw records into its reports.

    report.py peers WORKDIR --json bench/results/peers.json --markdown bench/results/peers.md ...
        (run by run_peers.sh) WORKDIR/servers/<name>/{meta,runs.tsv,error,startup_s}
        -> peers.json and peers.md
    report.py perf-analyzer OUTPUT.txt --json bench/results/perf_analyzer.json --rc N ...
        (run by run_all.sh) perf_analyzer's console output -> perf_analyzer.json
    report.py section [--results bench/results] [--output bench/results/peers_section.md]
        (run by run_all.sh) peers.json and perf_analyzer.json -> the "Peers" and
        "perf_analyzer" sections of docs/benchmarks.md
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ machine ---


def machine():
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1048576:.1f} GiB"
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "memory": memory,
        "kernel": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def tool_version(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"


def revision():
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    try:
        rev = git("rev-parse", "--short", "HEAD") or "unknown"
        if git("status", "--porcelain"):
            rev += " (uncommitted changes)"
        return rev
    except OSError:
        return "unknown"


# -------------------------------------------------------------------- peers ---


def parse_summary(line):
    """'wrk-summary requests=N rps=R p50_ms=...' -> dict of numbers."""
    fields = {}
    for part in line.split()[1:]:
        key, _, value = part.partition("=")
        try:
            fields[key] = float(value) if "." in value else int(value)
        except ValueError:
            fields[key] = value
    return fields


def read_meta(path):
    meta = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, _, value = line.partition("=")
            meta[key] = value
    return meta


def collect(work, order):
    servers = []
    base = Path(work) / "servers"
    order = order or sorted(p.name for p in base.iterdir())
    for name in order:
        d = base / name
        if not d.is_dir():
            continue
        meta = read_meta(d / "meta")
        server = {
            "name": name,
            "label": meta.get("label", name),
            "version": meta.get("version", ""),
            "url": meta.get("url", ""),
            "batching": meta.get("notes", ""),
            "command": meta.get("command", ""),
            "status": "ok",
            "error": None,
            "startup_s": None,
            "results": [],
        }
        server["loadavg_before"] = (d / "loadavg").read_text().strip() if (d / "loadavg").exists() else ""
        if (d / "startup_s").exists():
            server["startup_s"] = int((d / "startup_s").read_text().strip() or 0)
        if (d / "runs.tsv").exists():
            for row in (d / "runs.tsv").read_text().splitlines():
                c, t, summary, command = row.split("\t", 3)
                entry = {"concurrency": int(c), "threads": int(t), "command": command}
                if summary.startswith("wrk-summary"):
                    entry.update(parse_summary(summary))
                else:
                    entry["error"] = summary
                server["results"].append(entry)
        if (d / "error").exists():
            server["error"] = (d / "error").read_text().rstrip()
            server["status"] = "partial" if any("rps" in r for r in server["results"]) else "failed"
        servers.append(server)
    return servers


def fmt(value, digits=1):
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def peers_markdown(report):
    m = report["machine"]
    lines = ["# surge and peer servers", ""]
    placement = "wrk and the servers share the machine's CPUs"
    if report["server_cpus"] or report["client_cpus"]:
        placement = f"servers on CPUs {report['server_cpus'] or 'any'}, wrk on CPUs {report['client_cpus'] or 'any'}"
    lines += [
        f"{report['generated']}, revision {report['revision']}. Loopback only; {placement}.",
        "",
        "Every server serves the same TorchScript file (model_repository/mlp/1/model.pt,",
        "64 → 256 → 256 → 10 FP32) with one intra-op thread and one model instance",
        "(worker/replica), with its own dynamic batching on at max batch 64 and a ~2 ms",
        "wait where it has such a setting, and receives the same request body (one",
        "[1, 64] row in KServe v2 JSON, bench/wrk/infer.lua) from the same wrk.",
        f"Each row: {report['duration_s']} s of load after {report['warmup_s']} s of warm-up per server;",
        "latencies in milliseconds.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        f"| CPUs (nproc) | {m['nproc']} |",
        f"| CPU model | {m['cpu_model']} |",
        f"| Memory | {m['memory']} |",
        f"| Kernel | {m['kernel']} |",
        f"| Python (peers) | {m['python']}, torch {report['versions'].get('torch', '?')} (Debian python3-torch) |",
        f"| wrk | {report['versions'].get('wrk', '?')} |",
        "",
        "## Servers",
        "",
        "| server | version | batching | start-up (s) | load average before | status |",
        "|---|---|---|---:|---|---|",
    ]
    for s in report["servers"]:
        lines.append(
            f"| {s['label']} | {s['version'] or '–'} | {s['batching'] or '–'} | {fmt(s['startup_s'])} | "
            f"{s.get('loadavg_before') or '–'} | {s['status']} |"
        )
    lines += ["", "## Results", ""]
    top = max(report["concurrency"]) if report["concurrency"] else None
    surge = next((s for s in report["servers"] if s["name"] == "surge"), None)
    surge_top = next((r for r in (surge or {}).get("results", []) if r.get("concurrency") == top and "rps" in r), None)
    if top is not None:
        lines += [
            f"At {top} connections:",
            "",
            "| server | requests/s | p50 | p99 | requests/s vs surge |",
            "|---|---:|---:|---:|---:|",
        ]
        for s in report["servers"]:
            r = next((r for r in s["results"] if r.get("concurrency") == top and "rps" in r), None)
            if r is None:
                lines.append(f"| {s['label']} | – | – | – | {s['status']} |")
                continue
            ratio = f"{r['rps'] / surge_top['rps']:.2f}×" if surge_top and surge_top["rps"] else "–"
            lines.append(f"| {s['label']} | {fmt(r['rps'])} | {fmt(r['p50_ms'], 2)} | {fmt(r['p99_ms'], 2)} | {ratio} |")
        lines.append("")
    for s in report["servers"]:
        lines += [f"### {s['label']}", ""]
        if s["results"]:
            lines += [
                "| connections | wrk threads | requests/s | p50 | p90 | p99 | max | non-2xx | socket errors |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            ]
            for r in s["results"]:
                if "rps" not in r:
                    lines.append(f"| {r['concurrency']} | {r['threads']} | {r.get('error', 'failed')} |||||||")
                    continue
                lines.append(
                    f"| {r['concurrency']} | {r['threads']} | {fmt(r['rps'])} | {fmt(r['p50_ms'], 2)} | "
                    f"{fmt(r['p90_ms'], 2)} | {fmt(r['p99_ms'], 2)} | {fmt(r['max_ms'], 2)} | "
                    f"{r['non2xx']} | {r['socket_errors']} |"
                )
            lines.append("")
        if s["error"]:
            lines += ["Could not be measured" if not s["results"] else "Problem", "", "```", s["error"], "```", ""]
    lines += ["## Commands", "", "```sh"]
    for s in report["servers"]:
        if s["command"]:
            lines.append(f"# {s['label']}")
            lines.append(s["command"])
            if s["url"]:
                lines.append(f"/usr/bin/python3 bench/peers/check.py {s['url']}")
            for r in s["results"]:
                lines.append(r["command"])
    lines += ["```", ""]
    return "\n".join(lines)


def cmd_peers(args):
    versions = {
        "wrk": tool_version(["wrk", "-v"]).split(" Copyright")[0],
    }
    try:
        import importlib.metadata as md

        versions["torch"] = md.version("torch")
    except Exception:  # noqa: BLE001
        versions["torch"] = "unknown"
    report = {
        "generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "revision": revision(),
        "machine": machine(),
        "versions": versions,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "concurrency": [int(c) for c in args.concurrency.split()],
        "server_cpus": args.server_cpus,
        "client_cpus": args.client_cpus,
        "servers": collect(args.work, args.order.split()),
    }
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    text = peers_markdown(report)
    Path(args.markdown).write_text(text)
    print(text)


# ------------------------------------------------------------------ section ---


def cmd_section(args):
    results = Path(args.results)
    out = ["## Peers", ""]
    peers_file = results / "peers.json"
    if peers_file.exists():
        report = json.loads(peers_file.read_text())
        m = report["machine"]
        top = max(report["concurrency"])
        surge = next((s for s in report["servers"] if s["name"] == "surge"), None)
        surge_top = next((r for r in (surge or {}).get("results", []) if r.get("concurrency") == top and "rps" in r), None)
        out += [
            "Throughput at a latency target is what a serving system is chosen by, so surge is",
            "measured beside what users would run instead: same machine, same client (wrk),",
            "same TorchScript model file (`mlp`, 64 → 10 FP32, one intra-op thread, one",
            "worker/replica/instance each), the same request body, and each system's own",
            "dynamic batching at max batch 64 with a ~2 ms wait where it has such a setting.",
            "Every server must first return torch's output for the request (within 1e-4).",
            "",
            f"{report['generated']}, revision {report['revision']}; {m['nproc']} CPUs ({m['cpu_model']}), "
            f"{m['memory']}; wrk and servers share the CPUs. {report['duration_s']} s per point. "
            "Full tables, versions and commands: `bench/results/peers.md`.",
            "",
            "![throughput vs p99 latency](img/peers_throughput_p99.png)",
            "",
            f"At {top} connections:",
            "",
            "| server | version | requests/s | p50 ms | p99 ms | vs surge |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for s in report["servers"]:
            r = next((r for r in s["results"] if r.get("concurrency") == top and "rps" in r), None)
            if r is None:
                out.append(f"| {s['label']} | {s['version'] or '–'} | – | – | – | {s['status']} |")
                continue
            ratio = f"{r['rps'] / surge_top['rps']:.2f}×" if surge_top and surge_top["rps"] else "–"
            out.append(
                f"| {s['label']} | {s['version'] or '–'} | {fmt(r['rps'])} | {fmt(r['p50_ms'], 2)} | "
                f"{fmt(r['p99_ms'], 2)} | {ratio} |"
            )
        out.append("")
        out += ["| server | " + " | ".join(f"c={c} req/s (p99 ms)" for c in report["concurrency"]) + " |"]
        out += ["|---|" + "---:|" * len(report["concurrency"])]
        for s in report["servers"]:
            cells = []
            for c in report["concurrency"]:
                r = next((r for r in s["results"] if r.get("concurrency") == c and "rps" in r), None)
                cells.append(f"{fmt(r['rps'], 0)} ({fmt(r['p99_ms'], 1)})" if r else "–")
            out.append(f"| {s['label']} | " + " | ".join(cells) + " |")
        out.append("")
        failed = [s for s in report["servers"] if s["error"]]
        if failed:
            out += ["Not measured, or with a problem, and why:", ""]
            for s in failed:
                first = s["error"].strip().splitlines()
                out.append(f"- **{s['label']}**: `{first[0] if first else 'unknown error'}`"
                           + (" (full output in bench/results/peers.md)" if len(first) > 1 else ""))
            out.append("")
        out += ["Reproduce: `bench/run_all.sh` (everything) or `bench/peers/run_peers.sh` (this section).", ""]
    else:
        out += ["No peer results yet: run `bench/peers/run_peers.sh`.", ""]

    out += ["## perf_analyzer", ""]
    pa_file = results / "perf_analyzer.json"
    if pa_file.exists():
        pa = json.loads(pa_file.read_text())
        out += [
            "Triton's own load generator, `perf_analyzer` (from the tritonclient package),",
            "against surge's KServe v2 HTTP endpoint, as a Triton user would check a server.",
            "It sends random [1, 64] rows with its HTTP default, the binary tensor data",
            "extension (not JSON numbers as wrk does above), one request at a time per",
            "concurrent context; `Server:` figures in the raw output come from surge's",
            "statistics endpoint. Raw output: `bench/results/perf_analyzer.txt`.",
            "",
            "```sh",
            pa.get("command", ""),
            "```",
            "",
        ]
        if pa.get("rows"):
            out += ["| concurrency | inferences/s | p50 ms | p90 ms | p99 ms |", "|---:|---:|---:|---:|---:|"]
            for row in pa["rows"]:
                out.append(
                    f"| {row['concurrency']} | {fmt(row['throughput'])} | {fmt(row.get('p50_ms'), 2)} | "
                    f"{fmt(row.get('p90_ms'), 2)} | {fmt(row.get('p99_ms'), 2)} |"
                )
            out.append("")
        if pa.get("error"):
            out += ["perf_analyzer could not be run here:", "", "```", pa["error"], "```", ""]
    else:
        out += ["Not run (bench/run_all.sh runs it when `.venv/bin/perf_analyzer` exists).", ""]
    Path(args.output).write_text("\n".join(out))
    print(f"report: wrote {args.output}", file=sys.stderr)


# ------------------------------------------------------------ perf_analyzer ---


def cmd_perf_analyzer(args):
    """perf_analyzer's console output -> perf_analyzer.json (rows + any error)."""
    import re

    text = Path(args.output_file).read_text(errors="replace") if Path(args.output_file).exists() else ""
    rows, row = [], None
    for line in text.splitlines():
        m = re.match(r"\s*Request concurrency: (\d+)", line)
        if m:
            row = {"concurrency": int(m.group(1))}
            rows.append(row)
            continue
        if row is None:
            continue
        m = re.match(r"\s*Throughput: ([\d.]+) infer/sec", line)
        if m and "throughput" not in row:
            row["throughput"] = float(m.group(1))
        m = re.match(r"\s*p(50|90|95|99) latency: (\d+) usec", line)
        if m and f"p{m.group(1)}_ms" not in row:
            row[f"p{m.group(1)}_ms"] = int(m.group(2)) / 1000.0
    rows = [r for r in rows if "throughput" in r]
    problems = [ln.strip() for ln in text.splitlines()
                if "Failed to obtain stable measurement" in ln or ln.lower().startswith("error")]
    error = None
    if args.rc != 0 and not problems:
        tail = [ln for ln in text.strip().splitlines() if ln.strip()][-5:]
        problems = tail
    if args.rc != 0 or problems:
        error = (f"exit status {args.rc}" + (" (timed out)" if args.rc in (124, 137) else "") + ":\n"
                 if args.rc != 0 else "") + "\n".join(problems)
    if args.error:
        error = args.error
    report = {
        "generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": args.command_line,
        "version": args.version,
        "rc": args.rc,
        "rows": rows,
        "error": error,
    }
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(f"report: wrote {args.json} ({len(rows)} concurrency levels{', with an error' if error else ''})",
          file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("peers")
    p.add_argument("work")
    p.add_argument("--json", required=True)
    p.add_argument("--markdown", required=True)
    p.add_argument("--duration", type=int, required=True)
    p.add_argument("--warmup", type=int, required=True)
    p.add_argument("--concurrency", default="1 4 16 64", help="the connection counts run, in order")
    p.add_argument("--order", default="", help="server names in the order they ran")
    p.add_argument("--server-cpus", default="")
    p.add_argument("--client-cpus", default="")
    s = sub.add_parser("section")
    s.add_argument("--results", default=str(ROOT / "bench" / "results"))
    s.add_argument("--output", default=str(ROOT / "bench" / "results" / "peers_section.md"))
    a = sub.add_parser("perf-analyzer")
    a.add_argument("output_file", help="perf_analyzer's captured stdout and stderr")
    a.add_argument("--json", required=True)
    a.add_argument("--rc", type=int, default=0)
    a.add_argument("--command-line", default="")
    a.add_argument("--version", default="")
    a.add_argument("--error", default="", help="why it was not run at all")
    args = parser.parse_args()
    {"peers": cmd_peers, "section": cmd_section, "perf-analyzer": cmd_perf_analyzer}[args.command](args)


if __name__ == "__main__":
    main()
