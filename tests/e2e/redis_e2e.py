"""What the worker-pool tests share: a real redis-server on a free port,
`surge worker` processes, and configs for worker-pool identity models.

Every wait polls a condition against a deadline (wait_until); nothing sleeps
for a fixed time hoping a process got there.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterable

import redis

from surge_e2e import (
    CONDITION_TIMEOUT_S,
    REPO_ROOT,
    backend_directory_args,
    identity_config,
    surge_binary,
    wait_until,
)

REDIS_READY_TIMEOUT_S = 10.0
WORKER_JOIN_TIMEOUT_S = 30.0

_JOINED_LINE = re.compile(r"^surge worker: (\S+) joined model (\S+)", re.MULTILINE)
_STOPPED_LINE = re.compile(r"^surge worker: (\S+) stopped after (\d+) request\(s\) in (\d+) batch", re.MULTILINE)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server child on a free loopback port, in a directory of its own."""

    def __init__(self, directory: Path, append_only: bool = False):
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed (scripts/install-deps installs it)")
        self.directory = directory
        self.append_only = append_only
        self.port = 0
        self.process: subprocess.Popen | None = None
        directory.mkdir(parents=True, exist_ok=True)
        for _ in range(5):  # another process may take the free port first
            self.port = free_port()
            self._spawn()
            try:
                self._wait_ready()
                return
            except RuntimeError:
                self.kill()
        raise RuntimeError(f"redis-server did not start; log:\n{self.log_text()}")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        path = self.directory / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _spawn(self) -> None:
        command = [
            "redis-server",
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "yes" if self.append_only else "no",
            "--dir", str(self.directory),
            "--logfile", str(self.directory / "redis.log"),
        ]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)

    def _wait_ready(self) -> None:
        def answers() -> bool:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError("redis-server exited")
            try:
                return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
            except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
                return False

        wait_until(answers, f"redis-server on port {self.port} to answer PING", REDIS_READY_TIMEOUT_S)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=10)

    def stop(self) -> None:
        """SIGTERM: redis-server writes its append-only file and exits."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=20)

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=20)

    def start_again(self) -> None:
        """A new redis-server on the same port and directory, after stop()."""
        self._spawn()
        self._wait_ready()

    def restart(self) -> None:
        self.stop()
        self.start_again()


class WorkerProcess:
    """One `surge worker`, its logs and its exit."""

    def __init__(self, repository: Path, model: str, redis_url: str, name: str, log_dir: Path,
                 extra_args: Iterable[str] = ()):
        self.name = name
        self.model = model
        log_dir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = log_dir / f"worker-{name}.out"
        self.stderr_path = log_dir / f"worker-{name}.err"
        self.command = [
            str(surge_binary()), "worker",
            "--model-repository", str(repository),
            "--model", model,
            "--redis", redis_url,
            "--name", name,
            *backend_directory_args(),
            *extra_args,
        ]
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                            cwd=REPO_ROOT)

    def stdout_text(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def logs(self) -> str:
        return self.stdout_text() + self.stderr_path.read_text(errors="replace")

    def joined(self) -> bool:
        return bool(_JOINED_LINE.search(self.stdout_text()))

    def wait_joined(self, timeout_s: float = WORKER_JOIN_TIMEOUT_S) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"worker {self.name} exited {self.process.returncode}\n{self.logs()}")
            return self.joined()

        wait_until(ready, f"worker {self.name} to join", timeout_s)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=20)

    def stop(self, timeout_s: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout_s)

    def executed(self) -> int:
        """Requests it executed, from the line it prints when it stops."""
        match = _STOPPED_LINE.search(self.stdout_text())
        assert match, f"worker {self.name} printed no summary\n{self.logs()}"
        return int(match.group(2))

    def batches(self) -> int:
        """Batches it executed, from the line it prints when it stops."""
        match = _STOPPED_LINE.search(self.stdout_text())
        assert match, f"worker {self.name} printed no summary\n{self.logs()}"
        return int(match.group(3))


def pool_identity_config(name: str, *, heartbeat_ms: int = 100, claim_idle_ms: int = 1000, max_deliveries: int = 3,
                         local_workers: int = 0, extra_parameters: dict | None = None, **identity) -> str:
    """identity_config plus a worker_pool section (and more identity parameters)."""
    pool = (f"worker_pool {{ heartbeat_ms: {heartbeat_ms} claim_idle_ms: {claim_idle_ms} "
            f"max_deliveries: {max_deliveries} local_workers: {local_workers} }}")
    lines = [pool]
    for key, value in (extra_parameters or {}).items():
        lines.append(f'parameters {{ key: "{key}" value {{ string_value: "{value}" }} }}')
    extra = identity.pop("extra", "")
    return identity_config(name, extra="\n".join(lines + ([extra] if extra else [])), **identity)


def wait_live_workers(server, model: str, count: int, timeout_s: float = CONDITION_TIMEOUT_S) -> None:
    """Waits until the gateway counts `count` live workers for `model` (its gauge)."""
    from surge_e2e import model_metric

    wait_until(lambda: (model_metric(server.metrics(), "surge_worker_pool_live_workers", model) or 0) >= count,
               f"the gateway to see {count} live worker(s) of {model}", timeout_s)


def late_replies(server) -> float:
    from surge_e2e import metric_sum

    return metric_sum(server.metrics(), "surge_worker_pool_late_replies_total") or 0.0


def environment_has_redis() -> bool:
    return shutil.which("redis-server") is not None and os.access(shutil.which("redis-server"), os.X_OK)
