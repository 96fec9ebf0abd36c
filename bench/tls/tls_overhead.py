"""What TLS costs surge per request: server CPU time and client-seen latency
for KServe infer over plain gRPC, gRPC over TLS (terminated by surge and
relayed to gRPC over a socketpair), plain HTTP and HTTPS.

    SURGE_BIN=build/release/surge .venv/bin/python bench/tls/tls_overhead.py [--requests 2000] [--threads 4]

Starts one surge with TLS and one without on an identity model, makes a
throw-away CA and certificate with the openssl CLI, and prints one line per
protocol and payload: requests/s, p50/p99 latency and the server's CPU
microseconds per request (utime+stime from /proc). Connections are opened
once per thread and reused, so the figures are the steady-state cost, not the
handshake's."""

from __future__ import annotations

import argparse
import os
import platform
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import requests
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "e2e"))
from surge_e2e import identity_config, launch_surge, write_model  # noqa: E402


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(d: Path) -> None:
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=bench CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign", cwd=d)
    (d / "ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=d)
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "1", "-days",
            "1", "-out", "server.pem", "-extfile", "ext", cwd=d)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(make_client, infer, requests: int, threads: int, pid: int) -> tuple[float, float, float, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    per_thread = requests // threads
    clients = [make_client() for _ in range(threads)]
    for client in clients:  # connect and warm up before measuring
        for _ in range(20):
            infer(client)

    def worker(client):
        mine = []
        for _ in range(per_thread):
            start = time.perf_counter()
            infer(client)
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)

    cpu_before = cpu_seconds(pid)
    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(c,)) for c in clients]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu_before
    for client in clients:
        client.close()
    latencies.sort()
    n = len(latencies)
    return n / elapsed, latencies[n // 2] * 1e3, latencies[int(n * 0.99)] * 1e3, cpu / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_certificates(tmp)
        repository = tmp / "models"
        write_model(repository, "identity", identity_config("identity"))
        tls_args = ["--tls-cert-file", str(tmp / "server.pem"), "--tls-key-file", str(tmp / "server.key")]
        plain = launch_surge(repository, tmp / "plain")
        secure = launch_surge(repository, tmp / "tls", tls_args)
        try:
            plain.wait_ready()
            secure.wait_ready()
            ca = str(tmp / "ca.pem")
            print(f"# {platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                  f"{ssl.OPENSSL_VERSION}; {args.requests} requests, {args.threads} client threads")
            print("protocol        payload    req/s   p50 ms   p99 ms   server CPU us/req")
            for elements, label in ((16, "64 B"), (262144, "1 MiB")):
                data = np.ones((1, elements), np.float32)

                def grpc_infer(client):
                    tensor = grpcclient.InferInput("INPUT0", [1, elements], "FP32")
                    tensor.set_data_from_numpy(data)
                    client.infer("identity", [tensor])

                # tritonclient.http runs on gevent, which does not take OS
                # threads: the same binary request through requests instead.
                tensor = httpclient.InferInput("INPUT0", [1, elements], "FP32")
                tensor.set_data_from_numpy(data, binary_data=True)
                body, json_size = httpclient.InferenceServerClient.generate_request_body([tensor])
                headers = {"Inference-Header-Content-Length": str(json_size),
                           "Content-Type": "application/octet-stream"}

                def http_session(base: str, verify=True):
                    session = requests.Session()
                    session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
                    session.verify = verify
                    session.base = base  # type: ignore[attr-defined]
                    return session

                def http_infer(session):
                    response = session.post(f"{session.base}/v2/models/identity/infer", data=body, headers=headers)
                    assert response.status_code == 200, response.text[:200]

                cases = [
                    ("grpc", plain, lambda: grpcclient.InferenceServerClient(f"127.0.0.1:{plain.grpc_port}"),
                     grpc_infer),
                    ("grpc+tls", secure, lambda: grpcclient.InferenceServerClient(
                        f"localhost:{secure.grpc_port}", ssl=True, root_certificates=ca), grpc_infer),
                    ("http", plain, lambda: http_session(f"http://127.0.0.1:{plain.http_port}"), http_infer),
                    ("https", secure, lambda: http_session(f"https://localhost:{secure.http_port}", ca), http_infer),
                ]
                for name, server, make_client, infer in cases:
                    rate, p50, p99, cpu = run(make_client, infer, args.requests, args.threads, server.process.pid)
                    print(f"{name:<15} {label:<8} {rate:8.0f} {p50:8.2f} {p99:8.2f} {cpu:14.0f}")
        finally:
            plain.stop()
            secure.stop()


if __name__ == "__main__":
    main()
