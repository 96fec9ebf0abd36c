"""Fraud scoring latency with windows over a Redis stream: surge's features
model (windows kept in the server) beside what Feast users build (a stream
consumer pushing window features to Feast's Redis online store, and a
FastAPI service reading them back and scoring with XGBoost), under the
same open-loop load. Run by bench/features/run.sh; see it for the knobs.

1. A redis-server of its own on a free loopback port. The demo stream
   (scripts/models/fraud_data.py, fixed seed, with a few late and too-late
   events) goes into its db 0: the user hashes, then half the transactions.
2. surge serve --redis on the demo repository (fraud, fraud_xgboost), which
   reads that half at load and follows the stream. The Feast repository
   (feast_repo.py, Redis online store in db 1, file offline store),
   `feast apply`, the consumer (feast_consumer.py) reading the stream from
   its start, and the Feast service (feast_server.py).
3. The other half of the transactions, while both follow; then waits until
   surge's surge_feature_events_total and the consumer's progress count
   every entry.
4. Checks, before any load: for a sample of users, surge's FEATURES
   (return_features) and the Feast service's vector (from
   get_online_features) equal the reference's (fraud_features.py fed the
   same entries) bit for bit, and the two scores agree within 1e-6; and the
   load's own one-row requests get the same scores from both. Exits 1,
   saying what differs, otherwise.
5. For context: a bare Redis round trip (PING from redis-py, one after
   another) and Feast's online read alone (feast_sdk_latency.py).
6. The sweep: for each side and rate, bench/text_classifier/open_loop.py's
   open-loop load of one-row requests (a user with events, an amount,
   event_time_ms the stream's latest time), and the CPU time the serving
   processes used per answered request (the Feast side: its service; the
   consumer is idle then, as surge's stream reader is).

Writes a JSON report (machine, versions, commands, stream, checks, every
level) and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import redis
import requests

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "bench" / "text_classifier"))
sys.path.insert(0, str(HERE))

from features_e2e import Feed, assert_same_vectors, event_counts, infer_http, request_amounts, taken  # noqa: E402
from fraud_spec import FRAUD, MODEL, PROGRESS_KEY, fraud_data  # noqa: E402
from open_loop import open_loop  # noqa: E402
from redis_e2e import RedisServer  # noqa: E402
from surge_e2e import launch_surge, surge_binary, wait_until  # noqa: E402

ONLINE_DB = 1  # Feast's online store; the stream and user hashes are in db 0
LATE_EVENTS = 20  # moved behind newer ones, within the allowed lateness: applied by both sides
TOO_LATE_EVENTS = 20  # moved further: dropped by both
SCORE_TOLERANCE = 1e-6
AMOUNT_SEED = 7
LOAD_SEED = 3
LOAD_BODIES = 20000  # distinct requests the load cycles through
CHECK_BATCH = 64  # rows per check request (the fraud model's max_batch_size)
ONE_ROW_CHECKS = 50
PING_WARMUP = 200
PING_CALLS = 5000
SURGE_READY_TIMEOUT_S = 180.0  # the whole demo repository loads
FEAST_READY_TIMEOUT_S = 120.0
CATCH_UP_TIMEOUT_S = 600.0
TICKS = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"features_bench: {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process, its threads and its child processes
    (uvicorn's workers), living ones: the load never ends a worker."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICKS
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


class Process:
    """A child process with its output in a log file; stopped by SIGTERM, then SIGKILL."""

    def __init__(self, name: str, command: list[str], log_dir: Path, cwd: Path = ROOT):
        self.name = name
        self.command = command
        self.log_path = log_dir / f"{name}.log"
        with open(self.log_path, "wb") as out:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                            cwd=cwd)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class CheckFailed(Exception):
    pass


# ---------------------------------------------------------------------------
# Requests


def request_body(users: list[str], amounts: list[float], event_time_ms: int, return_features: bool) -> bytes:
    parameters: dict = {"event_time_ms": int(event_time_ms)}
    if return_features:
        parameters["return_features"] = True
    n = len(users)
    return json.dumps({
        "parameters": parameters,
        "inputs": [
            {"name": FRAUD.entity_input, "datatype": "BYTES", "shape": [n, 1], "data": list(users)},
            {"name": "amount", "datatype": "FP32", "shape": [n, 1], "data": [float(a) for a in amounts]},
        ],
    }).encode()


def post_json(session: requests.Session, url: str, body: bytes) -> dict:
    response = session.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=30)
    if response.status_code != 200:
        raise CheckFailed(f"POST {url}: {response.status_code} {response.text[:500]}")
    return {o["name"]: o for o in response.json()["outputs"]}


def as_float32(data: list, shape: list[int]) -> np.ndarray:
    return np.asarray([np.nan if v is None else v for v in data], dtype=np.float32).reshape(shape)


def score_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64).reshape(-1) - np.asarray(b, np.float64).reshape(-1))))


# ---------------------------------------------------------------------------
# The steps


def wait_caught_up(surge, online: redis.Redis, feed: Feed) -> dict:
    began = time.monotonic()
    def surge_done():
        counts = event_counts(surge)
        return counts if taken(counts) >= feed.entries else None

    counts = wait_until(surge_done, f"surge to take all {feed.entries} stream entries", CATCH_UP_TIMEOUT_S)
    surge_s = time.monotonic() - began
    if counts != feed.expected_counts():
        raise CheckFailed(f"surge's event counts {counts} differ from the reference's {feed.expected_counts()}")

    def consumer_done():
        progress = online.hgetall(PROGRESS_KEY)
        return progress if int(progress.get(b"entries", 0)) >= feed.entries else None

    progress = wait_until(consumer_done, f"the Feast consumer to take all {feed.entries} entries", CATCH_UP_TIMEOUT_S)
    return {
        "surge_event_counts": counts,
        "surge_caught_up_s": round(surge_s, 2),
        "feast_consumer": {k.decode(): v.decode() for k, v in progress.items()},
        "both_caught_up_s": round(time.monotonic() - began, 2),
    }


def check(surge, feast_url: str, feed: Feed, users: list[str], load_bodies: list[bytes]) -> dict:
    """Equal vectors (to each other and the reference) and scores; raises CheckFailed."""
    latest = feed.reference.latest_time_ms
    amounts = request_amounts(users, AMOUNT_SEED)
    expected = feed.expected(users, amounts, latest)
    surge_scores, surge_vectors, feast_scores, feast_vectors = [], [], [], []
    session = requests.Session()
    with surge.client() as client:
        for start in range(0, len(users), CHECK_BATCH):
            chunk, chunk_amounts = users[start:start + CHECK_BATCH], amounts[start:start + CHECK_BATCH]
            scores, vectors = infer_http(client, chunk, chunk_amounts, latest)
            surge_scores.append(scores.reshape(-1))
            surge_vectors.append(vectors)
            outputs = post_json(session, feast_url, request_body(chunk, chunk_amounts, latest, True))
            feast_scores.append(as_float32(outputs["probabilities"]["data"], [-1]))
            feast_vectors.append(as_float32(outputs["FEATURES"]["data"], outputs["FEATURES"]["shape"]))
    surge_scores, feast_scores = np.concatenate(surge_scores), np.concatenate(feast_scores)
    surge_vectors, feast_vectors = np.concatenate(surge_vectors), np.concatenate(feast_vectors)
    try:
        assert_same_vectors(surge_vectors, expected, users, "surge's FEATURES against the reference")
        assert_same_vectors(feast_vectors, expected, users, "the Feast service's vectors against the reference")
        assert_same_vectors(feast_vectors, surge_vectors, users, "the Feast service's vectors against surge's")
    except AssertionError as e:
        raise CheckFailed(str(e)) from None
    largest = score_difference(surge_scores, feast_scores)
    if not largest <= SCORE_TOLERANCE:
        worst = int(np.argmax(np.abs(surge_scores.astype(np.float64) - feast_scores)))
        raise CheckFailed(f"scores differ by up to {largest:.3g} (> {SCORE_TOLERANCE}): {users[worst]} "
                          f"surge {surge_scores[worst]!r}, Feast {feast_scores[worst]!r}")

    # The load's own requests, one row each.
    surge_url = surge.url(f"/v2/models/{MODEL}/infer")
    one_row = []
    for body in load_bodies[:ONE_ROW_CHECKS]:
        a = post_json(session, surge_url, body)["probabilities"]
        b = post_json(session, feast_url, body)["probabilities"]
        one_row.append(score_difference(as_float32(a["data"], [-1]), as_float32(b["data"], [-1])))
    if not max(one_row) <= SCORE_TOLERANCE:
        raise CheckFailed(f"one-row load requests: scores differ by up to {max(one_row):.3g}")
    nan_share = float(np.isnan(expected).any(axis=1).mean())
    return {
        "users": len(users),
        "vectors_equal": True,
        "max_score_difference": largest,
        "one_row_requests": len(one_row),
        "one_row_max_score_difference": max(one_row),
        "rows_with_a_nan": round(nan_share, 3),
        "mean_count_1m": round(float(expected[:, FRAUD.vector.index("count_1m")].mean()), 3),
        "mean_merchants_5m": round(float(expected[:, FRAUD.vector.index("merchants_5m")].mean()), 3),
    }


def redis_ping(client: redis.Redis) -> dict:
    for _ in range(PING_WARMUP):
        client.ping()
    times = []
    for _ in range(PING_CALLS):
        began = time.perf_counter()
        client.ping()
        times.append(time.perf_counter() - began)
    ms = np.asarray(times) * 1000.0
    return {"calls": PING_CALLS, "p50_ms": round(float(np.quantile(ms, 0.5)), 3),
            "p99_ms": round(float(np.quantile(ms, 0.99)), 3)}


def load_bodies(users: list[str], latest: int) -> list[bytes]:
    rng = random.Random(LOAD_SEED)
    picked = [rng.choice(users) for _ in range(LOAD_BODIES)]
    amounts = request_amounts(picked, LOAD_SEED)
    return [request_body([u], [a], latest, False) for u, a in zip(picked, amounts)]


def sweep(name: str, url: str, pid: int, bodies: list[bytes], args) -> list[dict]:
    levels = []
    for rate in args.rates:
        cpu_before = cpu_seconds(pid)
        result = asyncio.run(open_loop(url, bodies, rate, args.duration, args.warmup, args.connections))
        cpu = cpu_seconds(pid) - cpu_before
        # Over the whole level, warm-up included: per request sent.
        sent = int(rate * (args.duration + args.warmup))
        result["server_cpu_ms_per_request"] = round(cpu * 1000.0 / sent, 3) if sent else None
        result["server_cpu_cores"] = round(cpu / (args.duration + args.warmup), 2)
        levels.append(result)
        log(f"{name} rate {rate:g}: {json.dumps(result)}")
    return levels


def best_rate(levels: list[dict], bound_ms: float) -> float | None:
    ok = [level for level in levels if not level["errors"] and level["p99_ms"] is not None
          and level["p99_ms"] < bound_ms and level["achieved_rate"] >= 0.98 * level["offered_rate"]]
    return max((level["offered_rate"] for level in ok), default=None)


# ---------------------------------------------------------------------------
# The report


def machine() -> dict:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {"cpu": cpu, "cpus": os.cpu_count(), "kernel": platform.release(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def versions(feast_python: str) -> dict:
    import importlib.metadata as metadata

    surge = subprocess.run([str(surge_binary()), "--version"], capture_output=True, text=True).stdout.strip()
    redis_server = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()
    feast_side = subprocess.run(
        [feast_python, "-c", "import importlib.metadata as m, json, platform; print(json.dumps("
         "{'python': platform.python_version(), **{n: m.version(n) for n in "
         "('feast', 'xgboost', 'redis', 'hiredis', 'fastapi', 'uvicorn', 'uvloop', 'httptools', 'numpy', "
         "'pandas', 'pyarrow', 'protobuf')}}))"],
        capture_output=True, text=True, check=True).stdout
    return {
        "surge": surge,
        "redis_server": next((w.split("=", 1)[1] for w in redis_server if w.startswith("v=")), ""),
        "load_generator": {"python": platform.python_version(), "aiohttp": metadata.version("aiohttp"),
                           "redis": metadata.version("redis"), "numpy": metadata.version("numpy")},
        "feast_side": json.loads(feast_side),
    }


def print_table(report: dict, bound_ms: float) -> None:
    ping = report["context"]["redis_ping"]
    sdk = report["context"]["feast_online_read"]
    print(f"fraud scoring, one row per request, open loop; {report['stream']['events']} events of "
          f"{report['stream']['users']} users")
    print(f"bare Redis PING (redis-py, sequential): p50 {ping['p50_ms']} ms  p99 {ping['p99_ms']} ms")
    for name, entry in sdk.items():
        print(f"Feast {name} alone (one user, sequential): p50 {entry['p50_ms']} ms  p99 {entry['p99_ms']} ms")
    print(f"{'side':<6} {'offered':>8} {'achieved':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} "
          f"{'cpu ms/req':>10}  errors")
    for side, entry in report["sides"].items():
        for level in entry["levels"]:
            print(f"{side:<6} {level['offered_rate']:>8g} {level['achieved_rate']:>9g} {level['p50_ms']!s:>8} "
                  f"{level['p90_ms']!s:>8} {level['p99_ms']!s:>8} {level['max_ms']!s:>8} "
                  f"{level['server_cpu_ms_per_request']!s:>10}  {level['errors'] or '-'}")
    for side, entry in report["sides"].items():
        print(f"{side}: max rate with p99 < {bound_ms:g} ms: {entry['max_rate_p99_under_bound']} req/s")


# ---------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-repository", type=Path, default=ROOT / "model_repository")
    parser.add_argument("--feast-python", default=str(ROOT / ".bench-venvs" / "feast" / "bin" / "python"))
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--span-minutes", type=float, default=20.0)
    parser.add_argument("--median-gap-s", type=float, default=60.0, help="median over users of the mean gap")
    parser.add_argument("--rates", type=lambda s: [float(r) for r in s.split()], default=[100, 200, 400, 800])
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds per level")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured seconds before each level")
    parser.add_argument("--connections", type=int, default=256)
    parser.add_argument("--check-users", type=int, default=500)
    parser.add_argument("--p99-bound-ms", type=float, default=20.0)
    parser.add_argument("--sides", default="surge feast")
    parser.add_argument("--feast-workers", type=int, default=1, help="uvicorn worker processes of the Feast service")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "features.json")
    parser.add_argument("--command", default="", help="the command line to record in the report")
    args = parser.parse_args()
    sides = args.sides.split()
    feast_python = args.feast_python
    feast_cli = str(Path(feast_python).parent / "feast")
    repository = args.model_repository.resolve()
    for path, fix in ((Path(feast_python), "scripts/install-bench-deps feast"),
                      (repository / "fraud_xgboost" / "1" / "model.json",
                       "/usr/bin/python3 scripts/make_models.py --only fraud_xgboost fraud"),
                      (repository / MODEL / "config.pbtxt",
                       "/usr/bin/python3 scripts/make_models.py --only fraud_xgboost fraud"),
                      (surge_binary(), "cmake --preset release && cmake --build --preset release")):
        if not path.exists():
            raise SystemExit(f"features_bench: {path} is missing: {fix}")

    work = Path(tempfile.mkdtemp(prefix="surge-features-bench-"))
    logs = work / "logs"
    logs.mkdir()
    processes: list[Process] = []
    redis_server = surge = None
    finished = False
    report: dict = {"benchmark": "fraud scoring with 5-minute windows over a Redis stream: surge vs Feast",
                    "machine": machine()}
    try:
        report["versions"] = versions(feast_python)
        redis_server = RedisServer(work / "redis")
        online = redis.Redis(port=redis_server.port, db=ONLINE_DB)
        stream = fraud_data.transactions(args.users, args.seed, span_ms=int(args.span_minutes * 60000),
                                         median_gap_ms=args.median_gap_s * 1000.0, late=LATE_EVENTS,
                                         too_late=TOO_LATE_EVENTS, allowed_lateness_ms=FRAUD.allowed_lateness_ms)
        feed = Feed(redis_server.client())
        feed.set_attributes(stream.attributes)
        half = len(stream.events) // 2
        feed.add(stream.events[:half])
        log(f"redis-server on port {redis_server.port}; {len(stream.events)} events of {args.users} users, "
            f"{half} in the stream before the servers start")

        surge = launch_surge(repository, logs / "surge", ["--redis", redis_server.url])
        feast_repo = work / "feast_repo"
        address = f"127.0.0.1:{redis_server.port}"
        commands = {
            "surge": surge.command,
            "feast_repo": [feast_python, str(HERE / "feast_repo.py"), "--directory", str(feast_repo),
                           "--redis", address, "--db", str(ONLINE_DB)],
            "feast_apply": [feast_cli, "-c", str(feast_repo), "apply"],
        }
        subprocess.run(commands["feast_repo"], check=True, cwd=ROOT)
        applied = subprocess.run(commands["feast_apply"], cwd=feast_repo, capture_output=True, text=True)
        if applied.returncode != 0:
            raise SystemExit(f"features_bench: feast apply failed:\n{applied.stdout}{applied.stderr}")
        commands["feast_consumer"] = [feast_python, str(HERE / "feast_consumer.py"), "--repository", str(feast_repo),
                                      "--redis", address]
        consumer = Process("feast_consumer", commands["feast_consumer"], logs)
        processes.append(consumer)
        feast_port = free_port()
        commands["feast_server"] = [feast_python, str(HERE / "feast_server.py"), "--port", str(feast_port),
                                    "--feature-repository", str(feast_repo), "--repository", str(repository),
                                    "--workers", str(args.feast_workers)]
        feast_server = Process("feast_server", commands["feast_server"], logs)
        processes.append(feast_server)

        surge.wait_ready(SURGE_READY_TIMEOUT_S)
        with surge.client() as client:
            if not client.is_model_ready(MODEL):
                raise SystemExit(f"features_bench: {MODEL} is not ready in surge\n{surge.describe(40)}")

        def feast_ready():
            if not feast_server.alive():
                raise SystemExit(f"features_bench: the Feast service exited:\n{feast_server.tail()}")
            try:
                return requests.get(f"http://127.0.0.1:{feast_port}/v2/health/ready", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        wait_until(feast_ready, "the Feast service to answer", FEAST_READY_TIMEOUT_S)

        feed.add(stream.events[half:])
        log(f"all {feed.entries} entries in the stream; waiting for both sides to take them")
        catch_up = wait_caught_up(surge, online, feed)
        if not consumer.alive():
            raise SystemExit(f"features_bench: the Feast consumer exited:\n{consumer.tail()}")
        latest = feed.reference.latest_time_ms
        with_events = sorted(feed.reference.entity_ids(), key=lambda u: int(u[1:]))
        report["stream"] = {
            "generator": "scripts/models/fraud_data.py transactions()",
            "users": args.users, "seed": args.seed, "span_minutes": args.span_minutes,
            "median_gap_s": args.median_gap_s, "events": len(stream.events),
            "late_events": LATE_EVENTS, "too_late_events": TOO_LATE_EVENTS,
            "users_with_events": len(with_events), "latest_time_ms": latest, **catch_up,
        }
        log(f"caught up: {json.dumps(catch_up)}")

        feast_url = f"http://127.0.0.1:{feast_port}/v2/models/{MODEL}/infer"
        bodies = load_bodies(with_events, latest)
        sample = random.Random(args.seed).sample(with_events, min(args.check_users, len(with_events)))
        try:
            report["check"] = check(surge, feast_url, feed, sample, bodies)
        except CheckFailed as e:
            print(f"features_bench: CHECK FAILED, nothing measured:\n{e}", file=sys.stderr)
            return 1  # the logs are kept
        log(f"check passed: {json.dumps(report['check'])}")

        sdk = subprocess.run([feast_python, str(HERE / "feast_sdk_latency.py"), "--feature-repository",
                              str(feast_repo), "--users", ",".join(sample[:200])],
                             capture_output=True, text=True, check=True, cwd=ROOT)
        report["context"] = {"redis_ping": redis_ping(redis_server.client()),
                             "feast_online_read": json.loads(sdk.stdout.strip().splitlines()[-1])}
        log(f"context: {json.dumps(report['context'])}")

        report["load"] = {"rates": args.rates, "duration_s": args.duration, "warmup_s": args.warmup,
                          "connections": args.connections, "p99_bound_ms": args.p99_bound_ms,
                          "request": "one row: user_id (a user with events) and amount, "
                                     "parameters.event_time_ms the stream's latest time",
                          "generator": "bench/text_classifier/open_loop.py open_loop()"}
        report["sides"] = {}
        targets = {"surge": (surge.url(f"/v2/models/{MODEL}/infer"), surge.process.pid),
                   "feast": (feast_url, feast_server.pid)}
        for side in sides:
            url, pid = targets[side]
            levels = sweep(side, url, pid, bodies, args)
            report["sides"][side] = {"levels": levels,
                                     "max_rate_p99_under_bound": best_rate(levels, args.p99_bound_ms)}
        report["commands"] = {"run": args.command, **{k: " ".join(map(str, v)) for k, v in commands.items()}}
        finished = True
    finally:
        for process in reversed(processes):
            process.stop()
        if surge is not None:
            surge.stop()
        if redis_server is not None:
            redis_server.stop()
        if finished:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"logs kept in {logs}")

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=1) + "\n")
    print_table(report, args.p99_bound_ms)
    print(f"machine: {report['machine']}")
    print(f"versions: {json.dumps(report['versions'])}")
    print(f"command: {args.command}")
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
