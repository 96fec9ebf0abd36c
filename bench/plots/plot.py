"""Plots the benchmark results: throughput against p99 latency, one line per server.

    .bench-venvs/plots/bin/python bench/plots/plot.py [--results bench/results] [--out docs/img]

Reads every bench/results/*.json shaped like peers.json
({"servers": [{"label": ..., "results": [{"concurrency", "rps", "p99_ms"}, ...]}]})
and writes <name>_throughput_p99.png for each (peers.json ->
docs/img/peers_throughput_p99.png). Other JSON files are skipped with a note.
Each point is one concurrency (labelled); both axes are on log scales, and
a server further right and lower is better.
"""

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
STYLES = {  # surge stands out; peers in muted, distinct colours
    "surge": dict(color="#d62728", linewidth=2.6, marker="o", zorder=5),
}
PALETTE = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#ff7f0e", "#17becf", "#7f7f7f"]
MARKERS = ["s", "^", "D", "v", "P", "X", "*"]


def plot_servers(report, title, out):
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=120)
    peer_index = 0
    plotted = 0
    for server in report["servers"]:
        points = sorted(
            (r for r in server.get("results", []) if r.get("rps") and r.get("p99_ms")),
            key=lambda r: r["concurrency"],
        )
        if not points:
            continue
        name = server.get("name", server.get("label", "?"))
        style = STYLES.get(name)
        if style is None:
            style = dict(
                color=PALETTE[peer_index % len(PALETTE)],
                marker=MARKERS[peer_index % len(MARKERS)],
                linewidth=1.6,
                zorder=3,
            )
            peer_index += 1
        xs = [p["rps"] for p in points]
        ys = [p["p99_ms"] for p in points]
        ax.plot(xs, ys, label=server.get("label", name), markersize=6, **style)
        for p in points:
            ax.annotate(
                f"c{p['concurrency']}",
                (p["rps"], p["p99_ms"]),
                textcoords="offset points",
                xytext=(5, 4),
                fontsize=7,
                color=style["color"],
            )
        plotted += 1
    if not plotted:
        plt.close(fig)
        return False
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    # Throughputs span two orders of magnitude between servers: log scale too.
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("throughput (requests/s, log scale)")
    ax.set_ylabel("p99 latency (ms, log scale)")
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    machine = report.get("machine", {})
    subtitle = ", ".join(
        part
        for part in (
            f"{machine['nproc']} CPUs" if machine.get("nproc") else "",
            machine.get("cpu_model", ""),
            f"{report['duration_s']} s per point" if report.get("duration_s") else "",
            report.get("generated", ""),
        )
        if part
    )
    ax.set_title(f"{title}\n{subtitle}", fontsize=10)
    ax.legend(loc="best", fontsize=9, framealpha=0.9)
    fig.text(
        0.99,
        0.01,
        "points: wrk connections (c1 … c64); lower right is better",
        ha="right",
        fontsize=7,
        color="#555555",
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return True


TITLES = {
    "peers": "mlp (64→10 FP32, TorchScript) over HTTP/JSON: surge and peer servers",
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    written = 0
    for path in sorted(args.results.glob("*.json")):
        try:
            report = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            print(f"plot: {path}: unreadable ({e}), skipped", file=sys.stderr)
            continue
        if not isinstance(report, dict) or not isinstance(report.get("servers"), list):
            print(f"plot: {path.name}: no 'servers' list, skipped", file=sys.stderr)
            continue
        out = args.out / f"{path.stem}_throughput_p99.png"
        if plot_servers(report, TITLES.get(path.stem, path.stem), out):
            print(f"plot: wrote {out}", file=sys.stderr)
            written += 1
    if not written:
        print("plot: nothing to plot", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
