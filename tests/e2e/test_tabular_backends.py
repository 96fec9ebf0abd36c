"""The onnxruntime and xgboost backends end to end: tritonclient (HTTP and
gRPC) classifies every held-out iris flower as the Python model that wrote
the demo model does (scripts/models/tabular.py saves its predictions in
heldout.json); BYTES tensors reach an ONNX string graph and bad text is a 400
naming the input; a broken model file fails that model's load, naming the
file, while the others serve; a bare config is completed from the ONNX model;
a config that contradicts the model names the tensor and both shapes."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import requests
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from redis_e2e import wait_live_workers
from surge_e2e import HTTP_TIMEOUT_S, json_tensor, post_infer, wait_until, write_model

IRIS_MODELS = ("iris_onnx", "iris_xgboost")


def _model_dir(demo_repository: Path, name: str) -> Path:
    path = demo_repository / name
    if not path.is_dir():
        pytest.skip(f"{path} is absent: run scripts/make_models.py")
    return path


def _heldout(demo_repository: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    rows = json.loads((_model_dir(demo_repository, name) / "heldout.json").read_text())
    return np.asarray(rows["features"], dtype=np.float32), np.asarray(rows["predicted"], dtype=np.int64)


def _classes(probabilities: np.ndarray) -> np.ndarray:
    return np.asarray(probabilities).argmax(axis=1)


@pytest.mark.parametrize("model", IRIS_MODELS)
def test_http_batch_classifies_every_heldout_flower_as_python_does(surge, demo_repository, model):
    features, predicted = _heldout(demo_repository, model)
    with httpclient.InferenceServerClient(surge.http_address) as client:
        tensor = httpclient.InferInput("features", list(features.shape), "FP32")
        tensor.set_data_from_numpy(features, binary_data=True)
        result = client.infer(model, [tensor])
    probabilities = result.as_numpy("probabilities")
    assert probabilities.shape == (len(features), 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert _classes(probabilities).tolist() == predicted.tolist()
    if model == "iris_onnx":
        assert result.as_numpy("label").reshape(-1).tolist() == predicted.tolist()


@pytest.mark.parametrize("model", IRIS_MODELS)
def test_grpc_one_flower_per_request_classifies_as_python_does(surge, demo_repository, model):
    features, predicted = _heldout(demo_repository, model)

    def classify(row: np.ndarray) -> int:
        tensor = grpcclient.InferInput("features", [1, 4], "FP32")
        tensor.set_data_from_numpy(row.reshape(1, 4))
        with grpcclient.InferenceServerClient(surge.grpc_url) as client:
            return int(_classes(client.infer(model, [tensor]).as_numpy("probabilities"))[0])

    # Concurrent single-row requests: the dynamic batcher joins them, and each
    # still gets its own row's class.
    with ThreadPoolExecutor(max_workers=8) as pool:
        classes = list(pool.map(classify, features))
    assert classes == predicted.tolist()


def test_xgboost_takes_nan_as_missing(surge, demo_repository):
    _model_dir(demo_repository, "iris_xgboost")
    row = np.array([[np.nan, np.nan, 1.4, 0.2]], dtype=np.float32)
    with httpclient.InferenceServerClient(surge.http_address) as client:
        tensor = httpclient.InferInput("features", [1, 4], "FP32")
        tensor.set_data_from_numpy(row, binary_data=True)
        probabilities = client.infer("iris_xgboost", [tensor]).as_numpy("probabilities")
    # Petal measurements of a setosa decide it; the missing sepal ones follow the default branches.
    assert np.isfinite(probabilities).all()
    assert int(_classes(probabilities)[0]) == 0


def test_onnx_string_tensors_in_and_out(surge, demo_repository):
    _model_dir(demo_repository, "onnx_strings")
    words = np.array([["setosa"], ["rose"], ["virginica"], ["naïve ünïcode"]], dtype=object)
    with httpclient.InferenceServerClient(surge.http_address) as client:
        tensor = httpclient.InferInput("text", list(words.shape), "BYTES")
        tensor.set_data_from_numpy(words, binary_data=True)
        result = client.infer("onnx_strings", [tensor])
    assert [e.decode() for e in result.as_numpy("echo").reshape(-1)] == [w[0] for w in words]
    assert result.as_numpy("species_id").reshape(-1).tolist() == [0, -1, 2, -1]

    with grpcclient.InferenceServerClient(surge.grpc_url) as client:
        tensor = grpcclient.InferInput("text", [1, 1], "BYTES")
        tensor.set_data_from_numpy(np.array([["versicolor"]], dtype=object))
        assert client.infer("onnx_strings", [tensor]).as_numpy("species_id").tolist() == [[1]]


@pytest.mark.parametrize("text, problem", [(b"\xff\xfe", "not valid UTF-8"), (b"", "is empty")])
def test_bad_text_is_a_400_naming_the_input(surge, demo_repository, text, problem):
    _model_dir(demo_repository, "onnx_strings")
    with httpclient.InferenceServerClient(surge.http_address) as client:
        tensor = httpclient.InferInput("text", [1, 1], "BYTES")
        tensor.set_data_from_numpy(np.array([[text]], dtype=object), binary_data=True)
        with pytest.raises(InferenceServerException) as raised:
            client.infer("onnx_strings", [tensor])
    assert raised.value.status() == "400"
    assert "'text'" in raised.value.message() and problem in raised.value.message()


def _not_ready_reason(server, model: str) -> str:
    """The load error a client sees for a model that failed to load."""
    answer = post_infer(server, model, {"inputs": [json_tensor("features", [[1.0, 2.0, 3.0, 4.0]])]})
    assert answer.status_code != 200
    return answer.text


def _copy_model(demo_repository: Path, repository: Path, name: str, as_name: str | None = None) -> Path:
    target = repository / (as_name or name)
    shutil.copytree(_model_dir(demo_repository, name), target)
    if as_name:
        config = target / "config.pbtxt"
        config.write_text(config.read_text().replace(f'name: "{name}"', f'name: "{as_name}"'))
    return target


def test_malformed_model_files_fail_their_load_naming_the_file(surge_factory, demo_repository, tmp_path):
    repository = tmp_path / "repository"
    for name in IRIS_MODELS:
        _copy_model(demo_repository, repository, name)
    broken_onnx = _copy_model(demo_repository, repository, "iris_onnx", "broken_onnx") / "1" / "model.onnx"
    broken_onnx.write_bytes(b"this is not a protobuf \x00\x01\x02")
    broken_json = _copy_model(demo_repository, repository, "iris_xgboost", "broken_xgboost") / "1" / "model.json"
    broken_json.write_text('{"learner": {"truncated": ')
    server = surge_factory(repository)

    for name, file in (("broken_onnx", broken_onnx), ("broken_xgboost", broken_json)):
        assert requests.get(server.url(f"/v2/models/{name}/ready"), timeout=HTTP_TIMEOUT_S).status_code != 200
        reason = _not_ready_reason(server, name)
        assert str(file) in reason, reason
        assert str(file) in server.stderr_text() + server.stdout_text()
    with httpclient.InferenceServerClient(server.http_address) as client:
        for name in IRIS_MODELS:
            features, predicted = _heldout(demo_repository, name)
            tensor = httpclient.InferInput("features", list(features.shape), "FP32")
            tensor.set_data_from_numpy(features)
            assert _classes(client.infer(name, [tensor]).as_numpy("probabilities")).tolist() == predicted.tolist()


def test_bare_config_is_completed_from_the_onnx_model(surge_factory, demo_repository, tmp_path):
    repository = tmp_path / "repository"
    model_dir = write_model(repository, "iris_auto", 'name: "iris_auto"\nbackend: "onnxruntime"\n')
    shutil.copy(_model_dir(demo_repository, "iris_onnx") / "1" / "model.onnx", model_dir / "1" / "model.onnx")
    server = surge_factory(repository)

    metadata = requests.get(server.url("/v2/models/iris_auto"), timeout=HTTP_TIMEOUT_S).json()
    assert metadata["inputs"] == [{"name": "features", "datatype": "FP32", "shape": [-1, 4]}]
    assert {o["name"]: o["shape"] for o in metadata["outputs"]} == {"label": [-1, 1], "probabilities": [-1, 3]}
    features, predicted = _heldout(demo_repository, "iris_onnx")
    with httpclient.InferenceServerClient(server.http_address) as client:
        tensor = httpclient.InferInput("features", list(features.shape), "FP32")
        tensor.set_data_from_numpy(features)
        assert client.infer("iris_auto", [tensor]).as_numpy("label").reshape(-1).tolist() == predicted.tolist()


def test_config_that_contradicts_the_model_names_tensor_and_shapes(surge_factory, demo_repository, tmp_path):
    repository = tmp_path / "repository"
    onnx_dir = _copy_model(demo_repository, repository, "iris_onnx")
    config = onnx_dir / "config.pbtxt"
    config.write_text(config.read_text().replace("dims: [ 4 ]", "dims: [ 5 ]"))
    xgb_dir = _copy_model(demo_repository, repository, "iris_xgboost")
    config = xgb_dir / "config.pbtxt"
    config.write_text(config.read_text().replace("dims: [ 3 ]", "dims: [ 2 ]"))
    server = surge_factory(repository)

    onnx_reason = wait_until(lambda: _not_ready_reason(server, "iris_onnx"), "iris_onnx load error")
    assert "'features'" in onnx_reason and "[-1, 5]" in onnx_reason and "[-1, 4]" in onnx_reason, onnx_reason
    xgb_reason = _not_ready_reason(server, "iris_xgboost")
    assert "'probabilities'" in xgb_reason and "[2]" in xgb_reason and "[3]" in xgb_reason, xgb_reason


def test_worker_processes_serve_the_same_models_through_the_same_backends(surge_factory, demo_repository, tmp_path):
    """With worker_pool, `surge worker` processes (started by `surge serve`
    with its own redis-server) load the backends and answer through Redis
    Streams: the classes are the same."""
    repository = tmp_path / "repository"
    for name in IRIS_MODELS:
        config = _copy_model(demo_repository, repository, name) / "config.pbtxt"
        config.write_text(config.read_text() + "worker_pool {\n  local_workers: 1\n  heartbeat_ms: 100\n}\n")
    server = surge_factory(repository)
    for name in IRIS_MODELS:
        # The gateway's own count, not the worker's log line: requests fail fast until it sees one live.
        wait_live_workers(server, name, 1, timeout_s=30)
    with httpclient.InferenceServerClient(server.http_address) as client:
        for name in IRIS_MODELS:
            features, predicted = _heldout(demo_repository, name)
            tensor = httpclient.InferInput("features", list(features.shape), "FP32")
            tensor.set_data_from_numpy(features)
            assert _classes(client.infer(name, [tensor]).as_numpy("probabilities")).tolist() == predicted.tolist()


def test_a_python_worker_with_onnx_runtime_classifies_as_the_backend_does(surge_factory, demo_repository, tmp_path):
    """The Python SDK's worker serving the same model.onnx (clients/python/examples/onnx_worker.py)
    behind the gateway: the same classes for every held-out flower."""
    pytest.importorskip("onnxruntime", reason="onnxruntime is not in this Python environment")
    from python_sdk_support import WorkerProcess, worker_command
    from redis_e2e import RedisServer, environment_has_redis

    if not environment_has_redis():
        pytest.skip("redis-server is not installed")
    model_file = _model_dir(demo_repository, "iris_onnx") / "1" / "model.onnx"
    redis_server = RedisServer(tmp_path / "redis")
    worker = None
    try:
        repository = tmp_path / "repository"
        config = _copy_model(demo_repository, repository, "iris_onnx", "iris_onnx_py") / "config.pbtxt"
        config.write_text(config.read_text() + "worker_pool {\n  heartbeat_ms: 100\n  claim_idle_ms: 1000\n}\n")
        server = surge_factory(repository, "--redis", redis_server.url)
        command = worker_command(redis_server.url, "iris_onnx_py", "py0", "onnx_worker:factory",
                                 {"model_path": str(model_file)}, ["--max-batch", "64"])
        (tmp_path / "logs").mkdir()
        worker = WorkerProcess(command, "py0", "iris_onnx_py", tmp_path / "logs")
        worker.wait_joined(redis_server.client())
        wait_live_workers(server, "iris_onnx_py", 1)

        features, predicted = _heldout(demo_repository, "iris_onnx")
        with httpclient.InferenceServerClient(server.http_address) as client:
            tensor = httpclient.InferInput("features", list(features.shape), "FP32")
            tensor.set_data_from_numpy(features, binary_data=True)
            result = client.infer("iris_onnx_py", [tensor])
        assert _classes(result.as_numpy("probabilities")).tolist() == predicted.tolist()
        assert result.as_numpy("label").reshape(-1).tolist() == predicted.tolist()
    finally:
        if worker is not None:
            assert worker.terminate() == 0, worker.describe()
        redis_server.stop()
