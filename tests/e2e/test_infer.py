"""Inference on the demo models: JSON and binary tensors, correctness, versions."""

import json

import numpy as np
import pytest
import requests
import tritonclient.http as httpclient

from surge_e2e import HTTP_TIMEOUT_S, json_infer_body, output_array, post_infer

# Rows of Fisher's iris data set whose species any reasonable classifier gets right.
IRIS_ROWS = [
    ([5.1, 3.5, 1.4, 0.2], 0),
    ([4.9, 3.0, 1.4, 0.2], 0),
    ([5.0, 3.6, 1.4, 0.2], 0),
    ([7.0, 3.2, 4.7, 1.4], 1),
    ([5.7, 2.8, 4.1, 1.3], 1),
    ([5.6, 2.9, 3.6, 1.3], 1),
    ([6.3, 3.3, 6.0, 2.5], 2),
    ([7.7, 3.0, 6.1, 2.3], 2),
    ([6.5, 3.0, 5.8, 2.2], 2),
]


def _fp32_input(name, array, binary_data):
    tensor = httpclient.InferInput(name, list(array.shape), "FP32")
    tensor.set_data_from_numpy(array, binary_data=binary_data)
    return tensor


@pytest.mark.parametrize("binary_out", [False, True], ids=["json_out", "binary_out"])
@pytest.mark.parametrize("binary_in", [False, True], ids=["json_in", "binary_in"])
def test_identity_round_trip(surge, binary_in, binary_out):
    rng = np.random.default_rng(7)
    data = rng.standard_normal((3, 17)).astype(np.float32)
    data[0, :3] = [0.0, -0.0, 1e-30]  # values whose text form is easy to get wrong
    with surge.client() as client:
        result = client.infer(
            "identity_fp32",
            [_fp32_input("INPUT0", data, binary_in)],
            outputs=[httpclient.InferRequestedOutput("OUTPUT0", binary_data=binary_out)],
        )
    out = result.as_numpy("OUTPUT0")
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, data)
    response = result.get_response()
    assert response["model_name"] == "identity_fp32"
    assert [o["name"] for o in response["outputs"]] == ["OUTPUT0"]
    assert [int(d) for d in response["outputs"][0]["shape"]] == [3, 17]


def test_identity_all_outputs_when_none_requested(surge):
    data = np.arange(8, dtype=np.float32).reshape(2, 4)
    with surge.client() as client:
        result = client.infer("identity_fp32", [_fp32_input("INPUT0", data, True)])
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), data)


def test_identity_raw_json(surge):
    values = [[1.5, -2.25, 3.0], [4.0, 5.125, -6.0]]
    response = post_infer(surge, "identity_fp32", {"id": "raw-json-1", **json_infer_body(values)})
    assert response.status_code == 200, response.text
    assert response.headers.get("Content-Type", "").startswith("application/json")
    body = response.json()
    assert body["model_name"] == "identity_fp32"
    assert body.get("id") == "raw-json-1"
    (output,) = body["outputs"]
    assert output["name"] == "OUTPUT0" and output["datatype"] == "FP32" and output["shape"] == [2, 3]
    assert output["data"] == [1.5, -2.25, 3.0, 4.0, 5.125, -6.0]


def test_identity_raw_binary(surge):
    """The binary tensor extension spoken by hand: JSON header, then raw bytes, both ways."""
    data = np.linspace(-1, 1, 10, dtype=np.float32).reshape(2, 5)
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "INPUT0",
                    "shape": [2, 5],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": data.nbytes},
                }
            ],
            "outputs": [{"name": "OUTPUT0", "parameters": {"binary_data": True}}],
        }
    ).encode()
    response = post_infer(
        surge,
        "identity_fp32",
        header + data.tobytes(),
        headers={"Inference-Header-Content-Length": str(len(header))},
    )
    assert response.status_code == 200, response.text
    header_length = int(response.headers["Inference-Header-Content-Length"])
    response_header = json.loads(response.content[:header_length])
    (output,) = response_header["outputs"]
    assert output["name"] == "OUTPUT0" and output["shape"] == [2, 5]
    assert output["parameters"]["binary_data_size"] == data.nbytes
    payload = response.content[header_length:]
    assert len(payload) == data.nbytes
    np.testing.assert_array_equal(np.frombuffer(payload, dtype="<f4").reshape(2, 5), data)


@pytest.mark.parametrize("row,species", IRIS_ROWS)
def test_iris_classifies_known_rows(surge, row, species):
    features = np.asarray([row], dtype=np.float32)
    with surge.client() as client:
        result = client.infer("iris", [_fp32_input("features", features, True)])
    probabilities = result.as_numpy("probabilities")
    assert probabilities.shape == (1, 3)
    assert int(np.argmax(probabilities[0])) == species, probabilities
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    assert (probabilities >= 0).all()


@pytest.mark.parametrize("binary_data", [False, True], ids=["json", "binary"])
def test_iris_batch(surge, binary_data):
    features = np.asarray([row for row, _ in IRIS_ROWS], dtype=np.float32)
    with surge.client() as client:
        result = client.infer(
            "iris",
            [_fp32_input("features", features, binary_data)],
            outputs=[httpclient.InferRequestedOutput("probabilities", binary_data=binary_data)],
        )
    probabilities = result.as_numpy("probabilities")
    assert probabilities.shape == (len(IRIS_ROWS), 3)
    assert np.argmax(probabilities, axis=1).tolist() == [species for _, species in IRIS_ROWS]
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)


def test_iris_by_version(surge):
    features = np.asarray([IRIS_ROWS[6][0]], dtype=np.float32)
    with surge.client() as client:
        version = client.get_model_metadata("iris")["versions"][0]
        result = client.infer("iris", [_fp32_input("features", features, True)], model_version=version)
    assert int(np.argmax(result.as_numpy("probabilities")[0])) == 2
    raw = post_infer(surge, "iris", json_infer_body(features, name="features"), version=version)
    assert int(np.argmax(output_array(raw, "probabilities")[0])) == 2


@pytest.mark.parametrize("model", ["digits", "mlp", "mlp_nobatch", "resnet18"])
def test_demo_model_answers_with_its_declared_outputs(surge, model):
    """One request shaped from the model's own metadata; outputs match the metadata."""
    with surge.client() as client:
        metadata = client.get_model_metadata(model)
        rng = np.random.default_rng(3)
        inputs = []
        for spec in metadata["inputs"]:
            shape = [1 if int(d) == -1 else int(d) for d in spec["shape"]]
            inputs.append(_fp32_input(spec["name"], rng.random(shape, dtype=np.float32), True))
        result = client.infer(model, inputs)
    for spec in metadata["outputs"]:
        out = result.as_numpy(spec["name"])
        assert out is not None, f"{model} did not return {spec['name']}"
        expected = [1 if int(d) == -1 else int(d) for d in spec["shape"]]
        assert list(out.shape) == expected
        assert np.isfinite(out).all()


def test_mlp_batch_matches_single_rows(surge):
    rows = np.random.default_rng(11).standard_normal((5, 64)).astype(np.float32)
    with surge.client() as client:
        batched = client.infer("mlp", [_fp32_input("input", rows, True)]).as_numpy("output")
        singles = [client.infer("mlp", [_fp32_input("input", row[None], True)]).as_numpy("output") for row in rows]
    assert batched.shape == (5, 10)
    np.testing.assert_allclose(batched, np.concatenate(singles), rtol=1e-5, atol=1e-5)


def test_mlp_nobatch_takes_one_row(surge):
    row = np.random.default_rng(5).standard_normal((1, 64)).astype(np.float32)
    response = post_infer(surge, "mlp_nobatch", json_infer_body(row, name="input"))
    out = output_array(response, "output")
    assert out.shape == (1, 10)
    two_rows = post_infer(surge, "mlp_nobatch", json_infer_body(np.vstack([row, row]), name="input"))
    assert two_rows.status_code == 400, two_rows.text


def test_keep_alive_connection_serves_many_requests(surge):
    with requests.Session() as session:
        for i in range(20):
            body = json.dumps(json_infer_body([[float(i)] * 4]))
            response = session.post(
                surge.url("/v2/models/identity_fp32/infer"),
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=HTTP_TIMEOUT_S,
            )
            assert response.status_code == 200
            assert response.json()["outputs"][0]["data"] == [float(i)] * 4
