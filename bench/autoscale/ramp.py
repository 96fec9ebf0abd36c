"""Load ramp against the autoscaler of `surge serve`'s local workers.

    .venv/bin/python bench/autoscale/ramp.py [--shape bench/autoscale/shape.json] [--out bench/autoscale/results]

Writes a worker-pool identity model (one local worker, autoscaling 1..6,
p99 target 100 ms; each batch of up to 4 rows waits 20 ms, so its cost is
mostly waiting and more workers add capacity even on two cores) to a
temporary repository, starts `surge serve` (which starts its own
redis-server), and replays the traffic shape: a JSON list of
[duration_s, requests_per_second] segments, requests evenly spaced within
each. Open loop: every request leaves at its scheduled time whatever the
answers; latency is counted from the scheduled time, so client lag counts
against the server. Each request is one row, checked to come back with its
own value. /metrics is sampled every 0.5 s.

Outputs in --out: samples.csv (every 0.5 s: offered, sent and answered
req/s over the last second, client p99 of the requests scheduled in the last
second, the server's queue depth, backlog, desired, live and warming
workers), scale_events.csv (the server's "autoscaler:" lines, timed as they
were printed), summary.json (counts, percentiles, the SLO recovery time
after the spike, machine, versions, commands) and the server's logs.
Exits 1 if any request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import aiohttp
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
MODEL = "ramp"
TARGET_MS = 100.0
STAY_S = 5.0  # the rolling p99 must stay under the target this long to count as recovered
SAMPLE_S = 0.5
CONFIG = f"""name: "{MODEL}"
backend: "identity"
max_batch_size: 4
input [ {{ name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] }} ]
output [ {{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] }} ]
instance_group [ {{ count: 1 kind: KIND_CPU }} ]
dynamic_batching {{ max_queue_delay_microseconds: 0 }}
parameters {{ key: "execute_delay_us" value {{ string_value: "20000" }} }}
worker_pool {{ heartbeat_ms: 100 claim_idle_ms: 1000 local_workers: 1 }}
autoscaling {{ min_replicas: 1 max_replicas: 6 target_latency_ms: {TARGET_MS:g} cold_start_ms: 1000
  evaluation_interval_ms: 1000 scale_down_stabilization_s: 10 scale_down_cooldown_s: 5 }}
"""
SCALE_LINE = re.compile(r"^surge: autoscaler: (\S+) (\d+) -> (\d+) workers \((\w+); (.*)\)$")
METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


class Server:
    """`surge serve` with its stdout read line by line, each line timed."""

    def __init__(self, args: argparse.Namespace, repository: Path, out: Path):
        self.command = [args.surge_bin, "serve", "--model-repository", str(repository), "--host", "127.0.0.1",
                        "--http-port", "0", "--metrics-port", "0", "--grpc-port", "0"]
        if args.backend_directory:
            self.command += ["--backend-directory", args.backend_directory]
        self.lines: list[tuple[float, str]] = []
        self.log = open(out / "surge.out", "w")
        self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=open(out / "surge.err", "wb"), text=True, cwd=ROOT)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))
            self.log.write(line)
            self.log.flush()

    def wait_ready(self, timeout_s: float = 60.0) -> tuple[int, int]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.process.poll() is None:
            text = "\n".join(line for _, line in self.lines)
            http = re.search(r"^surge: http listening on \S+:(\d+)$", text, re.M)
            metrics = re.search(r"^surge: metrics listening on \S+:(\d+)$", text, re.M)
            if http and metrics and re.search(r"^surge: ready$", text, re.M):
                return int(http.group(1)), int(metrics.group(1))
            time.sleep(0.05)
        raise RuntimeError(f"surge not ready (exit status {self.process.poll()}); see surge.err")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            status = self.process.wait()
        self.reader.join(timeout=5)
        self.log.close()
        return status


def model_metrics(text: str) -> dict:
    """This model's series, summed over versions: name -> value, outcome/direction kept apart."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        match = METRIC_LINE.match(line)
        if not match:
            continue
        name, label_text, value = match.groups()
        labels = dict(LABEL.findall(label_text or ""))
        if labels.get("model") != MODEL:
            continue
        key = name + "".join(f":{labels[k]}" for k in ("outcome", "direction") if k in labels)
        values[key] = values.get(key, 0.0) + float(value)
    return values


def schedule(shape: list) -> np.ndarray:
    times, start = [], 0.0
    for duration, rate in shape:
        count = int(round(duration * rate))
        times.extend(start + i / rate for i in range(count))
        start += duration
    return np.asarray(times)


async def sample_metrics(url: str, t0: float, rows: list, stop: asyncio.Event) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        while not stop.is_set():
            begun = time.monotonic()
            try:
                async with session.get(url) as response:
                    text = await response.text()
                rows.append((time.monotonic() - t0, model_metrics(text)))
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(max(0.0, SAMPLE_S - (time.monotonic() - begun)))


async def drive(url: str, metrics_url: str, times: np.ndarray, connections: int, t0: float, samples: list):
    """Sends request i at t0 + times[i]; returns (sent, done, status) arrays."""
    n = len(times)
    sent, done = np.full(n, np.nan), np.full(n, np.nan)
    status = np.zeros(n, dtype=object)

    async def headers_sent(_session, context, _params):
        sent[context.trace_request_ctx["i"]] = time.monotonic() - t0

    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(headers_sent)
    connector = aiohttp.TCPConnector(limit=connections)
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_metrics(metrics_url, t0, samples, stop))
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60),
                                     trace_configs=[trace]) as session:

        async def one(i: int) -> None:
            value = float(i)
            body = json.dumps({"inputs": [{"name": "INPUT0", "shape": [1, 1], "datatype": "FP32", "data": [value]}]})
            try:
                async with session.post(url, data=body, headers={"Content-Type": "application/json"},
                                        trace_request_ctx={"i": i}) as response:
                    payload = await response.read()
                    code = response.status
                if code == 200:
                    outputs = {o["name"]: o for o in json.loads(payload)["outputs"]}
                    if outputs["OUTPUT0"]["data"] != [value] or outputs["OUTPUT0"]["shape"] != [1, 1]:
                        code = "wrong_answer"
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, KeyError) as e:
                code = type(e).__name__  # ValueError, KeyError: a 200 whose body is not an infer response
            done[i] = time.monotonic() - t0
            status[i] = code

        pending: set = set()  # only what is in flight: gathering every task at the end stalls the loop
        for i, at in enumerate(times):
            delay = t0 + at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(i))
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.gather(*pending)
    await asyncio.sleep(1.0)  # one more second of samples after the last answer
    stop.set()
    await sampler
    return sent, done, status


GC_PAUSES: list[tuple[float, float]] = []  # the client's gen-2 collections: (start, ms)


def time_gc(phase: str, info: dict) -> None:
    if info["generation"] == 2:
        if phase == "start":
            GC_PAUSES.append((time.monotonic(), 0.0))
        elif GC_PAUSES:
            GC_PAUSES[-1] = (GC_PAUSES[-1][0], (time.monotonic() - GC_PAUSES[-1][0]) * 1000)


def percentile(values: np.ndarray, q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if len(values) else None


def analyse(shape: list, times, sent, done, status, samples, events, out: Path) -> dict:
    ok = status == 200
    latency_ms = (done - times) * 1000.0
    starts = np.cumsum([0.0] + [d for d, _ in shape])
    spike = int(np.argmax([r for _, r in shape]))
    spike_start, spike_end = starts[spike], starts[spike + 1]

    grid = np.arange(SAMPLE_S, max(done.max(), samples[-1][0]) + 1e-9, SAMPLE_S)
    rows, k = [], -1
    for t in grid:
        while k + 1 < len(samples) and samples[k + 1][0] <= t:
            k += 1
        m = samples[k][1] if k >= 0 else {}
        window = (times > t - 1) & (times <= t)
        rows.append({
            "t_s": round(t, 2),
            "offered_rps": int(window.sum()),
            "sent_rps": int(((sent > t - 1) & (sent <= t)).sum()),
            "answered_rps": int((ok & (done > t - 1) & (done <= t)).sum()),
            "p99_ms": percentile(latency_ms[window], 99) if window.any() else "",
            "queue_depth": m.get("surge_queue_depth", ""),
            "backlog": m.get("surge_autoscaler_backlog", ""),
            "desired": m.get("surge_autoscaler_desired_replicas", ""),
            "live": m.get("surge_worker_pool_live_workers", ""),
            "warming": m.get("surge_autoscaler_warming_replicas", ""),
            "server_arrival_rps": m.get("surge_autoscaler_arrival_rate", ""),
            "needed_replicas": m.get("surge_autoscaler_needed_replicas", ""),
            "batch_service_ms": round(m["surge_autoscaler_batch_service_seconds"] * 1000, 2)
            if "surge_autoscaler_batch_service_seconds" in m else "",
            "server_p99_ms": round(m["surge_autoscaler_p99_latency_seconds"] * 1000, 1)
            if "surge_autoscaler_p99_latency_seconds" in m else "",
        })
    with open(out / "requests.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["scheduled_s", "sent_s", "done_s", "latency_ms", "status"])
        writer.writerows((f"{a:.4f}", f"{b:.4f}", f"{c:.4f}", f"{d:.2f}", e)
                         for a, b, c, d, e in zip(times, sent, done, latency_ms, status))
    with open(out / "samples.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    # Over-target stretches of the rolling p99, merged: [from_s, to_s, peak_ms].
    over = []
    for r in rows:
        if r["p99_ms"] != "" and r["p99_ms"] > TARGET_MS:
            if over and r["t_s"] - over[-1][1] <= SAMPLE_S + 1e-9:
                over[-1][1], over[-1][2] = r["t_s"], max(over[-1][2], r["p99_ms"])
            else:
                over.append([r["t_s"], r["t_s"], r["p99_ms"]])
    # Recovered: from the spike's start to the first STAY_S stretch under the
    # target after the p99 first went over it; 0 when it stayed under for the
    # spike's first STAY_S. Later excursions are in over_target_windows.
    after = [r for r in rows if r["t_s"] > spike_start and r["p99_ms"] != ""]

    def stays_under(i: int) -> bool:
        stay = [s for s in after[i:] if s["t_s"] <= after[i]["t_s"] + STAY_S]
        return stay[-1]["t_s"] >= after[i]["t_s"] + STAY_S and all(s["p99_ms"] <= TARGET_MS for s in stay)

    first_over = next((i for i, r in enumerate(after) if r["p99_ms"] > TARGET_MS), None)
    recovery = 0.0 if first_over is None or stays_under(0) else None
    for i in range(first_over + 1 if recovery is None else len(after), len(after)):
        if stays_under(i):
            recovery = round(after[i]["t_s"] - spike_start, 1)
            break
    ups = [e for e in events if e["to"] > e["from"]]
    downs = [e for e in events if e["to"] < e["from"]]
    first_up = next((e["t_s"] for e in ups if e["t_s"] >= spike_start), None)
    phases = {"before": times < spike_start, "during": (times >= spike_start) & (times < spike_end),
              "after": times >= spike_end}
    spike_window = (sent >= spike_start) & (sent < spike_end)
    failed: dict[str, int] = {}
    for code in status[~ok]:
        failed[str(code)] = failed.get(str(code), 0) + 1
    final = samples[-1][1]
    return {
        "sent": len(times),
        "answered_200": int(ok.sum()),
        "failed": failed,
        "p50_ms": percentile(latency_ms[ok], 50),
        "p99_ms": percentile(latency_ms[ok], 99),
        "p99_ms_by_phase": {name: percentile(latency_ms[ok & mask], 99) for name, mask in phases.items()},
        "max_ms": percentile(latency_ms[ok], 100),
        "spike": {"start_s": spike_start, "end_s": spike_end, "offered_rps": shape[spike][1],
                  "sent_rps": round(float(spike_window.sum()) / (spike_end - spike_start), 1)},
        "max_send_lag_ms": round(float(np.nanmax(sent - times)) * 1000, 1),
        "peak_live_workers": max((s[1].get("surge_worker_pool_live_workers", 0) for s in samples), default=0),
        "peak_desired_workers": max((s[1].get("surge_autoscaler_desired_replicas", 0) for s in samples), default=0),
        "scale_ups": len(ups),
        "scale_downs": len(downs),
        "scale_events_metric": {"up": final.get("surge_autoscaler_scale_events_total:up"),
                                "down": final.get("surge_autoscaler_scale_events_total:down")},
        "first_scale_up_after_spike_s": round(first_up - spike_start, 2) if first_up is not None else None,
        "slo_recovery_s": recovery,
        "over_target_windows": over,
        "peak_rolling_p99_ms_after_spike_start": max((r["p99_ms"] for r in after), default=None),
        "target_latency_ms": TARGET_MS,
    }


def scale_events(lines: list, t0: float, out: Path) -> list[dict]:
    events = []
    for at, line in lines:
        match = SCALE_LINE.match(line)
        if match and match.group(1) == MODEL:
            events.append({"t_s": round(at - t0, 2), "from": int(match.group(2)), "to": int(match.group(3)),
                           "reason": match.group(4), "detail": match.group(5)})
    with open(out / "scale_events.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["t_s", "from", "to", "reason", "detail"])
        writer.writeheader()
        writer.writerows(events)
    return events


def machine(surge_bin: str) -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "")
    run = lambda *c: subprocess.run(c, capture_output=True, text=True).stdout.strip()  # noqa: E731
    return {"cpu": cpu, "cpus": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version(),
            "aiohttp": aiohttp.__version__, "surge": run(surge_bin, "--version"),
            "redis": run("redis-server", "--version"), "load_average_at_start": os.getloadavg()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--surge-bin", default=str(ROOT / "build" / "release" / "surge"))
    parser.add_argument("--backend-directory", default=os.environ.get("SURGE_BACKEND_DIRECTORY",
                                                                      str(ROOT / "build" / "release" / "backends")))
    parser.add_argument("--shape", type=Path, default=Path(__file__).resolve().parent / "shape.json")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument("--connections", type=int, default=4096, help="most connections open at once")
    args = parser.parse_args()
    shape = json.loads(args.shape.read_text())
    times = schedule(shape)
    args.out.mkdir(parents=True, exist_ok=True)
    info = machine(args.surge_bin)

    with tempfile.TemporaryDirectory(prefix="surge-autoscale-") as tmp:
        model_dir = Path(tmp) / MODEL
        (model_dir / "1").mkdir(parents=True)
        (model_dir / "config.pbtxt").write_text(CONFIG)
        server = Server(args, Path(tmp), args.out)
        try:
            http_port, metrics_port = server.wait_ready()
            metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                text = urllib.request.urlopen(metrics_url, timeout=5).read().decode()
                if model_metrics(text).get("surge_worker_pool_live_workers", 0) >= 1:
                    break
                time.sleep(0.1)
            else:
                raise RuntimeError("no live worker after 30 s")
            print(f"ramp: {len(times)} requests over {sum(d for d, _ in shape)} s", file=sys.stderr)
            gc.callbacks.append(time_gc)
            t0 = time.monotonic() + 0.2
            samples: list = []
            sent, done, status = asyncio.run(drive(f"http://127.0.0.1:{http_port}/v2/models/{MODEL}/infer",
                                                   metrics_url, times, args.connections, t0, samples))
        finally:
            exit_status = server.stop()

    events = scale_events(server.lines, t0, args.out)
    summary = analyse(shape, times, sent, done, status, samples, events, args.out)
    summary["client_gc2_pauses"] = [[round(at - t0, 2), round(ms, 1)] for at, ms in GC_PAUSES]
    summary["load_average_at_end"] = os.getloadavg()
    summary.update({"server_exit_status": exit_status, "shape": shape, "machine": info,
                    "command": " ".join([sys.executable, *sys.argv]),
                    "server_command": " ".join(server.command), "config": CONFIG})
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    for key in ("sent", "answered_200", "failed", "p50_ms", "p99_ms", "p99_ms_by_phase", "spike", "max_send_lag_ms",
                "peak_live_workers", "scale_ups", "scale_downs", "first_scale_up_after_spike_s", "slo_recovery_s",
                "over_target_windows"):
        print(f"{key}: {summary[key]}")
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
