"""What the end-to-end tests share: starting surge, writing model repositories,
sending requests and reading the server's metrics and statistics.

Every wait here polls a condition against a deadline; nothing sleeps for a
fixed time hoping the server got there.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

import numpy as np
import requests
import tritonclient.http as httpclient

REPO_ROOT = Path(__file__).resolve().parents[2]

# Built into model_repository/ by scripts/make_models.py.
DEMO_MODELS = ("iris", "digits", "mlp", "mlp_nobatch", "resnet18", "identity_fp32")

READY_TIMEOUT_S = 60.0  # start-up until "surge: ready"
STOP_TIMEOUT_S = 20.0  # SIGTERM until exit
CONDITION_TIMEOUT_S = 10.0  # any other condition a test waits for
HTTP_TIMEOUT_S = 30.0  # one HTTP exchange

_HTTP_LINE = re.compile(r"^surge: http listening on (\S+):(\d+)\s*$", re.MULTILINE)
_METRICS_LINE = re.compile(r"^surge: metrics listening on (\S+):(\d+)\s*$", re.MULTILINE)
_GRPC_LINE = re.compile(r"^surge: grpc listening on (\S+):(\d+)\s*$", re.MULTILINE)
_READY_LINE = re.compile(r"^surge: ready\s*$", re.MULTILINE)

T = TypeVar("T")


def wait_until(condition: Callable[[], T], what: str, timeout_s: float = CONDITION_TIMEOUT_S) -> T:
    """Polls `condition` until it returns something truthy and returns that.

    Fails with `what` and the last value seen once `timeout_s` has passed.
    """
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while True:
        last = condition()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what} (last: {last!r})")
        time.sleep(0.005)


# ---------------------------------------------------------------------------
# The server process


def surge_binary() -> Path:
    path = Path(os.environ.get("SURGE_BIN", "build/release/surge"))
    return path if path.is_absolute() else REPO_ROOT / path


def backend_directory_args() -> list[str]:
    """--backend-directory for a build tree: SURGE_BACKEND_DIRECTORY, else the
    backends/ folder CMake writes next to the binary, else the server's default."""
    explicit = os.environ.get("SURGE_BACKEND_DIRECTORY")
    if explicit:
        return ["--backend-directory", explicit]
    beside = surge_binary().parent / "backends"
    if beside.is_dir():
        return ["--backend-directory", str(beside)]
    return []


class SurgeServer:
    """One running `surge serve`, its ports and its logs."""

    def __init__(self, process: subprocess.Popen, log_dir: Path, repository: Path, command: list[str]):
        self.process = process
        self.log_dir = log_dir
        self.repository = repository
        self.command = command
        self.host = "127.0.0.1"
        self.http_port: int | None = None
        self.metrics_port: int | None = None
        self.grpc_port: int | None = None

    # -- logs ---------------------------------------------------------------

    @property
    def stdout_path(self) -> Path:
        return self.log_dir / "stdout.log"

    @property
    def stderr_path(self) -> Path:
        return self.log_dir / "stderr.log"

    def stdout_text(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr_text(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def logs(self) -> str:
        return self.stdout_text() + self.stderr_text()

    def describe(self, tail_lines: int = 200) -> str:
        """The command and the ends of both logs, for failure reports."""

        def tail(text: str) -> str:
            lines = text.splitlines()
            cut = lines[-tail_lines:]
            prefix = [f"... ({len(lines) - len(cut)} earlier lines in the log file)"] if len(lines) > len(cut) else []
            return "\n".join(prefix + cut)

        return (
            f"command: {' '.join(self.command)}\n"
            f"exit status: {self.process.poll()}\n"
            f"--- stdout ({self.stdout_path}) ---\n{tail(self.stdout_text())}\n"
            f"--- stderr ({self.stderr_path}) ---\n{tail(self.stderr_text())}\n"
        )

    # -- addresses ----------------------------------------------------------

    @property
    def http_address(self) -> str:
        """host:port, the form tritonclient wants."""
        return f"{self.host}:{self.http_port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def grpc_url(self) -> str:
        """host:port of the KServe v2 gRPC endpoint, the form tritonclient.grpc wants."""
        return f"{self.host}:{self.grpc_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.host}:{self.metrics_port}/metrics"

    def url(self, path: str) -> str:
        return self.http_url + path

    def client(self, **options: Any) -> httpclient.InferenceServerClient:
        options.setdefault("network_timeout", HTTP_TIMEOUT_S)
        options.setdefault("connection_timeout", HTTP_TIMEOUT_S)
        return httpclient.InferenceServerClient(self.http_address, **options)

    # -- life cycle ---------------------------------------------------------

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            out = self.stdout_text()
            http = _HTTP_LINE.search(out)
            metrics = _METRICS_LINE.search(out)
            grpc = _GRPC_LINE.search(out)
            if http and metrics and grpc and _READY_LINE.search(out):
                self.host, self.http_port = http.group(1), int(http.group(2))
                self.metrics_port = int(metrics.group(2))
                self.grpc_port = int(grpc.group(2))
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"surge exited before it was ready\n{self.describe()}")
            if time.monotonic() >= deadline:
                raise RuntimeError(f"surge was not ready after {timeout_s:.0f} s\n{self.describe()}")
            time.sleep(0.01)

    def wait_exit(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"surge did not exit within {timeout_s:.0f} s\n{self.describe()}")

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = STOP_TIMEOUT_S) -> int:
        """Signals the server (unless it already exited) and returns its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.wait_exit(timeout_s)

    # -- observability ------------------------------------------------------

    def metrics_text(self) -> str:
        response = requests.get(self.metrics_url, timeout=HTTP_TIMEOUT_S)
        assert response.status_code == 200, f"GET /metrics: {response.status_code} {response.text[:500]}"
        return response.text

    def metrics(self) -> list[Sample]:
        return parse_prometheus_text(self.metrics_text())

    def stats(self, model: str) -> dict:
        """This model's entry in the Triton statistics extension's answer."""
        response = requests.get(self.url(f"/v2/models/{model}/stats"), timeout=HTTP_TIMEOUT_S)
        assert response.status_code == 200, f"GET stats of {model}: {response.status_code} {response.text[:500]}"
        entries = [e for e in response.json()["model_stats"] if e["name"] == model]
        assert entries, f"no model_stats entry for {model}: {response.text[:1000]}"
        return entries[0]


def launch_surge(repository: Path, log_dir: Path, extra_args: Iterable[str] = ()) -> SurgeServer:
    """Starts `surge serve` on port 0; returns without waiting for it."""
    binary = surge_binary()
    if not binary.exists():
        raise RuntimeError(
            f"surge binary not found at {binary}: build it (cmake --preset release && "
            f"cmake --build --preset release) or point SURGE_BIN at one"
        )
    log_dir.mkdir(parents=True, exist_ok=True)
    command = [
        str(binary),
        "serve",
        "--model-repository",
        str(repository),
        "--host",
        "127.0.0.1",
        "--http-port",
        "0",
        "--metrics-port",
        "0",
        "--grpc-port",
        "0",
        *backend_directory_args(),
        *extra_args,
    ]
    with open(log_dir / "stdout.log", "wb") as out, open(log_dir / "stderr.log", "wb") as err:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=REPO_ROOT)
    return SurgeServer(process, log_dir, repository, command)


# ---------------------------------------------------------------------------
# Model repositories


def identity_config(
    name: str,
    *,
    max_batch_size: int = 8,
    execute_delay_us: int = 0,
    max_queue_delay_us: int = 0,
    wait_for_delay: bool = False,
    max_queue_size: int | None = None,
    priority_levels: int | None = None,
    default_priority_level: int | None = None,
    instance_count: int = 1,
    fail_on_value: float | None = None,
    extra: str = "",
) -> str:
    """config.pbtxt for the identity test backend (INPUT0 FP32 [-1] -> OUTPUT0)."""
    queue_policy = "allow_timeout_override: true"
    if max_queue_size is not None:
        queue_policy = f"max_queue_size: {max_queue_size} {queue_policy}"
    batching = [f"max_queue_delay_microseconds: {max_queue_delay_us}", f"default_queue_policy {{ {queue_policy} }}"]
    if priority_levels is not None:
        batching.append(f"priority_levels: {priority_levels}")
    if default_priority_level is not None:
        batching.append(f"default_priority_level: {default_priority_level}")
    parameters = {"execute_delay_us": str(execute_delay_us)}
    if fail_on_value is not None:
        parameters["fail_on_value"] = f"{fail_on_value:g}"
    lines = [
        f'name: "{name}"',
        'backend: "identity"',
        f"max_batch_size: {max_batch_size}",
        'input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]',
        'output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]',
        f"instance_group [ {{ count: {instance_count} kind: KIND_CPU }} ]",
        "dynamic_batching { " + " ".join(batching) + " }",
        *(f'parameters {{ key: "{k}" value {{ string_value: "{v}" }} }}' for k, v in parameters.items()),
    ]
    if wait_for_delay:
        # Batches form by waiting out the delay, not only when waiting pays.
        lines.append("dispatch { policy: MAX_QUEUE_DELAY }")
    if extra:
        lines.append(extra)
    return "\n".join(lines) + "\n"


def echo_lm_config(
    name: str,
    *,
    max_running_sequences: int = 4,
    default_max_tokens: int = 12,
    priority_levels: int = 2,
    max_queue_size: int | None = None,
    max_tokens_limit: int | None = None,
    batching: str | None = None,
    step_delay_us: int = 0,
    kv_slots: int | None = None,
    max_context: int | None = None,
    eos_after_tokens: int | None = None,
) -> str:
    """config.pbtxt for the echo_lm test backend, a generative model whose text
    is known in advance: a prompt of distinct characters repeats itself
    ("abc" -> "abcabc..."), see backends/echo_lm/echo_lm_backend.cpp."""
    generation = [
        f"max_running_sequences: {max_running_sequences}",
        f"default_max_tokens: {default_max_tokens}",
        f"priority_levels: {priority_levels}",
    ]
    if max_queue_size is not None:
        generation.append(f"max_queue_size: {max_queue_size}")
    if max_tokens_limit is not None:
        generation.append(f"max_tokens_limit: {max_tokens_limit}")
    if batching is not None:
        generation.append(f"batching: {batching}")
    parameters = {"step_delay_us": str(step_delay_us)}
    for key, value in (("kv_slots", kv_slots), ("max_context", max_context), ("eos_after_tokens", eos_after_tokens)):
        if value is not None:
            parameters[key] = str(value)
    lines = [
        f'name: "{name}"',
        'backend: "echo_lm"',
        "max_batch_size: 0",
        'input [ { name: "text_input" data_type: TYPE_STRING dims: [ 1 ] } ]',
        'output [ { name: "text_output" data_type: TYPE_STRING dims: [ 1 ] } ]',
        "model_transaction_policy { decoupled: true }",
        "generation { " + " ".join(generation) + " }",
        *(f'parameters {{ key: "{k}" value {{ string_value: "{v}" }} }}' for k, v in parameters.items()),
    ]
    return "\n".join(lines) + "\n"


def echo_text(prompt: str, tokens: int) -> str:
    """What echo_lm generates greedily for a prompt of distinct characters."""
    return "".join(prompt[i % len(prompt)] for i in range(tokens))


def write_model(repository: Path, name: str, config: str, version: int = 1) -> Path:
    """Lays a model out as Triton does: <repo>/<name>/config.pbtxt and <repo>/<name>/<version>/."""
    model_dir = repository / name
    (model_dir / str(version)).mkdir(parents=True, exist_ok=True)
    (model_dir / "config.pbtxt").write_text(config)
    return model_dir


# ---------------------------------------------------------------------------
# Requests


def json_tensor(name: str, values: Any, datatype: str = "FP32") -> dict:
    array = np.asarray(values)
    return {"name": name, "shape": list(array.shape), "datatype": datatype, "data": array.flatten().tolist()}


def json_infer_body(values: Any, name: str = "INPUT0", parameters: dict | None = None) -> dict:
    body: dict = {"inputs": [json_tensor(name, np.asarray(values, dtype=np.float32))]}
    if parameters:
        body["parameters"] = parameters
    return body


def post_infer(
    server: SurgeServer,
    model: str,
    body: dict | bytes,
    *,
    version: str | None = None,
    headers: dict | None = None,
    timeout_s: float = HTTP_TIMEOUT_S,
) -> requests.Response:
    """POSTs an infer request on a fresh connection; a dict is sent as JSON."""
    path = f"/v2/models/{model}" + (f"/versions/{version}" if version is not None else "") + "/infer"
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    all_headers = {"Content-Type": "application/json" if isinstance(body, dict) else "application/octet-stream"}
    all_headers.update(headers or {})
    return requests.post(server.url(path), data=data, headers=all_headers, timeout=timeout_s)


def output_array(response: requests.Response, name: str = "OUTPUT0") -> np.ndarray:
    """An output of a JSON infer response, shaped."""
    assert response.status_code == 200, f"{response.status_code}: {response.text[:500]}"
    for output in response.json()["outputs"]:
        if output["name"] == name:
            return np.asarray(output["data"], dtype=np.float32).reshape(output["shape"])
    raise AssertionError(f"no output {name} in {response.text[:500]}")


def error_message(response: requests.Response) -> str:
    """The {"error": "..."} message every failed request must carry."""
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"{response.status_code} without a JSON body: {response.text[:500]!r}")
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], (
        f'{response.status_code} body lacks a non-empty "error": {response.text[:500]!r}'
    )
    return body["error"]


def raw_http_request(server: SurgeServer, method: str, path: str, body: bytes, headers: dict | None = None) -> bytes:
    """The bytes of one HTTP/1.1 request, for clients that talk over a bare socket."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {server.http_address}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# ---------------------------------------------------------------------------
# Statistics (Triton statistics extension)


def inference_count(stats: dict) -> int:
    return int(stats.get("inference_count", 0))


def execution_count(stats: dict) -> int:
    return int(stats.get("execution_count", 0))


def outcome_count(stats: dict, outcome: str) -> int:
    """inference_stats.<outcome>.count, e.g. success or fail."""
    return int(stats.get("inference_stats", {}).get(outcome, {}).get("count", 0))


# ---------------------------------------------------------------------------
# Prometheus text


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict
    value: float


_SAMPLE_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?\s*$")
_LABEL_PAIR = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def _unescape(value: str) -> str:
    return value.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")


def parse_prometheus_text(text: str) -> list[Sample]:
    samples = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = _SAMPLE_LINE.match(line)
        assert match, f"unparseable metrics line: {line!r}"
        name, label_text, value = match.groups()
        labels = {k: _unescape(v) for k, v in _LABEL_PAIR.findall(label_text or "")}
        samples.append(Sample(name, labels, float(value)))
    return samples


def metric_types(text: str) -> dict[str, str]:
    """family name -> type, from the # TYPE lines."""
    types = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0] == "#" and parts[1] == "TYPE":
            types[parts[2]] = parts[3]
    return types


def metric_sum(samples: list[Sample], name: str, **labels: str) -> float | None:
    """Sum of the samples of `name` whose labels include `labels`; None when there are none."""
    matching = [s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    return sum(matching) if matching else None


def model_metric(samples: list[Sample], name: str, model: str) -> float | None:
    """`name` for one model: its series with model="<model>", or, when the family
    carries no model label at all, the server-wide total."""
    family = [s for s in samples if s.name == name]
    if not family:
        return None
    if any("model" in s.labels for s in family):
        return metric_sum(family, name, model=model) or 0.0
    return sum(s.value for s in family)


def queued_requests(server: SurgeServer, model: str) -> int:
    return int(model_metric(server.metrics(), "surge_queue_depth", model) or 0)


def held_requests(server: SurgeServer, model: str) -> tuple[int, int]:
    """(requests of `model` the server holds, of which queued), from the gauges.

    Holds either reading of surge_inflight_requests: every admitted request, or
    only those executing. The tests that use it run one instance with
    max_batch_size 1, so at most one request executes at a time.
    """
    samples = server.metrics()
    inflight = int(model_metric(samples, "surge_inflight_requests", model) or 0)
    queued = int(model_metric(samples, "surge_queue_depth", model) or 0)
    return max(inflight, queued + min(inflight, 1)), queued


def wait_held(server: SurgeServer, model: str, at_least: int, queued_at_least: int = 0) -> None:
    """Waits until the server holds `at_least` requests of `model`, `queued_at_least` of them queued."""

    def reached() -> tuple[int, int] | None:
        held, queued = held_requests(server, model)
        return (held, queued) if held >= at_least and queued >= queued_at_least else None

    wait_until(reached, f"{model}: {at_least} requests held, {queued_at_least} of them queued")


def wait_executing_alone(server: SurgeServer, model: str) -> None:
    """Waits until one request of `model` has left the queue for an instance."""

    def reached() -> bool:
        held, queued = held_requests(server, model)
        return held >= 1 and queued == 0

    wait_until(reached, f"{model}: one request executing, none queued")
