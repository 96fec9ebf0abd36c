"""Ensembles (platform "ensemble") and the classification extension, through
tritonclient over HTTP and gRPC: steps chained through the registry, errors
that name the failing step, an ensemble whose step model is missing, and
outputs answered as "score:index:label" classes."""

from __future__ import annotations

from pathlib import Path

import grpc
import numpy as np
import pytest
import requests
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

from surge_e2e import identity_config, metric_sum, wait_held, wait_until, write_model

LABELS = ["cat", "dog", "bird", "fish"]

# Rows of 4 scores; the identity steps pass them through unchanged.
SCORES = np.asarray([[0.1, 0.6, 0.05, 0.25], [0.7, 0.1, 0.15, 0.05]], dtype=np.float32)

IRIS_ROWS = np.asarray([[5.1, 3.5, 1.4, 0.2], [6.4, 3.2, 4.5, 1.5], [6.3, 3.3, 6.0, 2.5]], dtype=np.float32)


def ensemble_config(name: str, steps: list[str], label_file: str | None = None) -> str:
    """IN (FP32 [-1]) -> each step model's INPUT0 -> OUTPUT0 in turn -> OUT."""
    entries = []
    for i, model in enumerate(steps):
        source = "IN" if i == 0 else f"t{i}"
        target = "OUT" if i == len(steps) - 1 else f"t{i + 1}"
        entries.append(
            f'{{ model_name: "{model}" model_version: -1 input_map {{ key: "INPUT0" value: "{source}" }} '
            f'output_map {{ key: "OUTPUT0" value: "{target}" }} }}'
        )
    label = f' label_filename: "{label_file}"' if label_file else ""
    return (
        f'name: "{name}"\nplatform: "ensemble"\nmax_batch_size: 8\n'
        'input [ { name: "IN" data_type: TYPE_FP32 dims: [ -1 ] } ]\n'
        f'output [ {{ name: "OUT" data_type: TYPE_FP32 dims: [ -1 ]{label} }} ]\n'
        "ensemble_scheduling { step [ " + ", ".join(entries) + " ] }\n"
    )


@pytest.fixture
def pipelines(tmp_path: Path, surge_factory):
    repository = tmp_path / "repository"
    write_model(repository, "first", identity_config("first"))
    write_model(repository, "second", identity_config("second"))
    write_model(repository, "picky", identity_config("picky", fail_on_value=7))
    write_model(repository, "pipe", ensemble_config("pipe", ["first", "second"], "labels.txt"))
    (repository / "pipe" / "labels.txt").write_text("".join(f"{label}\n" for label in LABELS))
    write_model(repository, "failing_pipe", ensemble_config("failing_pipe", ["first", "picky"]))
    write_model(repository, "broken_pipe", ensemble_config("broken_pipe", ["first", "missing"]))
    return surge_factory(repository)


def http_infer(server, model: str, values: np.ndarray, class_count: int = 0):
    with server.client() as client:
        tensor = httpclient.InferInput("IN", list(values.shape), "FP32")
        tensor.set_data_from_numpy(values, binary_data=True)
        output = httpclient.InferRequestedOutput("OUT", binary_data=True, class_count=class_count)
        return client.infer(model, [tensor], outputs=[output])


def grpc_infer(server, model: str, values: np.ndarray, class_count: int = 0):
    client = grpcclient.InferenceServerClient(server.grpc_url)
    try:
        tensor = grpcclient.InferInput("IN", list(values.shape), "FP32")
        tensor.set_data_from_numpy(values)
        output = grpcclient.InferRequestedOutput("OUT", class_count=class_count)
        return client.infer(model, [tensor], outputs=[output])
    finally:
        client.close()


def expected_classes(scores: np.ndarray, k: int, labels: list[str] | None) -> list[list[str]]:
    rows = []
    for row in scores:
        order = sorted(range(len(row)), key=lambda i: (-row[i], i))[:k]
        rows.append([f"{row[i]:.9f}:{i}" + (f":{labels[i]}" if labels and i < len(labels) else "") for i in order])
    return rows


def decoded(array: np.ndarray) -> list[list[str]]:
    return [[value.decode() if isinstance(value, bytes) else value for value in row] for row in array.tolist()]


def test_an_ensemble_looks_like_a_model(pipelines):
    with pipelines.client() as client:
        assert "classification" in client.get_server_metadata()["extensions"]
        assert client.is_model_ready("pipe")
        metadata = client.get_model_metadata("pipe")
        assert [i["name"] for i in metadata["inputs"]] == ["IN"]
        assert [o["name"] for o in metadata["outputs"]] == ["OUT"]
        config = client.get_model_config("pipe")
        assert config["platform"] == "ensemble"
        steps = config["ensemble_scheduling"]["step"]
        assert [s["model_name"] for s in steps] == ["first", "second"]
    client = grpcclient.InferenceServerClient(pipelines.grpc_url)
    try:
        assert client.is_model_ready("pipe")
        assert client.get_model_config("pipe").config.platform == "ensemble"
    finally:
        client.close()


def test_http_and_grpc_run_every_step_and_count_them(pipelines):
    values = np.arange(8, dtype=np.float32).reshape(2, 4)
    np.testing.assert_array_equal(http_infer(pipelines, "pipe", values).as_numpy("OUT"), values)
    np.testing.assert_array_equal(grpc_infer(pipelines, "pipe", values).as_numpy("OUT"), values)
    samples = pipelines.metrics()
    for model in ("pipe", "first", "second"):
        assert metric_sum(samples, "surge_requests_total", model=model, outcome="success") == 2
    assert metric_sum(samples, "surge_ensemble_step_duration_seconds_count", model="pipe", step="2") == 2
    assert metric_sum(samples, "surge_request_duration_seconds_count", model="pipe") == 2


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_class_count_answers_the_top_classes_with_labels(pipelines, protocol):
    infer = http_infer if protocol == "http" else grpc_infer
    result = infer(pipelines, "pipe", SCORES, class_count=2)
    classes = result.as_numpy("OUT")
    assert classes.shape == (2, 2)
    assert decoded(classes) == expected_classes(SCORES, 2, LABELS)
    assert decoded(classes)[0][0] == "0.600000024:1:dog"


def test_class_count_on_a_model_without_labels_gives_score_and_index(pipelines):
    with pipelines.client() as client:
        tensor = httpclient.InferInput("INPUT0", list(SCORES.shape), "FP32")
        tensor.set_data_from_numpy(SCORES, binary_data=False)
        output = httpclient.InferRequestedOutput("OUTPUT0", binary_data=False, class_count=3)
        classes = client.infer("first", [tensor], outputs=[output]).as_numpy("OUTPUT0")
    assert decoded(classes) == expected_classes(SCORES, 3, None)


def test_a_failing_step_is_named_with_its_status_over_http_and_grpc(pipelines):
    values = np.asarray([[1, 7, 3, 4]], dtype=np.float32)
    with pytest.raises(InferenceServerException) as raised:
        http_infer(pipelines, "failing_pipe", values)
    assert raised.value.status() == "500"
    assert "ensemble 'failing_pipe' step 2 ('picky'): " in raised.value.message()
    assert "fail_on_value" in raised.value.message()

    with pytest.raises(InferenceServerException) as raised:
        grpc_infer(pipelines, "failing_pipe", values)
    assert raised.value.status() == "StatusCode.INTERNAL"
    assert "ensemble 'failing_pipe' step 2 ('picky'): " in raised.value.message()

    # A request that does not match the ensemble is refused before any step: 400.
    response = requests.post(
        pipelines.url("/v2/models/failing_pipe/infer"),
        json={"inputs": [{"name": "IN", "shape": [1, 2], "datatype": "INT32", "data": [1, 2]}]},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    samples = pipelines.metrics()
    assert metric_sum(samples, "surge_ensemble_step_failures_total", model="failing_pipe", step="2") == 2


def test_an_invalid_classification_is_refused(pipelines):
    values = np.zeros((1, 4), dtype=np.float32)
    with pytest.raises(InferenceServerException) as raised:
        http_infer(pipelines, "pipe", values, class_count=-1)
    assert raised.value.status() == "400"
    assert "classification must be a positive integer" in raised.value.message()


def test_an_ensemble_over_a_missing_model_fails_its_own_load_and_the_rest_serve(pipelines):
    index = requests.post(pipelines.url("/v2/repository/index"), json={}, timeout=30).json()
    states = {entry["name"]: entry for entry in index}
    assert states["broken_pipe"]["state"] == "UNAVAILABLE"
    assert "depends on model 'missing', which is not loaded" in states["broken_pipe"]["reason"]
    assert states["pipe"]["state"] == "READY"
    with pipelines.client() as client:
        assert not client.is_model_ready("broken_pipe")
        assert client.is_model_ready("first")


def test_cancelling_a_grpc_call_cancels_the_queued_steps(tmp_path: Path, surge_factory):
    repository = tmp_path / "repository"
    # One slow instance: the second call's step waits in the queue while the first runs.
    write_model(repository, "slow", identity_config("slow", execute_delay_us=1_000_000))
    write_model(repository, "after", identity_config("after"))
    write_model(repository, "slow_pipe", ensemble_config("slow_pipe", ["slow", "after"]))
    server = surge_factory(repository)
    channel = grpc.insecure_channel(server.grpc_url)
    stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)

    def request() -> service_pb2.ModelInferRequest:
        message = service_pb2.ModelInferRequest(model_name="slow_pipe")
        tensor = message.inputs.add(name="IN", datatype="FP32", shape=[1, 4])
        tensor.contents.fp32_contents.extend([1, 2, 3, 4])
        return message

    first = stub.ModelInfer.future(request(), timeout=30)
    wait_held(server, "slow", at_least=1)
    second = stub.ModelInfer.future(request(), timeout=30)
    wait_held(server, "slow", at_least=2, queued_at_least=1)
    second.cancel()
    first.result()
    wait_until(
        lambda: metric_sum(server.metrics(), "surge_requests_total", model="slow", outcome="cancelled") == 1,
        "the cancelled call's queued step to be dropped",
    )
    samples = server.metrics()
    assert metric_sum(samples, "surge_requests_total", model="after", outcome="success") == 1
    assert metric_sum(samples, "surge_requests_total", model="slow_pipe", outcome="cancelled") == 1
    channel.close()


def test_the_demo_iris_pipeline_classifies_with_iris_labels(surge):
    if not (surge.repository / "iris_pipeline").is_dir():
        pytest.skip("the demo repository predates iris_pipeline: run scripts/make_models.py")
    with surge.client() as client:
        tensor = httpclient.InferInput("features", list(IRIS_ROWS.shape), "FP32")
        tensor.set_data_from_numpy(IRIS_ROWS, binary_data=True)
        output = httpclient.InferRequestedOutput("probabilities", class_count=1)
        http_classes = decoded(client.infer("iris_pipeline", [tensor], outputs=[output]).as_numpy("probabilities"))
        direct = client.infer("iris", [tensor]).as_numpy("probabilities")
    assert [row[0].split(":")[2] for row in http_classes] == ["setosa", "versicolor", "virginica"]
    assert http_classes == expected_classes(direct, 1, ["setosa", "versicolor", "virginica"])

    client = grpcclient.InferenceServerClient(surge.grpc_url)
    try:
        tensor = grpcclient.InferInput("features", list(IRIS_ROWS.shape), "FP32")
        tensor.set_data_from_numpy(IRIS_ROWS)
        output = grpcclient.InferRequestedOutput("probabilities", class_count=2)
        grpc_classes = decoded(client.infer("iris", [tensor], outputs=[output]).as_numpy("probabilities"))
    finally:
        client.close()
    assert grpc_classes == expected_classes(direct, 2, ["setosa", "versicolor", "virginica"])
