"""API-key authentication (docs/configuration.md, "API keys"), with real
clients: the openai client's api_key, tritonclient HTTP and gRPC with an
Authorization header. Health stays open for probes."""

from __future__ import annotations

import socket

import httpx
import numpy as np
import openai
import pytest
import requests
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from surge_e2e import (
    HTTP_TIMEOUT_S,
    SurgeServer,
    echo_lm_config,
    error_message,
    identity_config,
    json_infer_body,
    launch_surge,
    output_array,
    post_infer,
    write_model,
)

ECHO = "echo"
IDENTITY = "identity"
KEY = "sk-inference-0123456789"
SCRAPE = "sk-scrape"


@pytest.fixture
def repository(tmp_path):
    repository = tmp_path / "models"
    write_model(repository, ECHO, echo_lm_config(ECHO))
    write_model(repository, IDENTITY, identity_config(IDENTITY))
    return repository


@pytest.fixture
def server(surge_factory, repository, tmp_path) -> SurgeServer:
    keys = tmp_path / "keys"
    keys.write_text(f"# every group\n{KEY}\n\nmetrics {SCRAPE}\n")
    return surge_factory(repository, "--api-key-file", str(keys))


def _bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def _grpc_bearer(key: str) -> dict:
    return {"authorization": f"Bearer {key}"}  # gRPC metadata keys are lowercase


def _openai(server: SurgeServer, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url("/v1"), api_key=key, max_retries=0,
                         http_client=httpx.Client(timeout=HTTP_TIMEOUT_S))


def _identity_input(client_module):
    tensor = client_module.InferInput("INPUT0", [1, 3], "FP32")
    tensor.set_data_from_numpy(np.array([[1, 2, 3]], np.float32))
    return tensor


def test_openai_client_with_the_right_and_a_wrong_key(server):
    completion = _openai(server, KEY).completions.create(model=ECHO, prompt="abc", max_tokens=3, temperature=0)
    assert completion.choices[0].text == "abc"
    assert [m.id for m in _openai(server, KEY).models.list().data] == [ECHO]
    with pytest.raises(openai.AuthenticationError) as wrong:
        _openai(server, "sk-wrong").completions.create(model=ECHO, prompt="abc", max_tokens=3)
    assert wrong.value.status_code == 401
    error = wrong.value.body
    assert error["code"] == "invalid_api_key" and error["type"] == "invalid_request_error"
    assert error["message"] == "the API key is not valid for the inference endpoints"
    assert "sk-wrong" not in wrong.value.response.text
    # The metrics-only key is not an inference key.
    with pytest.raises(openai.AuthenticationError):
        _openai(server, SCRAPE).models.list()


def test_kserve_http_needs_the_key_and_health_stays_open(server):
    missing = post_infer(server, IDENTITY, json_infer_body([[1, 2, 3]]))
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert error_message(missing) == "the inference endpoints need an API key: send 'Authorization: Bearer <key>'"
    assert post_infer(server, IDENTITY, json_infer_body([[1, 2, 3]]), headers=_bearer("nope")).status_code == 401
    np.testing.assert_array_equal(
        output_array(post_infer(server, IDENTITY, json_infer_body([[1, 2, 3]]), headers=_bearer(KEY))), [[1, 2, 3]])
    assert post_infer(server, IDENTITY, json_infer_body([[1, 2, 3]]), headers={"X-API-Key": KEY}).status_code == 200
    for path in ("/v2", f"/v2/models/{IDENTITY}", f"/v2/models/{IDENTITY}/config"):
        assert requests.get(server.url(path), timeout=HTTP_TIMEOUT_S).status_code == 401, path
    assert requests.post(server.url("/v2/repository/index"), timeout=HTTP_TIMEOUT_S).status_code == 401
    assert requests.post(server.url("/v2/repository/index"), headers=_bearer(KEY),
                         timeout=HTTP_TIMEOUT_S).status_code == 200
    for path in ("/v2/health/live", "/v2/health/ready", f"/v2/models/{IDENTITY}/ready",
                 f"/v2/models/{IDENTITY}/versions/1/ready"):
        assert requests.get(server.url(path), timeout=HTTP_TIMEOUT_S).status_code == 200, path


def test_an_unauthorised_body_is_never_read(server):
    """The 401 comes from the headers: a client announcing a large body gets
    it without sending one."""
    with socket.create_connection((server.host, server.http_port), timeout=HTTP_TIMEOUT_S) as sock:
        sock.sendall((f"POST /v2/models/{IDENTITY}/infer HTTP/1.1\r\nHost: x\r\n"
                      "Content-Length: 50000000\r\n\r\n").encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 401"), data[:200]


def test_tritonclient_http_with_headers(server):
    client = httpclient.InferenceServerClient(server.http_address)
    assert client.is_server_live() and client.is_server_ready()
    result = client.infer(IDENTITY, [_identity_input(httpclient)], headers=_bearer(KEY))
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), [[1, 2, 3]])
    assert client.get_model_metadata(IDENTITY, headers=_bearer(KEY))["name"] == IDENTITY
    with pytest.raises(InferenceServerException) as refused:
        client.infer(IDENTITY, [_identity_input(httpclient)], headers=_bearer("sk-wrong"))
    assert "401" in str(refused.value.status()) or "not valid" in refused.value.message()
    client.close()


def test_tritonclient_grpc_with_headers(server):
    client = grpcclient.InferenceServerClient(server.grpc_url)
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready(IDENTITY)
    result = client.infer(IDENTITY, [_identity_input(grpcclient)], headers=_grpc_bearer(KEY))
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), [[1, 2, 3]])
    assert client.get_model_metadata(IDENTITY, headers=_grpc_bearer(KEY)).name == IDENTITY
    for headers in (None, _grpc_bearer("sk-wrong"), _grpc_bearer(SCRAPE)):
        with pytest.raises(InferenceServerException) as refused:
            client.infer(IDENTITY, [_identity_input(grpcclient)], headers=headers)
        assert refused.value.status() == "StatusCode.UNAUTHENTICATED"
        assert "API key" in refused.value.message()
    with pytest.raises(InferenceServerException) as index:
        client.get_model_repository_index()
    assert index.value.status() == "StatusCode.UNAUTHENTICATED"
    assert client.get_model_repository_index(headers=_grpc_bearer(KEY)) is not None
    client.close()


def test_grpc_streams_need_the_key(server):
    client = grpcclient.InferenceServerClient(server.grpc_url)
    results = []
    client.start_stream(callback=lambda result, error: results.append((result, error)))
    try:
        client.async_stream_infer(IDENTITY, [_identity_input(grpcclient)])
    except InferenceServerException:
        pass  # the stream was refused before the request went out; the callback has why
    client.stop_stream()
    assert results and results[0][1] is not None
    assert "UNAUTHENTICATED" in str(results[0][1].status()) or "API key" in results[0][1].message()
    client.close()


def test_metrics_take_their_own_key(server):
    metrics = server.metrics_url
    assert requests.get(metrics, timeout=HTTP_TIMEOUT_S).status_code == 401
    assert requests.get(metrics, headers=_bearer(SCRAPE), timeout=HTTP_TIMEOUT_S).status_code == 200
    assert requests.get(metrics, headers=_bearer(KEY), timeout=HTTP_TIMEOUT_S).status_code == 200


def test_keys_from_the_environment_guard_only_their_group(surge_factory, repository, monkeypatch):
    monkeypatch.setenv("SURGE_API_KEYS", f"metrics {SCRAPE}")
    server = surge_factory(repository)
    assert post_infer(server, IDENTITY, json_infer_body([[1, 2, 3]])).status_code == 200
    metrics = server.metrics_url
    assert requests.get(metrics, timeout=HTTP_TIMEOUT_S).status_code == 401
    assert requests.get(metrics, headers={"X-API-Key": SCRAPE}, timeout=HTTP_TIMEOUT_S).status_code == 200


def test_no_keys_leave_everything_open(surge_factory, repository, monkeypatch):
    monkeypatch.delenv("SURGE_API_KEYS", raising=False)
    server = surge_factory(repository)
    assert post_infer(server, IDENTITY, json_infer_body([[1, 2, 3]])).status_code == 200
    assert requests.get(server.metrics_url, timeout=HTTP_TIMEOUT_S).status_code == 200


@pytest.mark.parametrize("content", [None, "# only a comment\n", "admin sk-x\n"], ids=["missing", "empty", "group"])
def test_a_bad_key_file_stops_the_server(repository, tmp_path, content):
    keys = tmp_path / "keys"
    if content is not None:
        keys.write_text(content)
    server = launch_surge(repository, tmp_path / "log", ["--api-key-file", str(keys)])
    assert server.wait_exit() == 2
    assert "--api-key-file" in server.stderr_text()
