"""Bounded work for hostile input: a huge OpenAI prompt is refused from its
headers or its byte length, never tokenized; client text echoed in errors is
cut short and made UTF-8, over HTTP and gRPC."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import requests
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from surge_e2e import (
    HTTP_TIMEOUT_S,
    SurgeServer,
    echo_lm_config,
    identity_config,
    metric_sum,
    post_infer,
    write_model,
)

ECHO = "echo"
IDENTITY = "identity"
HUGE = 60 * 1024 * 1024


@pytest.fixture
def server(surge_factory, tmp_path) -> SurgeServer:
    repository = tmp_path / "models"
    write_model(repository, ECHO, echo_lm_config(ECHO, max_context=64))
    write_model(repository, IDENTITY, identity_config(IDENTITY))
    return surge_factory(repository)


def _rss_kib(server: SurgeServer) -> int:
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _read_response(sock: socket.socket) -> tuple[int, dict, bytes]:
    """Reads one HTTP response that the server ends by closing."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body[: int(headers.get("content-length", len(body)))]


def _completion_head(server: SurgeServer, length: int) -> bytes:
    return (f"POST /v1/completions HTTP/1.1\r\nHost: {server.http_address}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n").encode()


def test_a_60mb_prompt_is_refused_from_its_headers_at_once(server):
    before = _rss_kib(server)
    started = time.monotonic()
    with socket.create_connection((server.host, server.http_port), timeout=HTTP_TIMEOUT_S) as sock:
        sock.sendall(_completion_head(server, HUGE) + b'{"model": "echo", "prompt": "')
        status, headers, body = _read_response(sock)
    elapsed = time.monotonic() - started
    assert status == 413, body
    error = json.loads(body)["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "context_length_exceeded"
    assert str(HUGE) in error["message"]
    assert elapsed < 1.0, f"{elapsed:.3f} s"
    assert _rss_kib(server) - before < 4 * 1024


def test_a_60mb_prompt_sent_whole_is_refused_and_costs_no_memory(server):
    """A client that writes all of its body without reading first still gets
    the 413, in well under a second, and the server keeps none of it."""
    before = _rss_kib(server)
    prompt = b"a" * HUGE
    payload = b'{"model": "echo", "prompt": "' + prompt + b'"}'
    with socket.create_connection((server.host, server.http_port), timeout=HTTP_TIMEOUT_S) as sock:
        started = time.monotonic()

        def send() -> None:
            try:
                sock.sendall(_completion_head(server, len(payload)) + payload)
            except OSError:
                pass  # the server stopped reading and closed: expected

        sender = threading.Thread(target=send)
        sender.start()
        status, _, body = _read_response(sock)
        elapsed = time.monotonic() - started
        try:
            sock.shutdown(socket.SHUT_RDWR)  # ends a sendall still blocked
        except OSError:
            pass  # already closed by the server
        sender.join()
    assert status == 413, body
    assert json.loads(body)["error"]["code"] == "context_length_exceeded"
    assert elapsed < 1.0, f"{elapsed:.3f} s"
    assert _rss_kib(server) - before < 4 * 1024
    assert requests.get(server.url("/v2/health/ready"), timeout=HTTP_TIMEOUT_S).status_code == 200


def test_a_prompt_longer_than_the_context_in_bytes_is_not_tokenized(server):
    # max_context 64: at most 64 x 64 bytes of text; the body is under its bound.
    prompt = "x" * (64 * 64 + 1)
    response = requests.post(server.url("/v1/completions"), json={"model": ECHO, "prompt": prompt},
                             timeout=HTTP_TIMEOUT_S)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "prompt" and error["code"] == "context_length_exceeded"
    assert error["message"] == (f"prompt is {len(prompt)} bytes; model 'echo' has a context of 64 tokens, "
                                "which holds at most 4096 bytes of text")
    chat = requests.post(server.url("/v1/chat/completions"),
                         json={"model": ECHO, "messages": [{"role": "user", "content": prompt}]},
                         timeout=HTTP_TIMEOUT_S)
    assert chat.status_code == 400 and chat.json()["error"]["param"] == "messages", chat.text
    # KServe generate reaches the scheduler, which checks the same bound first.
    generate = requests.post(server.url(f"/v2/models/{ECHO}/generate"), json={"text_input": prompt},
                             timeout=HTTP_TIMEOUT_S)
    assert generate.status_code == 400, generate.text
    assert "bytes; this model's context of 64 tokens holds at most 4096 bytes" in generate.json()["error"]
    # Nothing reached the tokenizer.
    assert (metric_sum(server.metrics(), "surge_prompt_tokens_total", model=ECHO) or 0) == 0
    # A prompt that fits still works.
    ok = requests.post(server.url("/v1/completions"), json={"model": ECHO, "prompt": "abc", "max_tokens": 3},
                       timeout=HTTP_TIMEOUT_S)
    assert ok.status_code == 200, ok.text


def _utf8_json(response: requests.Response) -> dict:
    return json.loads(response.content.decode("utf-8"))  # raises on invalid UTF-8


def test_a_10mb_input_name_gets_a_short_400(server):
    name = "n" * (10 * 1024 * 1024)
    body = {"inputs": [{"name": name, "datatype": "FP32", "shape": [1, 3], "data": [1, 2, 3]}]}
    response = post_infer(server, IDENTITY, body)
    assert response.status_code == 400
    assert len(response.content) < 512, len(response.content)
    message = _utf8_json(response)["error"]
    assert message == f"unknown input '{'n' * 128}... (10485760 bytes)' for model 'identity'"


def test_invalid_utf8_in_client_text_gives_a_utf8_body(server):
    body = b'{"inputs":[{"name":"in\xff\xfe","datatype":"FP32","shape":[1,3],"data":[1,2,3]}]}'
    response = post_infer(server, IDENTITY, body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert _utf8_json(response)["error"] == "unknown input 'in\\xff\\xfe' for model 'identity'"
    bad_type = b'{"inputs":[{"name":"INPUT0","datatype":"\xc0\xaf","shape":[1,3],"data":[1,2,3]}]}'
    response = post_infer(server, IDENTITY, bad_type, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "unknown datatype '\\xc0\\xaf'" in _utf8_json(response)["error"]
    # In the path: an unknown model whose name is not UTF-8 (a raw request,
    # as requests would percent-encode it).
    with socket.create_connection((server.host, server.http_port), timeout=HTTP_TIMEOUT_S) as sock:
        sock.sendall(b"GET /v2/models/m\xff" + b"z" * 500 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, _, raw = _read_response(sock)
    assert status == 404
    message = json.loads(raw.decode("utf-8"))["error"]
    assert message.startswith("Request for unknown model: 'm\\xff") and message.endswith("... (502 bytes)' is not found")
    response = requests.get(server.url(f"/v1/models/{'q' * 5000}"), timeout=HTTP_TIMEOUT_S)
    assert response.status_code == 404 and len(response.content) < 512


def test_grpc_status_messages_are_short(server):
    client = grpcclient.InferenceServerClient(server.grpc_url)
    tensor = grpcclient.InferInput("i" * 200_000, [1, 3], "FP32")
    tensor.set_data_from_numpy(np.zeros((1, 3), np.float32))
    with pytest.raises(InferenceServerException) as failure:
        client.infer(IDENTITY, [tensor])
    assert failure.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert f"'{'i' * 128}... (200000 bytes)'" in failure.value.message()
    assert len(failure.value.message()) < 512
    with pytest.raises(InferenceServerException) as unknown:
        client.get_model_metadata("m" * 100_000)
    assert unknown.value.status() == "StatusCode.NOT_FOUND"
    assert len(unknown.value.message()) < 512
    client.close()
