"""Plots one load-ramp run (bench/autoscale/ramp.py): three panels on one time axis.

    .bench-venvs/plots/bin/python bench/autoscale/plot.py [--results bench/autoscale/results] \
        [--out docs/img/autoscale_ramp.png]

Reads samples.csv, scale_events.csv and summary.json from --results. Top:
offered and answered requests/s. Middle: the client's rolling p99 (requests
scheduled in the last second) against the target. Bottom: desired, live and
warming workers, with the backlog on a second axis. The spike is shaded and
each scale decision marked.
"""

import argparse
import csv
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent


def column(rows, name):
    return [float(r[name]) if r[name] != "" else float("nan") for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=HERE / "results")
    parser.add_argument("--out", type=Path, default=HERE.parents[1] / "docs" / "img" / "autoscale_ramp.png")
    args = parser.parse_args()
    rows = list(csv.DictReader(open(args.results / "samples.csv")))
    events = list(csv.DictReader(open(args.results / "scale_events.csv")))
    summary = json.loads((args.results / "summary.json").read_text())
    t = column(rows, "t_s")
    spike = summary["spike"]

    fig, (rate, latency, workers) = plt.subplots(3, 1, sharex=True, figsize=(9, 8), dpi=120,
                                                 gridspec_kw={"height_ratios": [1, 1, 1.1]})
    for ax in (rate, latency, workers):
        ax.axvspan(spike["start_s"], spike["end_s"], color="#ff7f0e", alpha=0.08, lw=0)
        ax.grid(True, alpha=0.35)
        for e in events:
            ax.axvline(float(e["t_s"]), color="#2ca02c" if int(e["to"]) > int(e["from"]) else "#9467bd",
                       lw=0.8, ls=":", alpha=0.8)

    rate.plot(t, column(rows, "offered_rps"), color="#7f7f7f", lw=1.6, label="offered")
    rate.plot(t, column(rows, "answered_rps"), color="#1f77b4", lw=1.4, label="answered")
    rate.set_ylabel("requests/s")
    rate.legend(loc="upper left", fontsize=8)

    latency.plot(t, column(rows, "p99_ms"), color="#d62728", lw=1.6, label="client p99, last second")
    latency.axhline(summary["target_latency_ms"], color="black", lw=1, ls="--",
                    label=f"target {summary['target_latency_ms']:g} ms")
    latency.set_ylim(0, max(1.5 * summary["target_latency_ms"], max(v for v in column(rows, "p99_ms") if v == v) * 1.05))
    latency.set_ylabel("p99 latency (ms)")
    latency.legend(loc="upper left", fontsize=8)

    workers.step(t, column(rows, "desired"), where="post", color="#2ca02c", lw=3.2, alpha=0.6, label="desired")
    workers.step(t, column(rows, "live"), where="post", color="#1f77b4", lw=1.6, label="live")
    workers.step(t, column(rows, "warming"), where="post", color="#ff7f0e", lw=1.2, label="warming")
    workers.set_ylabel("workers")
    workers.set_ylim(bottom=0)
    backlog = workers.twinx()
    backlog.fill_between(t, column(rows, "backlog"), color="#7f7f7f", alpha=0.25, lw=0, label="backlog")
    backlog.set_ylabel("backlog (requests)")
    backlog.set_ylim(bottom=0)
    handles = workers.get_legend_handles_labels()[0] + backlog.get_legend_handles_labels()[0]
    workers.legend(handles, [h.get_label() for h in handles], loc="upper left", fontsize=8)
    workers.set_xlabel("time since the load started (s); dotted: scale-up (green) and scale-down (purple) decisions")

    recovery = summary.get("slo_recovery_s")
    if recovery == 0:
        recovered = "p99 stayed under the target"
    elif recovery is not None:
        recovered = f"p99 back under the target {recovery:g} s after the spike's start"
    else:
        recovered = "p99 not back under the target within the run"
    fig.suptitle(f"Autoscaling local workers: {spike['offered_rps']} req/s spike (shaded); {recovered}",
                 fontsize=10)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
