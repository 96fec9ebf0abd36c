#!/usr/bin/python3
"""Turns the continuous-vs-static runs of bench/run_generation.sh into
bench/results/generation.{md,json}.

    report.py --markdown OUT.md --json OUT.json --serve-command CMD --model M \\
        --run NAME=bench.json[,before.prom,after.prom] ... [--versions FILE] [--genai-perf DIR]

Each --run is one `surge bench --protocol openai --json` document, optionally
with the server's /metrics scraped before and after it (for the mean
sequences per decode step). --genai-perf points at genai-perf's results
(bench/run_genai_perf.sh: summary.json from its export, or failure.json saying
why it could not run).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def prometheus_value(text: str, name: str, model: str) -> float | None:
    """The sum over a series' samples for one model (all versions)."""
    total, found = 0.0, False
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match or match.group(1) != name or f'model="{model}"' not in (match.group(2) or ""):
            continue
        total += float(match.group(3))
        found = True
    return total if found else None


def step_occupancy(before: str, after: str, model: str) -> float | None:
    """Mean sequences per decode step between two scrapes."""
    values = []
    for suffix in ("_sum", "_count"):
        name = "surge_generation_step_sequences" + suffix
        a, b = prometheus_value(before, name, model), prometheus_value(after, name, model)
        if a is None or b is None:
            return None
        values.append(b - a)
    total, steps = values
    return total / steps if steps > 0 else None


def ms(us: float) -> str:
    return f"{us / 1000:,.1f}"


def level_of(doc: dict) -> dict:
    [level] = doc["levels"]
    return level


def summarize(name: str, doc: dict, before: str | None, after: str | None) -> dict:
    level = level_of(doc)
    served = doc["target"]["model"]
    out = {
        "name": name,
        "model": served,
        "command_line": doc["command_line"],
        "concurrency": level["concurrency"],
        "requests": level["requests"],
        "successes": level["successes"],
        "errors": level["errors"],
        "duration_s": level["duration_s"],
        "requests_per_s": level["throughput_rps"],
        "output_tokens": level.get("output_tokens", 0),
        "output_tokens_per_s": level.get("output_tokens_per_s", 0.0),
        "time_to_first_token_us": level.get("time_to_first_token_us"),
        "inter_token_latency_us": level.get("inter_token_latency_us"),
        "time_per_output_token_us": level.get("time_per_output_token_us"),
        "latency_us": level["latency_us"],
    }
    if before is not None and after is not None:
        out["mean_sequences_per_step"] = step_occupancy(before, after, served)
        generated = [prometheus_value(t, "surge_generation_tokens_total", served) for t in (before, after)]
        if None not in generated:
            out["server_generated_tokens"] = generated[1] - generated[0]
    return out


def genai_perf_section(directory: Path) -> list[str]:
    failure = directory / "failure.json"
    if failure.exists():
        reason = json.loads(failure.read_text())
        lines = ["### genai-perf", "", f"Not run: {reason['reason']}", ""]
        if reason.get("command"):
            lines += ["```sh", reason["command"], "```", ""]
        return lines
    summary = directory / "summary.json"
    if not summary.exists():
        return ["### genai-perf", "", f"No results in {directory}.", ""]
    doc = json.loads(summary.read_text())
    lines = [
        "### genai-perf",
        "",
        f"NVIDIA's LLM benchmark client ({doc.get('version', 'genai-perf')}), driving perf_analyzer against the same "
        "server, as an independent check of the figures above. Its tokens are counted with "
        f"{doc.get('tokenizer_note', 'its tokenizer')}.",
        "",
        "```sh",
        doc["command"],
        "```",
        "",
        "| metric | avg | p50 | p90 | p99 |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, label in doc["rows"]:
        stats = doc["metrics"].get(key)
        if not stats:
            continue
        unit = stats.get("unit", "")
        cells = " | ".join(f"{stats[s]:,.2f}" if isinstance(stats.get(s), (int, float)) else "" for s in
                           ("avg", "p50", "p90", "p99"))
        lines.append(f"| {label} ({unit}) | {cells} |")
    lines.append("")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--markdown", required=True)
    parser.add_argument("--json", required=True)
    parser.add_argument("--serve-command", default="")
    parser.add_argument("--model", required=True, help="the model the variants were copied from")
    parser.add_argument("--config", default="", help="the model's config.pbtxt, quoted in the report")
    parser.add_argument("--versions", default="", help="a file of 'name: version' lines")
    parser.add_argument("--genai-perf", default="", help="directory written by bench/run_genai_perf.sh")
    parser.add_argument("--run", action="append", required=True, help="NAME=bench.json[,before.prom,after.prom]")
    args = parser.parse_args()

    runs = []
    for item in args.run:
        name, _, files = item.partition("=")
        paths = files.split(",")
        doc = json.loads(Path(paths[0]).read_text())
        before = Path(paths[1]).read_text() if len(paths) > 2 else None
        after = Path(paths[2]).read_text() if len(paths) > 2 else None
        runs.append((name, doc, summarize(name, doc, before, after)))
    by_name = {name: summary for name, _, summary in runs}
    ratio = None
    if "continuous" in by_name and "static" in by_name and by_name["static"]["output_tokens_per_s"] > 0:
        ratio = by_name["continuous"]["output_tokens_per_s"] / by_name["static"]["output_tokens_per_s"]

    first = runs[0][1]
    machine = first["machine"]
    generation = first["target"].get("generation", {})
    settings = first["settings"]
    lengths = (
        f"max_tokens {generation.get('max_tokens_min')}"
        if generation.get("max_tokens_min") == generation.get("max_tokens_max")
        else f"max_tokens drawn per request from {generation.get('max_tokens_min')}..{generation.get('max_tokens_max')} "
        f"({generation.get('max_tokens_distribution')})"
    )
    prompts = generation.get("prompts", 1)
    lines = [
        "## Generation: continuous vs static batching",
        "",
        f"{first['started_at']}; {machine['logical_cpus']} CPUs ({machine['cpu']}), {machine['os']}; client and "
        "server share the CPUs.",
        "",
        f"`{args.model}` served twice from one temporary repository, the two copies differing only in "
        "`generation { batching: ... }` (same weights, symlinked). Client: `surge bench --protocol openai`, "
        f"closed loop, {first['levels'][0]['concurrency']} concurrent streams, {settings['duration_s']:g} s measured "
        f"after {settings['warmup_s']:g} s of warm-up; {prompts} prompt{'s' if prompts != 1 else ''}, {lengths}"
        f"{', ignore_eos' if generation.get('ignore_eos') else ''}; "
        "times in milliseconds.",
        "",
        "| batching | streams/s | output tokens/s | TTFT p50 | TTFT p99 | ITL p50 | ITL p99 | e2e p50 | e2e p99 "
        "| mean sequences per step | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, _, s in runs:
        ttft = s["time_to_first_token_us"] or {}
        itl = s["inter_token_latency_us"] or {}
        occupancy = s.get("mean_sequences_per_step")
        lines.append(
            f"| {name} | {s['requests_per_s']:,.2f} | {s['output_tokens_per_s']:,.1f} | {ms(ttft.get('p50', 0))} | "
            f"{ms(ttft.get('p99', 0))} | {ms(itl.get('p50', 0))} | {ms(itl.get('p99', 0))} | "
            f"{ms(s['latency_us']['p50'])} | {ms(s['latency_us']['p99'])} | "
            f"{'' if occupancy is None else f'{occupancy:.1f}'} | {s['errors']['total']} |"
        )
    lines.append("")
    if ratio is not None:
        lines += [
            f"**Continuous ÷ static output tokens/s: {ratio:.2f}×** (goal: ≥ 3×).",
            "",
        ]
    lines += ["Commands:", "", "```sh", args.serve_command]
    lines += [doc["command_line"] for _, doc, _ in runs]
    lines += ["```", ""]
    if args.config:
        lines += ["The model's `config.pbtxt` (each copy sets its own `batching`):", "", "```", Path(args.config)
                  .read_text().rstrip("\n"), "```", ""]
    if args.versions and Path(args.versions).exists():
        lines += ["Versions:", "", "| | |", "|---|---|"]
        for line in Path(args.versions).read_text().splitlines():
            key, _, value = line.partition(":")
            if value.strip():
                lines.append(f"| {key.strip()} | {value.strip()} |")
        lines.append("")
    if args.genai_perf:
        lines += genai_perf_section(Path(args.genai_perf))

    Path(args.markdown).write_text("\n".join(lines))
    Path(args.json).write_text(
        json.dumps({"model": args.model, "ratio": ratio, "runs": [s for _, _, s in runs],
                    "documents": {name: doc for name, doc, _ in runs}}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
