"""Model control, explicit mode: tritonclient (HTTP and gRPC) loads, reloads
with a config override and unloads models at run time; a model that fails to
load says why and leaves what served serving."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

FLOWER = np.array([[5.1, 3.5, 1.4, 0.2]], dtype=np.float32)  # an iris setosa


@pytest.fixture
def repository(demo_repository: Path, tmp_path: Path) -> Path:
    """Two tabular demo models in a repository of the test's own, which it may break."""
    root = tmp_path / "repository"
    for name in ("iris_xgboost", "iris_onnx"):
        shutil.copytree(demo_repository / name, root / name)
    return root


def classify(client, model: str) -> np.ndarray:
    if isinstance(client, httpclient.InferenceServerClient):
        tensor = httpclient.InferInput("features", list(FLOWER.shape), "FP32")
    else:
        tensor = grpcclient.InferInput("features", list(FLOWER.shape), "FP32")
    tensor.set_data_from_numpy(FLOWER)
    return client.infer(model, [tensor]).as_numpy("probabilities")


def index_of(client) -> dict[str, dict]:
    return {entry["name"]: entry for entry in client.get_model_repository_index()}


def test_explicit_mode_loads_only_what_it_is_told_then_loads_and_unloads_on_request(surge_factory, repository):
    server = surge_factory(repository, "--model-control-mode", "explicit", "--load-model", "iris_xgboost")
    client = server.client()
    assert client.is_model_ready("iris_xgboost")
    assert not client.is_model_ready("iris_onnx")

    client.load_model("iris_onnx")
    assert client.is_model_ready("iris_onnx")
    assert int(np.argmax(classify(client, "iris_onnx"))) == 0

    client.unload_model("iris_xgboost")
    assert not client.is_model_ready("iris_xgboost")
    with pytest.raises(InferenceServerException):
        classify(client, "iris_xgboost")
    assert int(np.argmax(classify(client, "iris_onnx"))) == 0  # the other keeps serving

    grpc = grpcclient.InferenceServerClient(server.grpc_url)
    grpc.load_model("iris_xgboost")
    assert grpc.is_model_ready("iris_xgboost")
    assert int(np.argmax(classify(grpc, "iris_xgboost"))) == 0
    grpc.unload_model("iris_onnx")
    assert not grpc.is_model_ready("iris_onnx")


def test_a_config_override_replaces_config_pbtxt(surge_factory, repository):
    server = surge_factory(repository, "--model-control-mode", "explicit", "--load-model", "*")
    client = server.client()
    assert client.get_model_config("iris_xgboost")["max_batch_size"] == 64
    config = client.get_model_config("iris_xgboost")
    config["max_batch_size"] = 8
    client.load_model("iris_xgboost", config=json.dumps(config))
    assert client.get_model_config("iris_xgboost")["max_batch_size"] == 8
    assert int(np.argmax(classify(client, "iris_xgboost"))) == 0

    with pytest.raises(InferenceServerException, match="max_batch_sizee|unknown|Cannot find field"):
        client.load_model("iris_xgboost", config=json.dumps({"max_batch_sizee": 8}))
    assert client.get_model_config("iris_xgboost")["max_batch_size"] == 8  # unchanged, still serving


def test_a_failed_reload_leaves_the_old_version_serving_and_says_why(surge_factory, repository):
    server = surge_factory(repository, "--model-control-mode", "explicit", "--load-model", "iris_xgboost")
    client = server.client()
    (repository / "iris_xgboost" / "1" / "model.json").write_text("{ not xgboost")
    with pytest.raises(InferenceServerException) as refused:
        client.load_model("iris_xgboost")
    assert "iris_xgboost" in str(refused.value)
    assert client.is_model_ready("iris_xgboost")
    assert int(np.argmax(classify(client, "iris_xgboost"))) == 0

    with pytest.raises(InferenceServerException, match="not in the model repository"):
        client.load_model("no_such_model")
    with pytest.raises(InferenceServerException, match="unknown model"):
        client.unload_model("no_such_model")
    assert index_of(client)["iris_xgboost"]["state"] == "READY"


def test_without_explicit_mode_load_and_unload_are_refused(surge):
    client = surge.client()
    with pytest.raises(InferenceServerException, match="needs --model-control-mode explicit"):
        client.load_model("iris_xgboost")
    with pytest.raises(InferenceServerException, match="needs --model-control-mode explicit"):
        grpcclient.InferenceServerClient(surge.grpc_url).unload_model("iris_xgboost")
    assert client.is_model_ready("iris_xgboost")


def test_poll_mode_follows_new_changed_broken_and_deleted_model_directories(surge_factory, repository, demo_repository):
    from surge_e2e import wait_until

    shutil.rmtree(repository / "iris_onnx")
    server = surge_factory(repository, "--model-control-mode", "poll", "--repository-poll-secs", "1")
    client = server.client()
    assert client.is_model_ready("iris_xgboost")
    assert not client.is_model_ready("iris_onnx")

    # A new model directory is loaded.
    shutil.copytree(demo_repository / "iris_onnx", repository / "iris_onnx")
    wait_until(lambda: client.is_model_ready("iris_onnx"), "the new model directory to be loaded", 30)
    assert int(np.argmax(classify(client, "iris_onnx"))) == 0

    # A broken config leaves the model serving, with the reason in the index.
    config = repository / "iris_xgboost" / "config.pbtxt"
    good = config.read_text()
    config.write_text(good.replace("max_batch_size: 64", "max_batch_size: -3"))
    wait_until(lambda: "reason" in index_of(client)["iris_xgboost"], "the failed reload to show in the index", 30)
    entry = index_of(client)["iris_xgboost"]
    assert entry["state"] == "READY" and "max_batch_size" in entry["reason"], entry
    assert int(np.argmax(classify(client, "iris_xgboost"))) == 0

    # A fixed config is noticed too (the failure did not stop the polling).
    config.write_text(good.replace("max_batch_size: 64", "max_batch_size: 16"))
    wait_until(lambda: client.get_model_config("iris_xgboost")["max_batch_size"] == 16, "the fixed config", 30)
    assert "reason" not in index_of(client)["iris_xgboost"]

    # A deleted directory is unloaded; the rest serve.
    shutil.rmtree(repository / "iris_onnx")
    wait_until(lambda: not client.is_model_ready("iris_onnx"), "the deleted model to be unloaded", 30)
    assert int(np.argmax(classify(client, "iris_xgboost"))) == 0


SLOW_IDENTITY = """
name: "slow_identity"
backend: "identity"
max_batch_size: 4
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 4 ] } ]
parameters { key: "execute_delay_us" value { string_value: "200000" } }
model_warmup [ {
  name: "zeros" batch_size: 2 count: 10
  inputs { key: "INPUT0" value { data_type: TYPE_FP32 dims: [ 4 ] zero_data: true } }
} ]
"""


def test_warm_up_runs_before_the_model_is_ready_and_gets_traffic(surge_factory, repository):
    import threading
    import time

    (repository / "slow_identity" / "1").mkdir(parents=True)
    (repository / "slow_identity" / "config.pbtxt").write_text(SLOW_IDENTITY)
    server = surge_factory(repository, "--model-control-mode", "explicit", "--load-model", "iris_xgboost")
    client = server.client()
    loaded = threading.Event()
    started = time.monotonic()
    loader = threading.Thread(target=lambda: (server.client().load_model("slow_identity"), loaded.set()))
    loader.start()
    time.sleep(0.5)
    # Ten warm-up requests of 200 ms each: not ready, and no traffic, meanwhile.
    assert not loaded.is_set()
    assert not client.is_model_ready("slow_identity")
    tensor = httpclient.InferInput("INPUT0", [1, 4], "FP32")
    tensor.set_data_from_numpy(np.ones((1, 4), dtype=np.float32))
    with pytest.raises(InferenceServerException):
        client.infer("slow_identity", [tensor])
    loader.join(timeout=30)
    assert loaded.is_set()
    assert time.monotonic() - started >= 2.0, "the warm-up did not run its ten requests"
    assert client.is_model_ready("slow_identity")
    np.testing.assert_array_equal(client.infer("slow_identity", [tensor]).as_numpy("OUTPUT0"), np.ones((1, 4)))
    # The warm-up's rows are counted in the model's statistics as any request's.
    stats = client.get_inference_statistics("slow_identity")["model_stats"][0]
    assert int(stats["inference_count"]) >= 2 * 10


def test_a_warm_up_that_fails_fails_the_load_naming_it(surge_factory, repository):
    (repository / "slow_identity" / "1").mkdir(parents=True)
    (repository / "slow_identity" / "config.pbtxt").write_text(
        SLOW_IDENTITY.replace("zero_data: true", 'input_data_file: "missing.bin"').replace("200000", "0"))
    server = surge_factory(repository, "--model-control-mode", "explicit", "--load-model", "iris_xgboost")
    client = server.client()
    with pytest.raises(InferenceServerException, match=r"model_warmup\[1\] 'zeros'.*missing.bin"):
        client.load_model("slow_identity")
    assert not client.is_model_ready("slow_identity")
    assert client.is_model_ready("iris_xgboost")
