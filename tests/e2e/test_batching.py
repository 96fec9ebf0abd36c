"""Concurrent requests to a batching model are served in shared batches."""

import http.client
import json

import numpy as np
import tritonclient.http as httpclient

from surge_e2e import HTTP_TIMEOUT_S, execution_count, inference_count, json_infer_body, wait_until

CONCURRENCY = 64
MAX_ROUNDS = 5


def _counts(client):
    (entry,) = [e for e in client.get_inference_statistics("mlp")["model_stats"] if e["name"] == "mlp"]
    return inference_count(entry), execution_count(entry)


def _burst(server, bodies):
    """Sends every body on its own, already open, connection before reading any
    answer, so the requests reach the server within a millisecond or two.
    (tritonclient's async_infer pauses 10 ms after each request it sends.)"""
    connections = [http.client.HTTPConnection(server.host, server.http_port, timeout=HTTP_TIMEOUT_S) for _ in bodies]
    try:
        for connection in connections:
            connection.connect()
        for connection, body in zip(connections, bodies):
            connection.request("POST", "/v2/models/mlp/infer", body, {"Content-Type": "application/json"})
        answers = []
        for connection in connections:
            response = connection.getresponse()
            answers.append((response.status, response.read()))
        return answers
    finally:
        for connection in connections:
            connection.close()


def test_concurrent_requests_share_batches(surge):
    rows = np.random.default_rng(17).standard_normal((CONCURRENCY, 64)).astype(np.float32)
    bodies = [json.dumps(json_infer_body(row.reshape(1, 64), name="input")) for row in rows]
    with surge.client() as client:
        expected = []
        for row in rows:
            tensor = httpclient.InferInput("input", [1, 64], "FP32")
            tensor.set_data_from_numpy(row.reshape(1, 64))
            expected.append(client.infer("mlp", [tensor]).as_numpy("output"))
        inferences_before, executions_before = _counts(client)

        sent = 0
        for _ in range(MAX_ROUNDS):
            answers = _burst(surge, bodies)
            sent += CONCURRENCY
            for (status, body), want in zip(answers, expected):
                assert status == 200, body[:300]
                (output,) = json.loads(body)["outputs"]
                got = np.asarray(output["data"], dtype=np.float32).reshape(output["shape"])
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
            # Statistics may be recorded just after the answer is written.
            inferences, executions = wait_until(
                lambda: (c := _counts(client))[0] - inferences_before >= sent and c,
                f"mlp statistics to count {sent} more inferences",
            )
            if executions - executions_before < inferences - inferences_before:
                break

    assert inferences - inferences_before == sent
    assert executions - executions_before < sent, (
        f"{sent} concurrent single-row requests ran in {executions - executions_before} executions: never batched"
    )
