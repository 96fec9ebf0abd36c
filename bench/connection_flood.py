#!/usr/bin/env python3
"""How long health, /metrics and gRPC ServerLive take to answer while a flood
of idle connections sits on the inference port, and whether they answer after
it. Starts its own server on an empty model repository.

    .venv/bin/python bench/connection_flood.py --binary build/release/surge --connections 20000

Prints the machine, the descriptor limit, the command and the figures as a
Markdown table row per phase.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import grpc
from tritonclient.grpc import service_pb2, service_pb2_grpc

FLOODER = r"""
import socket, sys
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
held = []
for _ in range(count):
    try:
        held.append(socket.create_connection((host, port), timeout=2))
    except OSError:
        pass
print(len(held), flush=True)
sys.stdin.read()
"""

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def health(port: int, limit_s: float) -> float:
    start = time.monotonic()
    with socket.create_connection((HOST, port), timeout=limit_s) as sock:
        sock.settimeout(limit_s)
        sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
        if not sock.recv(256).startswith(b"HTTP/1.1 200"):
            raise OSError("not 200")
    return time.monotonic() - start


def metrics(port: int, limit_s: float) -> float:
    start = time.monotonic()
    with socket.create_connection((HOST, port), timeout=limit_s) as sock:
        sock.settimeout(limit_s)
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
        if not sock.recv(256).startswith(b"HTTP/1.1 200"):
            raise OSError("not 200")
    return time.monotonic() - start


def grpc_live(port: int, limit_s: float) -> float:
    start = time.monotonic()
    with grpc.insecure_channel(f"{HOST}:{port}") as channel:
        service_pb2_grpc.GRPCInferenceServiceStub(channel).ServerLive(service_pb2.ServerLiveRequest(), timeout=limit_s)
    return time.monotonic() - start


def sample(probe, port: int, count: int, limit_s: float) -> str:
    times, failures = [], 0
    for _ in range(count):
        try:
            times.append(probe(port, limit_s))
        except (OSError, grpc.RpcError):
            failures += 1
    if not times:
        return f"all {count} failed ({limit_s:g} s limit)"
    text = f"p50 {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms"
    return text + (f", {failures}/{count} failed" if failures else "")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="build/release/surge")
    parser.add_argument("--connections", type=int, default=20000)
    parser.add_argument("--flooders", type=int, default=5)
    parser.add_argument("--probes", type=int, default=20)
    parser.add_argument("--limit-s", type=float, default=2.0)
    parser.add_argument("server_args", nargs="*", help="extra `surge serve` flags (after --)")
    args = parser.parse_args()

    http_port, metrics_port, grpc_port = free_port(), free_port(), free_port()
    repository = tempfile.mkdtemp(prefix="flood-repo-")
    server = subprocess.Popen(
        [args.binary, "serve", "--model-repository", repository, "--host", HOST, "--http-port", str(http_port),
         "--metrics-port", str(metrics_port), "--grpc-port", str(grpc_port), *args.server_args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in server.stdout:
        if "ready" in line:
            break
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, {platform.platform()}; "
          f"RLIMIT_NOFILE (this shell) {resource.getrlimit(resource.RLIMIT_NOFILE)}")
    print(f"command: {' '.join(sys.argv)}")
    phases = {}

    def measure(name: str) -> None:
        phases[name] = {
            "health": sample(health, http_port, args.probes, args.limit_s),
            "metrics": sample(metrics, metrics_port, args.probes, args.limit_s),
            "grpc": sample(grpc_live, grpc_port, args.probes, args.limit_s),
        }

    measure("before")
    per = args.connections // args.flooders
    flooders = [subprocess.Popen([sys.executable, "-c", FLOODER, HOST, str(http_port), str(per)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                for _ in range(args.flooders)]
    held = sum(int(f.stdout.readline()) for f in flooders)
    measure(f"during ({held} idle sockets)")
    for f in flooders:
        f.stdin.close()
    for f in flooders:
        f.wait()
    time.sleep(1)  # the server sees the closes
    measure("after the flood closed")
    server.terminate()
    _, stderr = server.communicate(timeout=30)
    print("| phase | health (inference port) | /metrics (metrics port) | gRPC ServerLive (new channel) |")
    print("|---|---|---|---|")
    for name, figures in phases.items():
        print(f"| {name} | {figures['health']} | {figures['metrics']} | {figures['grpc']} |")
    tail = [line for line in stderr.splitlines() if line.strip()][-3:]
    print("server stderr (last lines):", tail)
    return 0


if __name__ == "__main__":
    sys.exit(main())
