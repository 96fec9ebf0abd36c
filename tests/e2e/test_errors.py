"""Malformed and mismatched requests get 400, unknown models and versions 404,
each with a JSON {"error": ...} that says what was wrong."""

import json

import numpy as np
import pytest
import requests
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from surge_e2e import HTTP_TIMEOUT_S, error_message, json_tensor, post_infer


def _binary_input_header(binary_data_size: int) -> dict:
    """An infer header whose INPUT0 [1, 4] FP32 claims `binary_data_size` bytes of the binary section."""
    parameters = {"binary_data_size": binary_data_size}
    return {"inputs": [{"name": "INPUT0", "shape": [1, 4], "datatype": "FP32", "parameters": parameters}]}


def _binary_request(header: dict, payload: bytes, header_length: int | None = None):
    encoded = json.dumps(header).encode()
    length = len(encoded) if header_length is None else header_length
    return encoded + payload, {"Inference-Header-Content-Length": str(length)}


FOUR_FLOATS = np.arange(4, dtype=np.float32).tobytes()

# id -> (model, body, extra headers, words of which the error must contain at least one)
BAD_REQUESTS = {
    "unknown_input": (
        "identity_fp32",
        {"inputs": [json_tensor("INPUT0", [[1.0]]), json_tensor("BOGUS", [[1.0]])]},
        None,
        ["BOGUS"],
    ),
    "only_unknown_input": ("iris", {"inputs": [json_tensor("petals", [[1.0, 2.0, 3.0, 4.0]])]}, None, ["petals"]),
    "missing_input": ("iris", {"inputs": []}, None, ["features"]),
    "wrong_datatype": ("iris", {"inputs": [json_tensor("features", [[1, 2, 3, 4]], "INT32")]}, None, ["features"]),
    "wrong_shape": ("iris", {"inputs": [json_tensor("features", [[1.0, 2.0, 3.0, 4.0, 5.0]])]}, None, ["features"]),
    "missing_batch_dim": ("iris", {"inputs": [json_tensor("features", [1.0, 2.0, 3.0, 4.0])]}, None, ["features"]),
    "batch_too_large": (
        "iris",
        {"inputs": [json_tensor("features", np.ones((65, 4), dtype=np.float32))]},
        None,
        ["features", "batch"],
    ),
    "element_count_mismatch": (
        "identity_fp32",
        {"inputs": [{"name": "INPUT0", "shape": [1, 4], "datatype": "FP32", "data": [1.0, 2.0, 3.0]}]},
        None,
        ["INPUT0"],
    ),
    "data_not_numbers": (
        "identity_fp32",
        {"inputs": [{"name": "INPUT0", "shape": [1, 2], "datatype": "FP32", "data": ["a", "b"]}]},
        None,
        ["INPUT0"],
    ),
    "no_data": (
        "identity_fp32",
        {"inputs": [{"name": "INPUT0", "shape": [1, 2], "datatype": "FP32"}]},
        None,
        ["INPUT0"],
    ),
    "malformed_json": (
        "identity_fp32",
        b'{"inputs": [{"name": "INPUT0", ',
        {"Content-Type": "application/json"},
        ["json", "parse", "malformed"],
    ),
    "no_inputs_field": ("identity_fp32", {"outputs": []}, None, ["inputs"]),
    "binary_section_short": (
        "identity_fp32",
        *_binary_request(_binary_input_header(16), FOUR_FLOATS[:8]),
        ["INPUT0", "binary"],
    ),
    "binary_size_disagrees_with_shape": (
        "identity_fp32",
        *_binary_request(_binary_input_header(12), FOUR_FLOATS[:12]),
        ["INPUT0"],
    ),
    "binary_trailing_bytes": (
        "identity_fp32",
        *_binary_request(_binary_input_header(16), FOUR_FLOATS + b"\0" * 8),
        ["INPUT0", "binary", "byte"],
    ),
    "header_length_beyond_body": (
        "identity_fp32",
        *_binary_request(_binary_input_header(16), FOUR_FLOATS, header_length=100_000),
        ["Inference-Header-Content-Length", "header", "length"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_bad_request_is_400_naming_the_problem(surge, case):
    model, body, headers, words = BAD_REQUESTS[case]
    response = post_infer(surge, model, body, headers=headers)
    assert response.status_code == 400, f"{case}: {response.status_code} {response.text[:500]}"
    message = error_message(response)
    assert any(w.lower() in message.lower() for w in words), f"{case}: {message!r} mentions none of {words}"


def test_bad_request_through_tritonclient(surge):
    features = httpclient.InferInput("features", [1, 4], "INT32")
    features.set_data_from_numpy(np.array([[1, 2, 3, 4]], dtype=np.int32))
    with surge.client() as client, pytest.raises(InferenceServerException) as raised:
        client.infer("iris", [features])
    assert raised.value.status() == "400"
    assert "features" in raised.value.message()


def test_server_keeps_serving_after_bad_requests(surge):
    for model, body, headers, _ in BAD_REQUESTS.values():
        post_infer(surge, model, body, headers=headers)
    response = post_infer(surge, "identity_fp32", {"inputs": [json_tensor("INPUT0", [[2.0, 3.0]])]})
    assert response.status_code == 200


def test_unknown_model_is_404(surge):
    response = post_infer(surge, "no_such_model", {"inputs": [json_tensor("INPUT0", [[1.0]])]})
    assert response.status_code == 404
    assert "no_such_model" in error_message(response)
    for path in ("/v2/models/no_such_model", "/v2/models/no_such_model/ready"):
        response = requests.get(surge.url(path), timeout=HTTP_TIMEOUT_S)
        assert response.status_code == 404, f"{path}: {response.status_code}"
    data = httpclient.InferInput("INPUT0", [1, 1], "FP32")
    data.set_data_from_numpy(np.ones((1, 1), dtype=np.float32))
    with surge.client() as client, pytest.raises(InferenceServerException) as raised:
        client.infer("no_such_model", [data])
    assert raised.value.status() == "404"


def test_unknown_version_is_404(surge):
    body = {"inputs": [json_tensor("features", [[5.1, 3.5, 1.4, 0.2]])]}
    response = post_infer(surge, "iris", body, version="987")
    assert response.status_code == 404
    assert "987" in error_message(response)
    for path in ("/v2/models/iris/versions/987", "/v2/models/iris/versions/987/ready"):
        response = requests.get(surge.url(path), timeout=HTTP_TIMEOUT_S)
        assert response.status_code == 404, f"{path}: {response.status_code}"

