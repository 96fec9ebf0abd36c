"""Backend ABI 2 seen from outside: a backend answers each request of a batch
on its own, so one bad row fails only its request; and a request's own
parameters reach the backend over HTTP and gRPC (backends/example scales by
a "factor" parameter)."""

from __future__ import annotations

import http.client
import json

import numpy as np
import requests
import tritonclient.grpc as grpcclient

from surge_e2e import (
    HTTP_TIMEOUT_S,
    execution_count,
    identity_config,
    inference_count,
    json_infer_body,
    outcome_count,
    post_infer,
    wait_until,
    write_model,
)

POISON = 13.0


def _burst(server, model, bodies):
    """Every body on its own, already open, connection before any answer is read,
    so the requests reach the server together."""
    connections = [http.client.HTTPConnection(server.host, server.http_port, timeout=HTTP_TIMEOUT_S) for _ in bodies]
    try:
        for connection in connections:
            connection.connect()
        for connection, body in zip(connections, bodies):
            connection.request("POST", f"/v2/models/{model}/infer", json.dumps(body), {"Content-Type": "application/json"})
        answers = []
        for connection in connections:
            response = connection.getresponse()
            answers.append((response.status, json.loads(response.read())))
        return answers
    finally:
        for connection in connections:
            connection.close()


def test_a_batch_with_one_invalid_row_answers_that_row_alone(surge_factory, tmp_path):
    # Four one-row requests fill max_batch_size, so they run as one batch the
    # moment the last arrives; the long queue delay keeps any from leaving alone.
    model = "rows"
    repository = tmp_path / "models"
    write_model(repository, model, identity_config(model, max_batch_size=4, max_queue_delay_us=20_000_000,
                                                   wait_for_delay=True, fail_on_value=POISON))
    server = surge_factory(repository)
    rows = [[1.0, 2.0], [3.0, POISON], [5.0, 6.0], [7.0, 8.0]]
    answers = _burst(server, model, [json_infer_body([row]) for row in rows])

    for row, (status, body) in zip(rows, answers):
        if POISON in row:
            assert status == 500, body
            assert "injected failure" in body["error"] and "contains 13" in body["error"], body
        else:
            assert status == 200, body
            (output,) = body["outputs"]
            np.testing.assert_array_equal(np.asarray(output["data"], np.float32), np.asarray(row, np.float32))

    stats = wait_until(lambda: inference_count(s := server.stats(model)) >= 4 and s, f"{model} to count 4 rows")
    assert (execution_count(stats), inference_count(stats)) == (1, 4), stats
    assert (outcome_count(stats, "success"), outcome_count(stats, "fail")) == (3, 1), stats


def _example_config(name: str) -> str:
    return "\n".join([
        f'name: "{name}"',
        'backend: "example"',
        "max_batch_size: 4",
        'input [ { name: "x" data_type: TYPE_FP32 dims: [ -1 ] } ]',
        'output [ { name: "y" data_type: TYPE_FP32 dims: [ -1 ] } ]',
        'parameters { key: "factor" value { string_value: "2" } }',
    ]) + "\n"


def test_request_parameters_reach_the_backend_over_http_and_grpc(surge_factory, tmp_path):
    model = "scale"
    repository = tmp_path / "models"
    write_model(repository, model, _example_config(model))
    server = surge_factory(repository)

    default = post_infer(server, model, json_infer_body([[1.0, 2.0]], name="x"))
    assert default.status_code == 200, default.text
    assert default.json()["outputs"][0]["data"] == [2.0, 4.0]
    own = post_infer(server, model, json_infer_body([[1.0, 2.0]], name="x", parameters={"factor": 10}))
    assert own.status_code == 200, own.text
    assert own.json()["outputs"][0]["data"] == [10.0, 20.0]
    bad = post_infer(server, model, json_infer_body([[1.0]], name="x", parameters={"factor": "lots"}))
    assert bad.status_code == 400, bad.text
    assert "'factor'" in bad.json()["error"]

    tensor = grpcclient.InferInput("x", [1, 2], "FP32")
    tensor.set_data_from_numpy(np.asarray([[1.0, 2.0]], np.float32))
    with grpcclient.InferenceServerClient(server.grpc_url) as client:
        result = client.infer(model, [tensor], parameters={"factor": 0.5})
    np.testing.assert_array_equal(result.as_numpy("y"), np.asarray([[0.5, 1.0]], np.float32))


def test_the_backend_completes_a_config_that_declares_no_outputs(surge_factory, tmp_path):
    # The identity backend gives a config without outputs one per input.
    model = "completed"
    repository = tmp_path / "models"
    config = "\n".join(line for line in identity_config(model, max_batch_size=4).splitlines()
                       if not line.startswith("output")) + "\n"
    assert "output" not in config
    write_model(repository, model, config)
    server = surge_factory(repository)

    served = requests.get(server.url(f"/v2/models/{model}/config"), timeout=HTTP_TIMEOUT_S).json()
    assert [(o["name"], o["data_type"], o["dims"]) for o in served["output"]] == [("OUTPUT0", "TYPE_FP32", ["-1"])], served
    answer = post_infer(server, model, json_infer_body([[1.0, 2.0]]))
    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"][0]["name"] == "OUTPUT0"
