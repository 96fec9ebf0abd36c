"""A flood of idle connections above --max-connections: health, metrics and
gRPC keep answering during it, and everything works once it ends."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time

import grpc
import pytest
import requests
from tritonclient.grpc import service_pb2, service_pb2_grpc

from surge_e2e import identity_config, json_infer_body, post_infer, wait_until, write_model

# Opens `count` connections, says how many it holds, and keeps them open
# (sending nothing) until its stdin closes.
FLOODER = r"""
import socket, sys
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
held = []
for _ in range(count):
    try:
        held.append(socket.create_connection((host, port), timeout=5))
    except OSError:
        pass
print(len(held), flush=True)
sys.stdin.read()
"""

LIMIT = 2000
FLOODERS = 3
PER_FLOODER = 1000  # 3,000 idle sockets against a limit of 2,000
ANSWER_WITHIN_S = 1.0


def _timed(call) -> float:
    start = time.monotonic()
    call()
    return time.monotonic() - start


def _health(server) -> None:
    with socket.create_connection((server.host, server.http_port), timeout=ANSWER_WITHIN_S) as sock:
        sock.settimeout(ANSWER_WITHIN_S)
        sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: surge\r\nConnection: close\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")


def _metrics(server) -> None:
    response = requests.get(server.metrics_url, timeout=ANSWER_WITHIN_S)
    assert response.status_code == 200


def _grpc_live(server) -> None:
    # A new channel each time: a new connection, as a fresh client makes.
    with grpc.insecure_channel(server.grpc_url) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        assert stub.ServerLive(service_pb2.ServerLiveRequest(), timeout=ANSWER_WITHIN_S).live


def _probe_all(server) -> dict[str, float]:
    return {
        "health": _timed(lambda: _health(server)),
        "metrics": _timed(lambda: _metrics(server)),
        "grpc": _timed(lambda: _grpc_live(server)),
    }


def test_a_connection_flood_over_the_limit_leaves_health_metrics_and_grpc_answering(surge_factory, tmp_path):
    repository = tmp_path / "models"
    write_model(repository, "flood_identity", identity_config("flood_identity"))
    server = surge_factory(repository, "--max-connections", str(LIMIT), "--threads", "2")

    flooders = [
        subprocess.Popen([sys.executable, "-c", FLOODER, server.host, str(server.http_port), str(PER_FLOODER)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(FLOODERS)
    ]
    try:
        # While the flood opens, then once it holds every socket.
        during = [_probe_all(server)]
        held = [int(f.stdout.readline()) for f in flooders]
        assert sum(held) >= LIMIT + 500, f"the flood opened only {held}"
        during += [_probe_all(server) for _ in range(3)]
        for probe in during:
            slow = {name: t for name, t in probe.items() if t >= ANSWER_WITHIN_S}
            assert not slow, f"answered in over {ANSWER_WITHIN_S} s during the flood: {during}"
    finally:
        for f in flooders:
            f.stdin.close()
        for f in flooders:
            f.wait(timeout=10)

    # Without a restart: every endpoint, and inference, as before.
    after = _probe_all(server)
    assert all(t < ANSWER_WITHIN_S for t in after.values()), after
    response = post_infer(server, "flood_identity", json_infer_body([[1.0, 2.0]]))
    assert response.status_code == 200, response.text
    assert "accept4" not in server.stderr_text()
    evicted = [s.value for s in server.metrics() if s.name == "surge_http_connections_evicted"
               and s.labels.get("listener") == "inference"]
    assert evicted and evicted[0] >= sum(held) - LIMIT, evicted


def test_every_port_recovers_after_the_server_runs_out_of_descriptors(surge_factory, tmp_path):
    """gRPC 1.51's own acceptor stops for good after one EMFILE; surge's does not."""
    repository = tmp_path / "models"
    write_model(repository, "fd_identity", identity_config("fd_identity"))
    server = surge_factory(repository, "--threads", "2")
    pid = server.process.pid
    open_now = len(os.listdir(f"/proc/{pid}/fd"))
    try:
        # The limits were sized at start-up; lowering the descriptor limit
        # under the running server makes accept() fail with EMFILE on every port.
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (open_now + 32, open_now + 32))
    except (PermissionError, OSError) as e:
        pytest.skip(f"cannot lower the server's descriptor limit: {e}")
    held = []
    try:
        for port in [server.grpc_port] * 100 + [server.http_port] * 50 + [server.metrics_port] * 10:
            held.append(socket.create_connection((server.host, port), timeout=5))
    finally:
        for sock in held:
            sock.close()
    # Accepting resumes within the longest backoff (1 s) of descriptors freeing.
    wait_until(lambda: _succeeds(_grpc_live, server), "gRPC ServerLive after the descriptors came back", 5)
    wait_until(lambda: _succeeds(_health, server), "HTTP health after the descriptors came back", 5)
    wait_until(lambda: _succeeds(_metrics, server), "/metrics after the descriptors came back", 5)
    response = post_infer(server, "fd_identity", json_infer_body([[1.0, 2.0]]))
    assert response.status_code == 200, response.text
    assert "accept4" not in server.stderr_text()


def _succeeds(probe, server) -> bool:
    try:
        probe(server)
        return True
    except (OSError, AssertionError, grpc.RpcError, requests.RequestException):
        return False
