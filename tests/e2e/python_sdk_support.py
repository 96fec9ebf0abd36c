"""What the Python SDK tests share: a real redis-server on a free port, worker
processes run through `python -m surge_client.worker`, and the handlers' event
logs. Every wait polls a condition against a deadline."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import redis

from surge_e2e import REPO_ROOT, wait_until

SDK_ROOT = REPO_ROOT / "clients" / "python"
EXAMPLES = SDK_ROOT / "examples"
HERE = Path(__file__).resolve().parent

# The SDK under test is this tree's, whether or not it is installed.
if str(SDK_ROOT) not in sys.path:
    sys.path.insert(0, str(SDK_ROOT))

STOP_TIMEOUT_S = 20.0


def subprocess_env() -> Dict[str, str]:
    env = dict(os.environ)
    paths = [str(SDK_ROOT), str(HERE), str(EXAMPLES)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """`redis-server --port P --save '' --appendonly no`, answering PING."""

    def __init__(self, log_dir: Path):
        self.log_path = log_dir / "redis.log"
        self.process: Optional[subprocess.Popen] = None
        self.port = 0
        for _ in range(5):  # the free port may be taken between probe and bind
            self.port = free_port()
            log = open(self.log_path, "ab")
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            log.close()
            if self._wait_ping():
                return
            self.stop()
        raise RuntimeError(f"redis-server did not start; see {self.log_path}:\n{self.log_path.read_text()}")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def _wait_ping(self) -> bool:
        deadline = time.monotonic() + 10
        probe = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1)
        try:
            while time.monotonic() < deadline:
                if self.process is None or self.process.poll() is not None:
                    return False
                try:
                    if probe.ping():
                        return True
                except redis.RedisError:
                    time.sleep(0.01)
            return False
        finally:
            probe.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=STOP_TIMEOUT_S)


class WorkerProcess:
    """One worker process; its stdout/stderr go to files in `log_dir`."""

    def __init__(self, command: Sequence[str], name: str, model: str, log_dir: Path):
        self.command = list(command)
        self.name = name
        self.model = model
        self.stdout_path = log_dir / f"worker-{name}.out"
        self.stderr_path = log_dir / f"worker-{name}.err"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(self.command, stdout=out, stderr=err, env=subprocess_env(), cwd=REPO_ROOT)

    @property
    def pid(self) -> int:
        return self.process.pid

    def logs(self) -> str:
        return self.stdout_path.read_text(errors="replace") + self.stderr_path.read_text(errors="replace")

    def describe(self) -> str:
        return f"command: {' '.join(self.command)}\nexit status: {self.process.poll()}\n{self.logs()}"

    def wait_joined(self, client: redis.Redis, timeout_s: float = 30.0) -> None:
        """Until the worker's first heartbeat is in surge:M:workers."""

        def joined() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"worker {self.name} exited before joining\n{self.describe()}")
            return client.zscore(f"surge:{self.model}:workers", self.name) is not None

        wait_until(joined, f"worker {self.name} to heartbeat", timeout_s)

    def terminate(self) -> int:
        """SIGTERM, then the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=STOP_TIMEOUT_S)

    def kill(self) -> None:
        """SIGKILL: the worker gets no chance to answer or clean up."""
        self.process.kill()
        self.process.wait(timeout=STOP_TIMEOUT_S)


def worker_command(
    redis_url: str,
    model: str,
    name: str,
    handler: str,
    handler_args: Dict[str, str],
    options: Sequence[str] = (),
) -> List[str]:
    command = [sys.executable, "-m", "surge_client.worker", "--redis", redis_url, "--model", model, "--name", name]
    command += ["--handler", handler]
    for key, value in handler_args.items():
        command += ["--handler-arg", f"{key}={value}"]
    return command + list(options)


def read_events(log: Path) -> List[dict]:
    """The handler events written so far (python_sdk_handlers.tagged)."""
    if not log.exists():
        return []
    # The last piece is empty, or a line still being written: leave it for the next read.
    complete = log.read_text().split("\n")[:-1]
    return [json.loads(line) for line in complete if line.strip()]


def predict_calls(events: List[dict], event: str = "predict-end") -> List[dict]:
    """Calls on real rows (warm-up calls carry tag 0)."""
    return [e for e in events if e["event"] == event and any(e["tags"])]


def replies_by_id(client: redis.Redis, reply_stream: str) -> Dict[str, List[Dict[bytes, bytes]]]:
    """Every reply in a reply stream, grouped by request id."""
    out: Dict[str, List[Dict[bytes, bytes]]] = {}
    for _entry_id, fields in client.xrange(reply_stream):
        out.setdefault(fields[b"id"].decode(), []).append(fields)
    return out
