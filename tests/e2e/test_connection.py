"""Connection handling: keep-alive idle timeout, limits on what one request may send."""

from __future__ import annotations

import socket
import time

from surge_e2e import identity_config, write_model


def _serve(surge_factory, tmp_path, *args):
    write_model(tmp_path, "idle_identity", identity_config("idle_identity"))
    return surge_factory(tmp_path, *args)


def _read_until_closed(sock: socket.socket, limit_s: float) -> tuple[bytes, float]:
    sock.settimeout(limit_s)
    start = time.monotonic()
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data, time.monotonic() - start
        data += chunk


def test_idle_keep_alive_connection_is_closed_after_the_idle_timeout(surge_factory, tmp_path):
    server = _serve(surge_factory, tmp_path, "--idle-timeout", "1")
    with socket.create_connection((server.host, server.http_port)) as sock:
        sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: surge\r\n\r\n")
        sock.settimeout(5)
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200"), first
        # The connection stays open for keep-alive, then closes once idle for 1 s.
        rest, waited = _read_until_closed(sock, limit_s=10)
        assert rest == b""
        assert 0.5 <= waited <= 5, f"closed after {waited:.2f} s with --idle-timeout 1"


def test_a_connection_that_never_sends_is_closed(surge_factory, tmp_path):
    server = _serve(surge_factory, tmp_path, "--idle-timeout", "1")
    with socket.create_connection((server.host, server.http_port)) as sock:
        data, waited = _read_until_closed(sock, limit_s=10)
        assert data == b""
        assert waited <= 5


def test_body_over_the_limit_gets_413_and_the_server_keeps_serving(surge_factory, tmp_path):
    server = _serve(surge_factory, tmp_path, "--max-body-mib", "1")
    body = b"x" * (2 * 1024 * 1024)
    head = (
        b"POST /v2/models/idle_identity/infer HTTP/1.1\r\nHost: surge\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
    )
    with socket.create_connection((server.host, server.http_port)) as sock:
        sock.sendall(head)
        try:
            sock.sendall(body)
        except OSError:
            pass  # the server may close before reading it all
        sock.settimeout(5)
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b"exceeds" in reply
    with socket.create_connection((server.host, server.http_port)) as sock:
        sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: surge\r\nConnection: close\r\n\r\n")
        sock.settimeout(5)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
