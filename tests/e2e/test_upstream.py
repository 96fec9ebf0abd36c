"""Upstream models: batches sent to another HTTP API and split back.

The KServe v2 upstream is a second real surge server; the JSON upstream is a
small HTTP server in this process that speaks the documented JSON protocol
(docs/configuration.md, "upstream") and records the batches it receives.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from surge_e2e import (
    HTTP_TIMEOUT_S,
    error_message,
    execution_count,
    identity_config,
    inference_count,
    json_infer_body,
    output_array,
    post_infer,
    write_model,
)

TENSORS = (
    'input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]\n'
    'output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]\n'
)


def upstream_config(name: str, url: str, protocol: str = "KSERVE_V2", max_inflight: int = 2,
                    timeout_us: int = 10_000_000, hold_for_batches: bool = False) -> str:
    return (
        f'name: "{name}"\n'
        "max_batch_size: 8\n"
        + TENSORS
        + "dynamic_batching { max_queue_delay_microseconds: 20000 }\n"
        # The adaptive policy sends a row at once when an upstream slot is
        # free, so whether rows batch depends on timing; holding them for
        # the delay makes them batch whatever the machine's load.
        + ("dispatch { policy: MAX_QUEUE_DELAY }\n" if hold_for_batches else "")
        + f'upstream {{ url: "{url}" protocol: {protocol} max_inflight: {max_inflight} '
        f"timeout_microseconds: {timeout_us} }}\n"
    )


def _row(i: int) -> list[float]:
    return [float(i), float(i) / 4, -float(i)]


def test_kserve_upstream_batches_to_another_surge(surge_factory, tmp_path):
    upstream_repository = tmp_path / "upstream"
    write_model(upstream_repository, "echo", identity_config("echo", max_batch_size=8))
    upstream = surge_factory(upstream_repository)

    repository = tmp_path / "models"
    url = f"http://{upstream.http_address}/v2/models/echo/infer"
    write_model(repository, "remote_echo", upstream_config("remote_echo", url, hold_for_batches=True))
    server = surge_factory(repository)

    with ThreadPoolExecutor(16) as executor:
        answers = list(executor.map(lambda i: post_infer(server, "remote_echo", json_infer_body([_row(i)])), range(48)))
    for i, response in enumerate(answers):
        np.testing.assert_array_equal(output_array(response), np.asarray([_row(i)], np.float32))

    # The upstream saw every row once, in fewer requests than there were rows.
    stats = upstream.stats("echo")
    assert inference_count(stats) == 48
    assert execution_count(stats) < 48

    # Gone upstream: every request of the batch gets a 503 that says why.
    assert upstream.stop() == 0
    failed = post_infer(server, "remote_echo", json_infer_body([_row(1)]))
    assert failed.status_code == 503, f"{failed.status_code} {failed.text[:300]}"
    assert "upstream" in error_message(failed) or upstream.http_address in error_message(failed)


class _JsonUpstream(BaseHTTPRequestHandler):
    """Doubles every element; records the rows of each request."""

    batches: list[int] = []
    lock = threading.Lock()
    status = 200

    def do_POST(self):  # noqa: N802 (the http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        rows = body["inputs"]
        with self.lock:
            self.batches.append(len(rows))
        if self.status != 200:
            payload = json.dumps({"error": "overloaded"}).encode()
            self.send_response(self.status)
        else:
            payload = json.dumps({"outputs": [[2 * x for x in row] for row in rows]}).encode()
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def test_json_upstream_gets_rows_and_answers_rows(surge_factory, tmp_path):
    _JsonUpstream.batches = []
    _JsonUpstream.status = 200
    http_server = ThreadingHTTPServer(("127.0.0.1", 0), _JsonUpstream)
    thread = threading.Thread(target=http_server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{http_server.server_port}/predict"
        repository = tmp_path / "models"
        write_model(repository, "doubler", upstream_config("doubler", url, protocol="JSON"))
        server = surge_factory(repository)

        with ThreadPoolExecutor(16) as executor:
            answers = list(executor.map(
                lambda i: post_infer(server, "doubler", json_infer_body([_row(i), _row(i + 1)])), range(24)))
        for i, response in enumerate(answers):
            np.testing.assert_array_equal(output_array(response),
                                          2 * np.asarray([_row(i), _row(i + 1)], np.float32))
        assert sum(_JsonUpstream.batches) == 48
        assert max(_JsonUpstream.batches) > 2, f"rows per upstream request: {_JsonUpstream.batches}"

        # An overloaded upstream (503) is a 503 here too, for the whole batch.
        _JsonUpstream.status = 503
        failed = post_infer(server, "doubler", json_infer_body([_row(1)]), timeout_s=HTTP_TIMEOUT_S)
        assert failed.status_code == 503
        assert "answered 503" in error_message(failed)
    finally:
        http_server.shutdown()
        http_server.server_close()
