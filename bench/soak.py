"""Soak: one `surge serve` under mixed traffic for a long time, its RSS and
open descriptors sampled, every answer checked.

Traffic, each from its own client thread at a steady pace (a closed loop with
a pause, so two cores carry client and server without saturating):
  - KServe HTTP infer (tritonclient.http) on the torch MLP, JSON and binary;
  - KServe gRPC infer (tritonclient.grpc) on the MLP;
  - gRPC ModelStreamInfer (one long stream) on identity;
  - OpenAI streaming completions (`openai`) on echo_lm, whose text is known;
  - the Redis Streams gateway: HTTP infer on a worker_pool model served by
    `surge worker` processes the server starts (local_workers);
  - a bounded model offered more than it takes, so refusals (429) happen and
    are counted apart from errors.

Every answer is compared with what it must be (the MLP against its first
answer for the same input, identity and echo_lm exactly). The summary gives
RSS growth after warm-up (median of the last three samples against the
median of the three after warm-up), the descriptor count, and errors by kind.

  .venv/bin/python bench/soak.py --duration 1800 --warmup 300     # make soak
  .venv/bin/python bench/soak.py --duration 120 --warmup 30        # a quick look

Writes bench/results/soak.json, soak_samples.csv and soak_section.md.
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import openai
import requests
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from redis_e2e import RedisServer, pool_identity_config, wait_live_workers  # noqa: E402
from surge_e2e import echo_lm_config, echo_text, identity_config, launch_surge, write_model  # noqa: E402

DEMO = ROOT / "model_repository"


class Tally:
    """Answers by loop: ok, refused (asked-for 429/UNAVAILABLE), errors by message."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ok: collections.Counter[str] = collections.Counter()
        self.refused: collections.Counter[str] = collections.Counter()
        self.errors: collections.Counter[tuple[str, str]] = collections.Counter()

    def count(self, loop: str, outcome: str, detail: str = "") -> None:
        with self.lock:
            if outcome == "ok":
                self.ok[loop] += 1
            elif outcome == "refused":
                self.refused[loop] += 1
            else:
                self.errors[(loop, detail[:200])] += 1

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "ok": dict(self.ok),
                "refused": dict(self.refused),
                "errors": [{"loop": k[0], "error": k[1], "count": v} for k, v in self.errors.items()],
            }


def repository(directory: Path, demo: Path) -> Path:
    repo = directory / "models"
    repo.mkdir(parents=True)
    for name in ("mlp",):
        if not (demo / name / "config.pbtxt").exists():
            raise SystemExit(f"soak: {demo / name} is missing: run `make models` first")
        (repo / name).symlink_to(demo / name)
    write_model(repo, "identity", identity_config("identity", max_batch_size=8))
    write_model(repo, "echo", echo_lm_config("echo", max_running_sequences=8, default_max_tokens=16))
    # The documented heartbeat (1 s, three missed: not live), not the e2e tests' 100 ms.
    write_model(repo, "pool", pool_identity_config("pool", local_workers=2, max_batch_size=8,
                                                   heartbeat_ms=1000, claim_idle_ms=5000))
    # Offered more than it serves: one instance, 2 ms per request, a queue wait bound
    # shorter than what four waiting clients predict.
    write_model(repo, "bounded", "\n".join([
        'name: "bounded"', 'backend: "identity"', "max_batch_size: 0",
        'input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]',
        'output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]',
        "instance_group [ { count: 1 kind: KIND_CPU } ]",
        'parameters { key: "execute_delay_us" value { string_value: "2000" } }',
        "admission { max_queue_wait_microseconds: 3000 }", ""]))
    return repo


def paced(stop: threading.Event, pause_s: float, body) -> None:
    while not stop.is_set():
        body()
        if pause_s:
            stop.wait(pause_s)


def http_loop(server, tally: Tally, stop: threading.Event, pause_s: float) -> None:
    client = httpclient.InferenceServerClient(server.http_address, network_timeout=30, connection_timeout=30)
    rows = np.random.default_rng(1).standard_normal((4, 64)).astype(np.float32)
    expected: list[np.ndarray | None] = [None]
    step = [0]

    def once() -> None:
        binary = step[0] % 2 == 0
        step[0] += 1
        tensor = httpclient.InferInput("input", list(rows.shape), "FP32")
        tensor.set_data_from_numpy(rows, binary_data=binary)
        try:
            out = client.infer("mlp", [tensor], outputs=[httpclient.InferRequestedOutput("output", binary_data=binary)])
            got = out.as_numpy("output")
            if expected[0] is None:
                expected[0] = got
            if np.allclose(got, expected[0], atol=1e-5):
                tally.count("http_infer", "ok")
            else:
                tally.count("http_infer", "error", "wrong output")
        except Exception as error:  # noqa: BLE001 - every failure is counted, by message
            tally.count("http_infer", "error", str(error))

    paced(stop, pause_s, once)


def grpc_loop(server, tally: Tally, stop: threading.Event, pause_s: float) -> None:
    client = grpcclient.InferenceServerClient(server.grpc_url)
    rows = np.random.default_rng(2).standard_normal((2, 64)).astype(np.float32)
    expected: list[np.ndarray | None] = [None]

    def once() -> None:
        tensor = grpcclient.InferInput("input", list(rows.shape), "FP32")
        tensor.set_data_from_numpy(rows)
        try:
            got = client.infer("mlp", [tensor], client_timeout=30).as_numpy("output")
            if expected[0] is None:
                expected[0] = got
            tally.count("grpc_infer", "ok" if np.allclose(got, expected[0], atol=1e-5) else "error", "wrong output")
        except Exception as error:  # noqa: BLE001
            tally.count("grpc_infer", "error", str(error))

    paced(stop, pause_s, once)


def grpc_stream_loop(server, tally: Tally, stop: threading.Event, pause_s: float) -> None:
    client = grpcclient.InferenceServerClient(server.grpc_url)
    answers: "collections.deque[tuple]" = collections.deque()
    arrived = threading.Condition()

    def on_answer(result, error) -> None:
        with arrived:
            answers.append((result, error))
            arrived.notify()

    client.start_stream(callback=on_answer)
    k = 0
    try:
        while not stop.is_set():
            values = np.full((1, 8), float(k % 1000), dtype=np.float32)
            tensor = grpcclient.InferInput("INPUT0", [1, 8], "FP32")
            tensor.set_data_from_numpy(values)
            client.async_stream_infer("identity", [tensor], request_id=str(k))
            with arrived:
                if not arrived.wait_for(lambda: answers, timeout=30):
                    tally.count("grpc_stream", "error", "no answer within 30 s")
                    break
                result, error = answers.popleft()
            if error is not None:
                tally.count("grpc_stream", "error", str(error))
            elif np.array_equal(result.as_numpy("OUTPUT0"), values):
                tally.count("grpc_stream", "ok")
            else:
                tally.count("grpc_stream", "error", "wrong output")
            k += 1
            stop.wait(pause_s)
    finally:
        client.stop_stream()


def openai_loop(server, tally: Tally, stop: threading.Event, pause_s: float) -> None:
    client = openai.OpenAI(base_url=server.url("/v1"), api_key="unused", max_retries=0,
                           http_client=httpx.Client(timeout=30))
    prompt, tokens = "abcdefg", 16

    def once() -> None:
        try:
            text = "".join(chunk.choices[0].text for chunk in client.completions.create(
                model="echo", prompt=prompt, max_tokens=tokens, temperature=0, stream=True) if chunk.choices)
            ok = text == echo_text(prompt, tokens)
            tally.count("openai_stream", "ok" if ok else "error", f"text {text!r}")
        except Exception as error:  # noqa: BLE001
            tally.count("openai_stream", "error", str(error))

    paced(stop, pause_s, once)


def identity_http(server, model: str, loop: str, tally: Tally, stop: threading.Event, pause_s: float,
                  refusals_expected: bool) -> None:
    session = requests.Session()
    k = [0]

    def once() -> None:
        values = [float(k[0] % 977), 1.5, -2.0]
        k[0] += 1
        body = {"inputs": [{"name": "INPUT0", "shape": [1, 3] if model != "bounded" else [3],
                            "datatype": "FP32", "data": values}]}
        try:
            response = session.post(server.url(f"/v2/models/{model}/infer"), json=body, timeout=30)
            if response.status_code == 200:
                got = response.json()["outputs"][0]["data"]
                tally.count(loop, "ok" if got == values else "error", f"output {got}")
            elif response.status_code == 429 and refusals_expected and response.headers.get("Retry-After"):
                tally.count(loop, "refused")
            else:
                tally.count(loop, "error", f"HTTP {response.status_code} {response.text[:120]}")
        except Exception as error:  # noqa: BLE001
            tally.count(loop, "error", str(error))

    paced(stop, pause_s, once)


def process_sample(pid: int) -> tuple[int, int]:
    rss_kb = 0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
    return rss_kb, len(os.listdir(f"/proc/{pid}/fd"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=1800, help="seconds of traffic")
    parser.add_argument("--warmup", type=float, default=300, help="seconds before the RSS baseline")
    parser.add_argument("--sample-every", type=float, default=10, help="seconds between RSS/fd samples")
    parser.add_argument("--pause", type=float, default=0.002, help="seconds each loop waits between requests")
    parser.add_argument("--demo-repository", type=Path, default=DEMO, help="where `make models` wrote mlp")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    args.results.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="surge-soak-") as tmp:
        tmpdir = Path(tmp)
        redis_server = RedisServer(tmpdir / "redis")
        repo = repository(tmpdir, args.demo_repository.resolve())
        server = launch_surge(repo, tmpdir / "logs", ["--redis", redis_server.url])
        tally = Tally()
        stop = threading.Event()
        samples: list[dict] = []
        try:
            server.wait_ready()
            wait_live_workers(server, "pool", 2, timeout_s=60)
            loops = [
                threading.Thread(target=http_loop, args=(server, tally, stop, args.pause)),
                threading.Thread(target=grpc_loop, args=(server, tally, stop, args.pause)),
                threading.Thread(target=grpc_stream_loop, args=(server, tally, stop, args.pause)),
                threading.Thread(target=openai_loop, args=(server, tally, stop, args.pause)),
                threading.Thread(target=identity_http, args=(server, "pool", "gateway", tally, stop, args.pause, False)),
            ] + [threading.Thread(target=identity_http, args=(server, "bounded", "refused_model", tally, stop, 0, True))
                 for _ in range(4)]
            for loop in loops:
                loop.start()
            began = time.monotonic()
            while time.monotonic() - began < args.duration:
                if server.process.poll() is not None:
                    raise RuntimeError(f"surge exited during the soak\n{server.describe()}")
                rss_kb, fds = process_sample(server.process.pid)
                counts = tally.snapshot()
                samples.append({"t_s": round(time.monotonic() - began, 1), "rss_kb": rss_kb, "fds": fds,
                                "ok": sum(counts["ok"].values()), "refused": sum(counts["refused"].values()),
                                "errors": sum(e["count"] for e in counts["errors"])})
                print(f"soak: t={samples[-1]['t_s']:.0f}s rss={rss_kb / 1024:.1f} MiB fds={fds} "
                      f"ok={samples[-1]['ok']} refused={samples[-1]['refused']} errors={samples[-1]['errors']}",
                      flush=True)
                time.sleep(args.sample_every)
            stop.set()
            for loop in loops:
                loop.join(timeout=60)
        finally:
            stop.set()
            server.stop()
            redis_server.stop()

    after_warmup = [s for s in samples if s["t_s"] >= args.warmup]
    if len(after_warmup) < 6:
        raise SystemExit("soak: too few samples after warm-up; make --duration longer than --warmup + 6 samples")
    base = statistics.median(s["rss_kb"] for s in after_warmup[:3])
    end = statistics.median(s["rss_kb"] for s in after_warmup[-3:])
    counts = tally.snapshot()
    summary = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "rss_after_warmup_mib": round(base / 1024, 1),
        "rss_end_mib": round(end / 1024, 1),
        "rss_growth_pct": round(100 * (end - base) / base, 2),
        "fds_after_warmup": after_warmup[0]["fds"],
        "fds_end": samples[-1]["fds"],
        "fds_max": max(s["fds"] for s in samples),
        **counts,
    }
    (args.results / "soak.json").write_text(json.dumps(summary, indent=2) + "\n")
    with open(args.results / "soak_samples.csv", "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(samples[0]))
        writer.writeheader()
        writer.writerows(samples)
    errors = sum(e["count"] for e in counts["errors"])
    lines = [
        f"Soak, {args.duration / 60:.0f} min ({args.warmup / 60:.0f} min warm-up), `.venv/bin/python bench/soak.py "
        f"--duration {args.duration:g} --warmup {args.warmup:g}`:",
        "",
        "| loop | answered OK | refused (asked for) |",
        "|---|---:|---:|",
        *[f"| {loop} | {counts['ok'].get(loop, 0):,} | {counts['refused'].get(loop, 0):,} |"
          for loop in sorted(set(counts["ok"]) | set(counts["refused"]))],
        "",
        f"RSS {summary['rss_after_warmup_mib']} MiB after warm-up, {summary['rss_end_mib']} MiB at the end "
        f"({summary['rss_growth_pct']:+.2f} %); descriptors {summary['fds_after_warmup']} -> {summary['fds_end']} "
        f"(max {summary['fds_max']}); errors: {errors}.",
    ]
    (args.results / "soak_section.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    for error in counts["errors"]:
        print(f"soak: error in {error['loop']} x{error['count']}: {error['error']}")
    return 0 if errors == 0 and summary["rss_growth_pct"] <= 2.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
