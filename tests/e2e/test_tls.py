"""TLS on the HTTP and gRPC ports (docs/configuration.md, "TLS"), with real
clients: tritonclient HTTP and gRPC with ssl=True, the openai client over
https with an API key, mutual TLS, SIGHUP reloading the certificate, and a
plain-HTTP client on the TLS port. The CA and certificates are made here with
the openssl CLI."""

from __future__ import annotations

import functools
import shutil
import signal
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import gevent.ssl
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
    identity_config,
    launch_surge,
    metric_sum,
    parse_prometheus_text,
    wait_until,
    write_model,
)

ECHO = "echo"
IDENTITY = "identity"
KEY = "sk-tls-0123456789"


def _auth() -> dict:
    return {"Authorization": f"Bearer {KEY}"}  # a new dict each time: tritonclient adds its own headers to it


GRPC_AUTH = {"authorization": f"Bearer {KEY}"}


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


@dataclass
class Pki:
    directory: Path
    ca: Path
    server_cert: Path
    server_key: Path
    second_cert: Path  # another server certificate of the same CA (serial 2002)
    second_key: Path
    client_cert: Path
    client_key: Path
    other_key: Path  # a key that matches none of the certificates


def _issue(directory: Path, name: str, serial: int, extensions: str) -> None:
    (directory / f"{name}.ext").write_text(extensions)
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=directory)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", str(serial),
             "-days", "2", "-out", f"{name}.pem", "-extfile", f"{name}.ext", cwd=directory)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=surge test CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    server_ext = "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
    _issue(d, "server-one", 1001, server_ext)
    _issue(d, "server-two", 2002, server_ext)
    _issue(d, "client", 3003, "extendedKeyUsage=clientAuth\n")
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", "other.key", cwd=d)
    return Pki(d, d / "ca.pem", d / "server-one.pem", d / "server-one.key", d / "server-two.pem",
               d / "server-two.key", d / "client.pem", d / "client.key", d / "other.key")


@pytest.fixture
def repository(tmp_path):
    repository = tmp_path / "models"
    write_model(repository, ECHO, echo_lm_config(ECHO))
    write_model(repository, IDENTITY, identity_config(IDENTITY))
    return repository


def _tls_args(cert: Path, key: Path, client_ca: Path | None = None) -> list[str]:
    args = ["--tls-cert-file", str(cert), "--tls-key-file", str(key)]
    return args + (["--tls-client-ca-file", str(client_ca)] if client_ca else [])


@pytest.fixture
def server(surge_factory, repository, pki, tmp_path) -> SurgeServer:
    keys = tmp_path / "keys"
    keys.write_text(f"{KEY}\n")
    return surge_factory(repository, "--api-key-file", str(keys), *_tls_args(pki.server_cert, pki.server_key))


def _identity_input(client_module, values=(1, 2, 3)):
    tensor = client_module.InferInput("INPUT0", [1, len(values)], "FP32")
    tensor.set_data_from_numpy(np.array([values], np.float32))
    return tensor


def _http_client(server: SurgeServer, pki: Pki, client_cert: bool = False) -> httpclient.InferenceServerClient:
    def context():
        ctx = gevent.ssl.create_default_context(cafile=str(pki.ca))
        if client_cert:
            ctx.load_cert_chain(str(pki.client_cert), str(pki.client_key))
        return ctx

    return httpclient.InferenceServerClient(f"localhost:{server.http_port}", ssl=True, ssl_context_factory=context,
                                            network_timeout=HTTP_TIMEOUT_S, connection_timeout=HTTP_TIMEOUT_S)


def _grpc_client(server: SurgeServer, pki: Pki, client_cert: bool = False) -> grpcclient.InferenceServerClient:
    extra = {"private_key": str(pki.client_key), "certificate_chain": str(pki.client_cert)} if client_cert else {}
    return grpcclient.InferenceServerClient(f"localhost:{server.grpc_port}", ssl=True, root_certificates=str(pki.ca),
                                            **extra)


def _peer_certificate(server: SurgeServer, port: int, pki: Pki) -> dict:
    """The certificate a new TLS connection to `port` is shown."""
    context = ssl.create_default_context(cafile=str(pki.ca))
    with socket.create_connection(("127.0.0.1", port), timeout=HTTP_TIMEOUT_S) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.getpeercert()


def _common_name(certificate: dict) -> str:
    return dict(field[0] for field in certificate["subject"])["commonName"]


def test_tritonclient_http_over_tls(server, pki):
    client = _http_client(server, pki)
    assert client.is_server_ready()
    result = client.infer(IDENTITY, [_identity_input(httpclient)], headers=_auth())
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), [[1, 2, 3]])
    client.close()


def test_tritonclient_grpc_over_tls(server, pki):
    client = _grpc_client(server, pki)
    assert client.is_server_ready() and client.is_model_ready(IDENTITY)
    result = client.infer(IDENTITY, [_identity_input(grpcclient)], headers=GRPC_AUTH)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), [[1, 2, 3]])
    # Streams run over the same relay.
    results = []
    client.start_stream(callback=lambda result, error: results.append((result, error)), headers=GRPC_AUTH)
    for i in range(3):
        client.async_stream_infer(IDENTITY, [_identity_input(grpcclient, (i, i, i))])
    wait_until(lambda: len(results) == 3, "three stream responses")
    client.stop_stream()
    assert all(error is None for _, error in results), results
    client.close()


def test_openai_client_over_https_with_an_api_key(server, pki):
    def client(key: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"https://localhost:{server.http_port}/v1", api_key=key, max_retries=0,
                             http_client=httpx.Client(verify=ssl.create_default_context(cafile=str(pki.ca)),
                                                      timeout=HTTP_TIMEOUT_S))

    completion = client(KEY).completions.create(model=ECHO, prompt="abc", max_tokens=3, temperature=0)
    assert completion.choices[0].text == "abc"
    streamed = "".join(chunk.choices[0].text for chunk in client(KEY).completions.create(
        model=ECHO, prompt="abcd", max_tokens=4, temperature=0, stream=True))
    assert streamed == "abcd"
    with pytest.raises(openai.AuthenticationError) as refused:
        client("sk-wrong").completions.create(model=ECHO, prompt="abc", max_tokens=3)
    assert refused.value.status_code == 401


def test_the_metrics_port_stays_plain(server):
    response = requests.get(server.metrics_url, headers=_auth(), timeout=HTTP_TIMEOUT_S)
    assert server.metrics_url.startswith("http://") and response.status_code == 200
    samples = parse_prometheus_text(response.text)
    for listener in ("inference", "grpc"):
        assert metric_sum(samples, "surge_tls_reloads_total", listener=listener, result="success") == 0


def test_plain_http_on_the_tls_port_is_closed_and_others_go_on(server, pki):
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=HTTP_TIMEOUT_S) as sock:
        sock.sendall(b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            answer = sock.recv(4096)
        except ConnectionResetError:
            answer = b""
    assert not answer.startswith(b"HTTP/"), answer[:200]
    assert time.monotonic() - started < 5, "the connection was not closed promptly"
    # A plain gRPC client fails the same way.
    plain = grpcclient.InferenceServerClient(f"127.0.0.1:{server.grpc_port}")
    with pytest.raises(InferenceServerException):
        plain.is_server_live(client_timeout=5)
    plain.close()
    client = _http_client(server, pki)
    assert client.is_server_live()
    client.close()
    assert server.process.poll() is None


def test_mutual_tls_needs_a_client_certificate(surge_factory, repository, pki):
    server = surge_factory(repository, *_tls_args(pki.server_cert, pki.server_key, pki.ca))
    # Under TLS 1.3 the client's side of the handshake ends before the server
    # has checked it, so the refusal (a certificate_required alert) arrives
    # at the first read.
    context = ssl.create_default_context(cafile=str(pki.ca))
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=HTTP_TIMEOUT_S) as raw:
        with pytest.raises(ssl.SSLError) as refused:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
                tls.recv(4096)
    assert "CERTIFICATE_REQUIRED" in str(refused.value).upper(), refused.value
    without = _http_client(server, pki)
    with pytest.raises(Exception):
        without.is_server_live()
    without.close()
    with pytest.raises(InferenceServerException):
        _grpc_client(server, pki).is_server_live(client_timeout=5)

    client = _http_client(server, pki, client_cert=True)
    result = client.infer(IDENTITY, [_identity_input(httpclient)])
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), [[1, 2, 3]])
    client.close()
    grpc = _grpc_client(server, pki, client_cert=True)
    result = grpc.infer(IDENTITY, [_identity_input(grpcclient)])
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), [[1, 2, 3]])
    grpc.close()


def test_sighup_reloads_the_certificate_and_a_bad_file_keeps_the_old_one(surge_factory, repository, pki, tmp_path):
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    shutil.copy(pki.server_cert, cert)
    shutil.copy(pki.server_key, key)
    server = surge_factory(repository, *_tls_args(cert, key))
    assert _common_name(_peer_certificate(server, server.http_port, pki)) == "server-one"
    # A connection opened before the reload keeps working after it.
    kept = _http_client(server, pki)
    assert kept.is_server_live()

    def reloads(result: str) -> float:
        return metric_sum(server.metrics(), "surge_tls_reloads_total", result=result) or 0

    shutil.copy(pki.second_cert, cert)
    shutil.copy(pki.second_key, key)
    server.process.send_signal(signal.SIGHUP)
    wait_until(lambda: reloads("success") == 2, "both listeners reloaded")
    for port in (server.http_port, server.grpc_port):
        certificate = _peer_certificate(server, port, pki)
        assert _common_name(certificate) == "server-two" and certificate["serialNumber"] == "07D2", certificate
    assert kept.is_server_live()
    kept.close()
    grpc = _grpc_client(server, pki)
    np.testing.assert_array_equal(grpc.infer(IDENTITY, [_identity_input(grpcclient)]).as_numpy("OUTPUT0"), [[1, 2, 3]])
    grpc.close()

    # A key that does not match: the reload fails, the old certificate serves on.
    shutil.copy(pki.other_key, key)
    server.process.send_signal(signal.SIGHUP)
    wait_until(lambda: reloads("failure") == 2, "both reloads failed")
    assert "does not match the certificate" in server.stderr_text()
    assert _common_name(_peer_certificate(server, server.http_port, pki)) == "server-two"
    client = _http_client(server, pki)
    np.testing.assert_array_equal(client.infer(IDENTITY, [_identity_input(httpclient)]).as_numpy("OUTPUT0"),
                                  [[1, 2, 3]])
    client.close()
    assert server.process.poll() is None


@pytest.mark.parametrize("problem", ["missing cert", "mismatched key", "key without cert", "not pem"])
def test_bad_tls_files_stop_the_server_naming_the_flag(repository, pki, tmp_path, problem):
    missing = tmp_path / "absent.pem"
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    args, flag, named = {
        "missing cert": (_tls_args(missing, pki.server_key), "--tls-cert-file", missing),
        "mismatched key": (_tls_args(pki.server_cert, pki.other_key), "--tls-key-file", pki.other_key),
        "key without cert": (["--tls-key-file", str(pki.server_key)], "--tls-key-file", None),
        "not pem": (_tls_args(pki.server_cert, pki.server_key, garbage), "--tls-client-ca-file", garbage),
    }[problem]
    server = launch_surge(repository, tmp_path / "log", args)
    assert server.wait_exit() == 2
    stderr = server.stderr_text()
    assert flag in stderr, stderr
    if named:
        assert str(named) in stderr, stderr
