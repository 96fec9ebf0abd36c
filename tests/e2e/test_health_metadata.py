"""Health, server metadata and model metadata endpoints on the demo repository."""

import pytest
import requests

from surge_e2e import DEMO_MODELS, HTTP_TIMEOUT_S

# name -> (inputs, outputs), each [(tensor, datatype, shape)]; -1 is the batch dimension.
EXACT_METADATA = {
    "iris": ([("features", "FP32", [-1, 4])], [("probabilities", "FP32", [-1, 3])]),
    "mlp": ([("input", "FP32", [-1, 64])], [("output", "FP32", [-1, 10])]),
    "mlp_nobatch": ([("input", "FP32", [1, 64])], [("output", "FP32", [1, 10])]),
    "identity_fp32": ([("INPUT0", "FP32", [-1, -1])], [("OUTPUT0", "FP32", [-1, -1])]),
}

# Models whose batching the spec leaves open: only the per-item dims are fixed.
TRAILING_METADATA = {
    "digits": ([("pixels", "FP32", [64])], [("probabilities", "FP32", [10])]),
    "resnet18": ([("image", "FP32", [3, 224, 224])], [("logits", "FP32", [1000])]),
}


def _tensors(metadata: dict, key: str) -> list[tuple[str, str, list[int]]]:
    return [(t["name"], t["datatype"], [int(d) for d in t["shape"]]) for t in metadata[key]]


def test_server_is_live_and_ready(surge):
    with surge.client() as client:
        assert client.is_server_live()
        assert client.is_server_ready()
    for path in ("/v2/health/live", "/v2/health/ready"):
        response = requests.get(surge.url(path), timeout=HTTP_TIMEOUT_S)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"


def test_server_metadata_names_the_server(surge):
    with surge.client() as client:
        metadata = client.get_server_metadata()
    assert isinstance(metadata.get("name"), str) and metadata["name"]
    assert isinstance(metadata.get("version"), str) and metadata["version"]
    assert isinstance(metadata.get("extensions", []), list)


@pytest.mark.parametrize("model", DEMO_MODELS)
def test_demo_model_is_ready(surge, model):
    with surge.client() as client:
        assert client.is_model_ready(model)
    response = requests.get(surge.url(f"/v2/models/{model}/ready"), timeout=HTTP_TIMEOUT_S)
    assert response.status_code == 200


@pytest.mark.parametrize("model", sorted(EXACT_METADATA))
def test_model_metadata_matches_config(surge, model):
    with surge.client() as client:
        metadata = client.get_model_metadata(model)
    inputs, outputs = EXACT_METADATA[model]
    assert metadata["name"] == model
    assert _tensors(metadata, "inputs") == inputs
    assert _tensors(metadata, "outputs") == outputs
    assert metadata["versions"] and all(isinstance(v, str) for v in metadata["versions"])


@pytest.mark.parametrize("model", sorted(TRAILING_METADATA))
def test_model_metadata_per_item_dims(surge, model):
    with surge.client() as client:
        metadata = client.get_model_metadata(model)
    assert metadata["name"] == model
    for key, expected in zip(("inputs", "outputs"), TRAILING_METADATA[model]):
        actual = _tensors(metadata, key)
        assert [(n, t) for n, t, _ in actual] == [(n, t) for n, t, _ in expected]
        for (_, _, shape), (_, _, dims) in zip(actual, expected):
            assert shape[-len(dims) :] == dims, f"{key} shape {shape} does not end with {dims}"
            assert len(shape) in (len(dims), len(dims) + 1)
            if len(shape) == len(dims) + 1:
                assert shape[0] in (-1, 1), f"leading dim of {shape} is neither a batch (-1) nor 1"


def test_versioned_metadata_and_readiness(surge):
    with surge.client() as client:
        version = client.get_model_metadata("iris")["versions"][0]
        assert client.is_model_ready("iris", version)
        versioned = client.get_model_metadata("iris", version)
    assert versioned["name"] == "iris"
    assert version in versioned.get("versions", [version])
    response = requests.get(surge.url(f"/v2/models/iris/versions/{version}/ready"), timeout=HTTP_TIMEOUT_S)
    assert response.status_code == 200


def test_metadata_answers_are_json(surge):
    for path in ("/v2", "/v2/models/iris"):
        response = requests.get(surge.url(path), timeout=HTTP_TIMEOUT_S)
        assert response.status_code == 200
        assert response.headers.get("Content-Type", "").startswith("application/json"), response.headers
        assert isinstance(response.json(), dict)
