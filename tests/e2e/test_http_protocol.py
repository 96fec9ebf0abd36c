"""HTTP/1.1 rules the server keeps: Expect: 100-continue, methods, Host."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time

import pytest
import requests

from surge_e2e import identity_config, json_infer_body, write_model


def _serve(surge_factory, tmp_path, *args):
    repository = tmp_path / "models"
    write_model(repository, "proto_identity", identity_config("proto_identity"))
    return surge_factory(repository, *args)


def _read_response(sock: socket.socket, limit_s: float = 5) -> bytes:
    """One response with a Content-Length body."""
    sock.settimeout(limit_s)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def _exchange(server, raw: bytes) -> bytes:
    with socket.create_connection((server.host, server.http_port)) as sock:
        sock.sendall(raw)
        return _read_response(sock)


def _json_body(reply: bytes) -> dict:
    return json.loads(reply.partition(b"\r\n\r\n")[2])


def test_expect_100_continue_is_answered_before_the_body_is_sent(surge_factory, tmp_path):
    server = _serve(surge_factory, tmp_path)
    body = json.dumps(json_infer_body([[1.0, 2.0, 3.0, 4.0]])).encode()
    head = (
        b"POST /v2/models/proto_identity/infer HTTP/1.1\r\nHost: surge\r\nContent-Type: application/json\r\n"
        + f"Expect: 100-continue\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    )
    with socket.create_connection((server.host, server.http_port)) as sock:
        start = time.monotonic()
        sock.sendall(head)
        sock.settimeout(0.5)  # well under the 1 s a client such as curl waits before sending anyway
        interim = b""
        while b"\r\n\r\n" not in interim:
            chunk = sock.recv(4096)
            assert chunk, "closed before 100 Continue"
            interim += chunk
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        assert time.monotonic() - start < 0.5
        sock.sendall(body)
        reply = _read_response(sock)
    assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
    assert _json_body(reply)["outputs"][0]["data"] == [1.0, 2.0, 3.0, 4.0]


def test_expect_100_continue_over_the_body_limit_gets_413_without_sending_the_body(surge_factory, tmp_path):
    server = _serve(surge_factory, tmp_path, "--max-body-mib", "1")
    head = (
        b"POST /v2/models/proto_identity/infer HTTP/1.1\r\nHost: surge\r\nContent-Type: application/json\r\n"
        + f"Expect: 100-continue\r\nContent-Length: {2 * 1024 * 1024}\r\n\r\n".encode()
    )
    start = time.monotonic()
    reply = _exchange(server, head)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b"100 Continue" not in reply
    assert "exceeds" in _json_body(reply)["error"]
    assert time.monotonic() - start < 0.5


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_curl_posting_over_a_megabyte_does_not_stall_on_expect(surge_factory, tmp_path):
    server = _serve(surge_factory, tmp_path)
    path = tmp_path / "body.json"
    # About 1.4 MB of JSON: curl sends Expect: 100-continue above 1 MB and waits 1 s for an answer.
    path.write_text(json.dumps(json_infer_body([[float(i) for i in range(80000)]])))
    result = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "-H", "Content-Type: application/json",
         "--data-binary", f"@{path}", server.url("/v2/models/proto_identity/infer")],
        capture_output=True, text=True, timeout=30, check=True)
    code, seconds = result.stdout.split()
    assert code == "200", result
    assert float(seconds) < 0.9, f"curl took {seconds} s: it waited for 100 Continue"


def test_a_method_http_does_not_define_is_501(surge_factory, tmp_path):
    server = _serve(surge_factory, tmp_path)
    reply = _exchange(server, b"BREW /v2/health/live HTTP/1.1\r\nHost: surge\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 501"), reply[:200]
    assert _json_body(reply) == {"error": "method BREW is not implemented"}


def test_a_wrong_method_on_a_known_path_is_405_with_allow(surge_factory, tmp_path):
    server = _serve(surge_factory, tmp_path)
    live = requests.post(server.url("/v2/health/live"), timeout=5)
    assert live.status_code == 405
    assert live.headers["Allow"] == "GET, HEAD"
    assert "POST" in live.json()["error"]
    infer = requests.get(server.url("/v2/models/proto_identity/infer"), timeout=5)
    assert infer.status_code == 405
    assert infer.headers["Allow"] == "POST"
    metrics = requests.delete(server.metrics_url, timeout=5)
    assert metrics.status_code == 405
    assert metrics.headers["Allow"] == "GET, HEAD"
    # An unknown path is still 404.
    assert requests.post(server.url("/v2/nowhere"), timeout=5).status_code == 404


def test_http_1_1_without_host_is_400_and_http_1_0_needs_none(surge_factory, tmp_path):
    server = _serve(surge_factory, tmp_path)
    reply = _exchange(server, b"GET /v2/health/live HTTP/1.1\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400"), reply[:200]
    assert "Host" in _json_body(reply)["error"]
    reply = _exchange(server, b"GET /v2/health/live HTTP/1.0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.0 200"), reply[:200]
