"""The KServe v2 gRPC endpoint, driven by tritonclient.grpc and, where the
client library hides a part of the protocol (typed tensor contents, trailing
metadata), by the generated stub of the same protocol.

Answers are compared with what the HTTP endpoint gives for the same input:
both frontends feed the same models.
"""

from __future__ import annotations

import queue
import signal

import grpc
import ml_dtypes
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException, deserialize_bytes_tensor, serialize_byte_tensor

from surge_e2e import (
    CONDITION_TIMEOUT_S,
    execution_count,
    identity_config,
    inference_count,
    metric_sum,
    wait_executing_alone,
    wait_held,
    wait_until,
    write_model,
)

RPC_TIMEOUT_S = 30.0
# A running batch that requests queue behind: long enough that a test can
# see them queued and act before it ends, even on a busy machine.
SLOW_US = 1_000_000

IRIS_ROWS = np.asarray([[5.1, 3.5, 1.4, 0.2], [6.4, 3.2, 4.5, 1.5], [6.3, 3.3, 6.0, 2.5]], dtype=np.float32)

# datatype -> (numpy dtype of the values, InferTensorContents field, values)
ALL_TYPES = {
    "BOOL": (np.bool_, "bool_contents", [True, False, True]),
    "UINT8": (np.uint8, "uint_contents", [0, 7, 255]),
    "UINT16": (np.uint16, "uint_contents", [0, 300, 65535]),
    "UINT32": (np.uint32, "uint_contents", [0, 70000, 4294967295]),
    "UINT64": (np.uint64, "uint64_contents", [0, 1, 18446744073709551615]),
    "INT8": (np.int8, "int_contents", [-128, 0, 127]),
    "INT16": (np.int16, "int_contents", [-32768, 5, 32767]),
    "INT32": (np.int32, "int_contents", [-2147483648, 6, 2147483647]),
    "INT64": (np.int64, "int64_contents", [-9223372036854775808, 7, 9223372036854775807]),
    "FP16": (np.float16, None, [0.5, -2.0, 65504.0]),
    "FP32": (np.float32, "fp32_contents", [0.1, -1.5, 3.0e38]),
    "FP64": (np.float64, "fp64_contents", [0.1, -1e300, 2.5]),
    "BF16": (ml_dtypes.bfloat16, None, [1.5, -2.0, 0.25]),  # tritonclient 2.73 wants ml_dtypes.bfloat16 for BF16
    "BYTES": (np.object_, "bytes_contents", [b"", b"surge", b"\x00\xff\xfe"]),
}


def _client(server) -> grpcclient.InferenceServerClient:
    return grpcclient.InferenceServerClient(server.grpc_url)


def _stub(server):
    channel = grpc.insecure_channel(server.grpc_url)
    return channel, service_pb2_grpc.GRPCInferenceServiceStub(channel)


def _input(name: str, values: np.ndarray, datatype: str = "FP32") -> grpcclient.InferInput:
    tensor = grpcclient.InferInput(name, list(values.shape), datatype)
    tensor.set_data_from_numpy(values)
    return tensor


def _http_iris(server) -> np.ndarray:
    with server.client() as client:
        tensor = httpclient.InferInput("features", list(IRIS_ROWS.shape), "FP32")
        tensor.set_data_from_numpy(IRIS_ROWS, binary_data=True)
        return client.infer("iris", [tensor]).as_numpy("probabilities")


def _rpc_error(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return raised.value


def _cancelled_count(server, model: str) -> float:
    return metric_sum(server.metrics(), "surge_requests_total", model=model, outcome="cancelled") or 0.0


# ---------------------------------------------------------------------------
# Health, metadata, configuration, statistics


def test_health_and_server_metadata(surge):
    client = _client(surge)
    assert client.is_server_live()
    assert client.is_server_ready()
    metadata = client.get_server_metadata()
    assert metadata.name == "surge"
    assert {"statistics", "model_configuration", "model_repository"} <= set(metadata.extensions)


def test_model_readiness(surge):
    client = _client(surge)
    assert client.is_model_ready("iris")
    assert client.is_model_ready("iris", "1")
    assert not client.is_model_ready("iris", "99")
    assert not client.is_model_ready("no_such_model")


def test_model_metadata_matches_http(surge):
    grpc_metadata = _client(surge).get_model_metadata("iris", as_json=True)
    with surge.client() as client:
        http_metadata = client.get_model_metadata("iris")

    def tensors(entries):
        return [(t["name"], t["datatype"], [int(d) for d in t["shape"]]) for t in entries]

    assert grpc_metadata["name"] == http_metadata["name"] == "iris"
    assert grpc_metadata["versions"] == http_metadata["versions"]
    assert grpc_metadata["platform"] == http_metadata["platform"]
    assert tensors(grpc_metadata["inputs"]) == tensors(http_metadata["inputs"]) == [("features", "FP32", [-1, 4])]
    assert tensors(grpc_metadata["outputs"]) == tensors(http_metadata["outputs"])


def test_model_config_decodes_as_tritons(surge):
    # tritonclient decodes it with Triton's own inference.ModelConfig.
    config = _client(surge).get_model_config("iris").config
    with surge.client() as client:
        http_config = client.get_model_config("iris")
    assert config.name == "iris"
    assert config.max_batch_size == http_config["max_batch_size"] == 64
    assert [(i.name, list(i.dims)) for i in config.input] == [("features", [4])]
    assert [(o.name, list(o.dims)) for o in config.output] == [("probabilities", [3])]
    assert config.dynamic_batching.max_queue_delay_microseconds == 500
    assert config.input[0].data_type == 11  # TYPE_FP32


def test_statistics_count_grpc_inferences(surge):
    client = _client(surge)
    before = client.get_inference_statistics("identity_fp32", as_json=True)["model_stats"][0]
    values = np.arange(6, dtype=np.float32).reshape(3, 2)
    client.infer("identity_fp32", [_input("INPUT0", values)])
    after = client.get_inference_statistics("identity_fp32", as_json=True)["model_stats"][0]
    # JSON from protobuf writes uint64 as strings and leaves zero counts out.
    assert int(after.get("inference_count", 0)) - int(before.get("inference_count", 0)) == 3
    assert int(after["inference_stats"]["success"]["count"]) > int(
        before["inference_stats"].get("success", {}).get("count", 0)
    )
    assert inference_count(surge.stats("identity_fp32")) == int(after["inference_count"])
    everything = client.get_inference_statistics(as_json=True)["model_stats"]
    assert {"iris", "identity_fp32"} <= {entry["name"] for entry in everything}


def test_repository_index(surge):
    index = _client(surge).get_model_repository_index(as_json=True)["models"]
    states = {entry["name"]: entry["state"] for entry in index}
    assert states["iris"] == "READY" and states["identity_fp32"] == "READY"


# ---------------------------------------------------------------------------
# Inference


def test_identity_round_trip_raw(surge):
    values = np.random.default_rng(7).standard_normal((4, 5)).astype(np.float32)
    result = _client(surge).infer("identity_fp32", [_input("INPUT0", values)], request_id="rt-1")
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), values)
    response = result.get_response()
    assert (response.model_name, response.model_version, response.id) == ("identity_fp32", "1", "rt-1")


def test_iris_answers_as_over_http(surge):
    result = _client(surge).infer(
        "iris", [_input("features", IRIS_ROWS)], outputs=[grpcclient.InferRequestedOutput("probabilities")]
    )
    probabilities = result.as_numpy("probabilities")
    assert probabilities.shape == (3, 3)
    assert np.argmax(probabilities, axis=1).tolist() == [0, 1, 2]
    np.testing.assert_allclose(probabilities, _http_iris(surge), rtol=1e-6, atol=1e-7)


def test_typed_contents_hand_built(surge):
    request = service_pb2.ModelInferRequest(model_name="iris", id="typed")
    tensor = request.inputs.add(name="features", datatype="FP32", shape=list(IRIS_ROWS.shape))
    tensor.contents.fp32_contents.extend(IRIS_ROWS.flatten().tolist())
    channel, stub = _stub(surge)
    with channel:
        response = stub.ModelInfer(request, timeout=RPC_TIMEOUT_S)
    (output,) = response.outputs
    assert (output.name, output.datatype, list(output.shape)) == ("probabilities", "FP32", [3, 3])
    assert response.id == "typed" and len(response.raw_output_contents) == 1
    probabilities = np.frombuffer(response.raw_output_contents[0], dtype="<f4").reshape(3, 3)
    np.testing.assert_allclose(probabilities, _http_iris(surge), rtol=1e-6, atol=1e-7)


def _identity_of_types(name: str, datatypes) -> str:
    """config.pbtxt of an identity model with input IN_<T> echoed as OUT_<T> for each datatype."""

    def tensors(prefix: str) -> str:
        return ", ".join(
            f'{{ name: "{prefix}_{t}" data_type: TYPE_{"STRING" if t == "BYTES" else t} dims: [ -1 ] }}'
            for t in datatypes
        )

    return (
        f'name: "{name}"\nbackend: "identity"\nmax_batch_size: 4\n'
        f"input [ {tensors('IN')} ]\noutput [ {tensors('OUT')} ]\ndynamic_batching {{ }}\n"
    )


@pytest.fixture
def every_type_server(surge_factory, tmp_path):
    """An identity model with one input (and its echo) per KServe datatype."""
    repository = tmp_path / "models"
    write_model(repository, "every_type", _identity_of_types("every_type", ALL_TYPES))
    return surge_factory(repository)


def _values(datatype: str) -> np.ndarray:
    dtype, _, values = ALL_TYPES[datatype]
    return np.asarray([values], dtype=dtype)


def test_every_datatype_round_trips_raw(every_type_server):
    inputs = [_input(f"IN_{t}", _values(t), t) for t in ALL_TYPES]
    result = _client(every_type_server).infer("every_type", inputs)
    for datatype in ALL_TYPES:
        got = result.as_numpy(f"OUT_{datatype}")
        expected = _values(datatype)
        assert got.shape == expected.shape, datatype
        if datatype == "BYTES":
            assert got.tolist() == expected.tolist()
        else:
            np.testing.assert_array_equal(got, expected, err_msg=datatype)


@pytest.mark.parametrize("datatype", ["FP16", "BF16"])
def test_half_floats_cannot_be_typed(every_type_server, datatype):
    # InferTensorContents has no field for them: raw_input_contents only.
    request = service_pb2.ModelInferRequest(model_name="every_type")
    tensor = request.inputs.add(name=f"IN_{datatype}", datatype=datatype, shape=[1, 1])
    tensor.contents.fp32_contents.append(0.5)
    channel, stub = _stub(every_type_server)
    with channel:
        error = _rpc_error(lambda: stub.ModelInfer(request, timeout=RPC_TIMEOUT_S))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"'IN_{datatype}'" in error.details() and "raw_input_contents" in error.details(), error.details()


def test_typed_contents_of_every_kind(surge_factory, tmp_path):
    typed = [t for t, (_, field, _) in ALL_TYPES.items() if field is not None]
    repository = tmp_path / "models"
    write_model(repository, "typed", _identity_of_types("typed", typed))
    server = surge_factory(repository)

    request = service_pb2.ModelInferRequest(model_name="typed")
    for datatype in typed:
        _, field, values = ALL_TYPES[datatype]
        tensor = request.inputs.add(name=f"IN_{datatype}", datatype=datatype, shape=[1, len(values)])
        getattr(tensor.contents, field).extend(values)
    channel, stub = _stub(server)
    with channel:
        response = stub.ModelInfer(request, timeout=RPC_TIMEOUT_S)
    assert [o.name for o in response.outputs] == [f"OUT_{t}" for t in typed]
    for output, raw in zip(response.outputs, response.raw_output_contents):
        datatype = output.datatype
        expected = _values(datatype)
        if datatype == "BYTES":
            got = deserialize_bytes_tensor(raw)
            assert got.tolist() == expected.flatten().tolist()
        else:
            got = np.frombuffer(raw, dtype=expected.dtype.newbyteorder("<"))
            np.testing.assert_array_equal(got, expected.flatten(), err_msg=datatype)
        assert list(output.shape) == [1, 3]


def test_bytes_tensor_with_tritonclient(surge_factory, tmp_path):
    config = (
        'name: "strings"\nbackend: "identity"\nmax_batch_size: 8\n'
        'input [ { name: "TEXT" data_type: TYPE_STRING dims: [ -1 ] } ]\n'
        'output [ { name: "ECHO" data_type: TYPE_STRING dims: [ -1 ] } ]\n'
    )
    repository = tmp_path / "models"
    write_model(repository, "strings", config)
    server = surge_factory(repository)
    text = np.asarray([["héllo".encode(), b"", b"\x00binary\xff"], [b"a", b"bb", b"ccc"]], dtype=np.object_)
    result = _client(server).infer("strings", [_input("TEXT", text, "BYTES")])
    assert result.as_numpy("ECHO").tolist() == text.tolist()

    # The same bytes, framed by hand as raw_input_contents.
    request = service_pb2.ModelInferRequest(model_name="strings")
    request.inputs.add(name="TEXT", datatype="BYTES", shape=[2, 3])
    request.raw_input_contents.append(serialize_byte_tensor(text).item())
    channel, stub = _stub(server)
    with channel:
        response = stub.ModelInfer(request, timeout=RPC_TIMEOUT_S)
        assert deserialize_bytes_tensor(response.raw_output_contents[0]).tolist() == text.flatten().tolist()

        # A length prefix that runs past the end is refused, naming the tensor.
        request.raw_input_contents[0] = b"\x09\x00\x00\x00abc"
        request.inputs[0].shape[:] = [1, 1]
        error = _rpc_error(lambda: stub.ModelInfer(request, timeout=RPC_TIMEOUT_S))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "'TEXT'" in error.details() and "length 9" in error.details()


# ---------------------------------------------------------------------------
# Errors: the status code says what kind, the message what exactly


def test_unknown_model_is_not_found(surge):
    with pytest.raises(InferenceServerException) as raised:
        _client(surge).infer("no_such_model", [_input("INPUT0", np.zeros((1, 2), np.float32))])
    assert raised.value.status() == "StatusCode.NOT_FOUND"
    assert "no_such_model" in raised.value.message()
    with pytest.raises(InferenceServerException) as raised:
        _client(surge).get_model_metadata("no_such_model")
    assert raised.value.status() == "StatusCode.NOT_FOUND"


def test_wrong_shape_is_invalid_argument_naming_the_tensor(surge):
    client = _client(surge)
    with pytest.raises(InferenceServerException) as raised:
        client.infer("iris", [_input("features", np.zeros((1, 5), np.float32))])
    assert raised.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert "features" in raised.value.message() and "shape" in raised.value.message()
    # The server keeps serving.
    assert client.infer("iris", [_input("features", IRIS_ROWS)]).as_numpy("probabilities").shape == (3, 3)


@pytest.mark.parametrize(
    "mutate,expected",
    [
        (lambda r: r.raw_input_contents.__setitem__(0, b"\x00" * 12),
         ["'INPUT0'", "raw_input_contents[0]", "12 bytes"]),
        (lambda r: setattr(r.inputs[0], "datatype", "FP64"), ["'INPUT0'", "FP64"]),
        (lambda r: setattr(r.inputs[0], "datatype", "FLOAT"), ["'INPUT0'", "unknown datatype"]),
        (lambda r: r.raw_input_contents.append(b""), ["raw_input_contents has 2 entries for 1 inputs"]),
        (lambda r: r.outputs.add(name="NOPE"), ["unknown output 'NOPE'"]),
        (lambda r: r.parameters["priority"].CopyFrom(service_pb2.InferParameter(string_param="high")),
         ["parameters.priority"]),
        (lambda r: (r.inputs[0].parameters["shared_memory_region"].CopyFrom(
            service_pb2.InferParameter(string_param="region")), r.ClearField("raw_input_contents")),
         ["'INPUT0'", "shared_memory_region but no shared_memory_byte_size"]),
        (lambda r: setattr(r, "model_version", "v2"), ["model version 'v2'"]),
    ],
    ids=["raw-size", "datatype", "unknown-datatype", "raw-count", "unknown-output", "priority", "shared-memory",
         "version"],
)
def test_malformed_requests_are_invalid_argument(surge, mutate, expected):
    request = service_pb2.ModelInferRequest(model_name="identity_fp32")
    request.inputs.add(name="INPUT0", datatype="FP32", shape=[1, 4])
    request.raw_input_contents.append(np.ones((1, 4), np.float32).tobytes())
    mutate(request)
    channel, stub = _stub(surge)
    with channel:
        error = _rpc_error(lambda: stub.ModelInfer(request, timeout=RPC_TIMEOUT_S))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    for fragment in expected:
        assert fragment in error.details(), (fragment, error.details())


def test_message_over_the_limit_is_resource_exhausted(surge_factory, tmp_path):
    repository = tmp_path / "models"
    write_model(repository, "limited_identity", identity_config("limited_identity"))
    server = surge_factory(repository, "--grpc-max-message-mib", "1")
    client = _client(server)
    big = np.zeros((1, 300_000), np.float32)  # 1.2 MB
    with pytest.raises(InferenceServerException) as raised:
        client.infer("limited_identity", [_input("INPUT0", big)])
    assert raised.value.status() == "StatusCode.RESOURCE_EXHAUSTED", raised.value
    small = np.ones((1, 8), np.float32)
    answer = client.infer("limited_identity", [_input("INPUT0", small)]).as_numpy("OUTPUT0")
    np.testing.assert_array_equal(answer, small)


def test_full_queue_is_unavailable_with_retry_after(surge_factory, tmp_path):
    model = "bounded_identity"
    repository = tmp_path / "models"
    config = identity_config(model, max_batch_size=1, execute_delay_us=SLOW_US, max_queue_size=1)
    write_model(repository, model, config)
    server = surge_factory(repository)
    client = _client(server)
    answers: queue.Queue = queue.Queue()
    for value in (0.0, 1.0):
        client.async_infer(model, [_input("INPUT0", np.full((1, 2), value, np.float32))],
                           callback=lambda result, error: answers.put((result, error)))
        if value == 0.0:
            wait_executing_alone(server, model)
    wait_held(server, model, at_least=2, queued_at_least=1)

    request = service_pb2.ModelInferRequest(model_name=model)
    request.inputs.add(name="INPUT0", datatype="FP32", shape=[1, 2])
    request.raw_input_contents.append(np.full((1, 2), 2.0, np.float32).tobytes())
    channel, stub = _stub(server)
    with channel:
        error = _rpc_error(lambda: stub.ModelInfer(request, timeout=RPC_TIMEOUT_S))
    assert error.code() == grpc.StatusCode.UNAVAILABLE, error.details()
    assert error.details()
    retry_after = dict(error.trailing_metadata() or ()).get("retry-after")
    assert retry_after is not None and int(retry_after) >= 1, error.trailing_metadata()

    for _ in range(2):
        result, failure = answers.get(timeout=RPC_TIMEOUT_S)
        assert failure is None, failure


def test_queue_timeout_is_deadline_exceeded_and_never_runs(surge_factory, tmp_path):
    model = "deadline_identity"
    repository = tmp_path / "models"
    write_model(repository, model, identity_config(model, max_batch_size=1, execute_delay_us=SLOW_US))
    server = surge_factory(repository)
    client = _client(server)
    answers: queue.Queue = queue.Queue()
    client.async_infer(model, [_input("INPUT0", np.zeros((1, 2), np.float32))],
                       callback=lambda result, error: answers.put((result, error)))
    wait_executing_alone(server, model)
    with pytest.raises(InferenceServerException) as raised:
        client.infer(model, [_input("INPUT0", np.ones((1, 2), np.float32))], timeout=20_000)
    assert raised.value.status() == "StatusCode.DEADLINE_EXCEEDED", raised.value
    assert model in raised.value.message()
    _, failure = answers.get(timeout=RPC_TIMEOUT_S)
    assert failure is None, failure
    stats = wait_until(lambda: execution_count(s := server.stats(model)) >= 1 and s, "the first batch to finish")
    assert (inference_count(stats), execution_count(stats)) == (1, 1), stats


# ---------------------------------------------------------------------------
# Streaming


def test_stream_answers_every_request_and_survives_errors(surge):
    client = _client(surge)
    answers: queue.Queue = queue.Queue()
    client.start_stream(callback=lambda result, error: answers.put((result, error)))
    try:
        sent = {}
        for k in range(6):
            values = np.full((1, 3), float(k), np.float32)
            sent[f"id-{k}"] = values
            client.async_stream_infer("identity_fp32", [_input("INPUT0", values)], request_id=f"id-{k}")
            if k == 2:  # one bad request in the middle, and a different model
                client.async_stream_infer(
                    "identity_fp32", [_input("INPUT0", np.zeros((1, 2, 2), np.float32))], request_id="bad"
                )
                client.async_stream_infer("iris", [_input("features", IRIS_ROWS)], request_id="iris")
        got, errors, iris = {}, [], None
        for _ in range(len(sent) + 2):
            result, error = answers.get(timeout=RPC_TIMEOUT_S)
            if error is not None:
                errors.append(error)
                continue
            response = result.get_response()
            if response.id == "iris":
                iris = result.as_numpy("probabilities")
            else:
                got[response.id] = result.as_numpy("OUTPUT0")
    finally:
        client.stop_stream()
    assert len(errors) == 1 and "INPUT0" in errors[0].message(), [str(e) for e in errors]
    assert set(got) == set(sent)
    for request_id, values in sent.items():
        np.testing.assert_array_equal(got[request_id], values)
    np.testing.assert_allclose(iris, _http_iris(surge), rtol=1e-6, atol=1e-7)


def test_stream_final_response_flag(surge):
    client = _client(surge)
    answers: queue.Queue = queue.Queue()
    client.start_stream(callback=lambda result, error: answers.put((result, error)))
    try:
        values = np.ones((1, 2), np.float32)
        client.async_stream_infer("identity_fp32", [_input("INPUT0", values)], request_id="flagged",
                                  enable_empty_final_response=True)
        result, error = answers.get(timeout=RPC_TIMEOUT_S)
        assert error is None, error
        # A model that answers once marks that one answer final.
        parameters = result.get_response().parameters
        assert parameters["triton_final_response"].bool_param is True
        np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), values)
        client.async_stream_infer("identity_fp32", [_input("INPUT0", values)], request_id="plain")
        result, error = answers.get(timeout=RPC_TIMEOUT_S)
        assert error is None and "triton_final_response" not in result.get_response().parameters
    finally:
        client.stop_stream()


def test_decoupled_model_streams_then_flags_an_empty_final_response(surge_factory, tmp_path):
    # The identity backend answers once; declared decoupled, its answer is
    # streamed as it comes and the end of the request is a separate message.
    model = "decoupled_identity"
    repository = tmp_path / "models"
    write_model(repository, model, identity_config(model, extra="model_transaction_policy { decoupled: true }"))
    server = surge_factory(repository)
    client = _client(server)
    values = np.full((1, 3), 4.0, np.float32)

    with pytest.raises(InferenceServerException) as raised:
        client.infer(model, [_input("INPUT0", values)])
    assert raised.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert "decoupled" in raised.value.message() and "ModelStreamInfer" in raised.value.message()

    answers: queue.Queue = queue.Queue()
    client.start_stream(callback=lambda result, error: answers.put((result, error)))
    try:
        client.async_stream_infer(model, [_input("INPUT0", values)], request_id="d-1", enable_empty_final_response=True)
        first, error = answers.get(timeout=RPC_TIMEOUT_S)
        assert error is None, error
        assert first.get_response().id == "d-1"
        assert first.get_response().parameters["triton_final_response"].bool_param is False
        np.testing.assert_array_equal(first.as_numpy("OUTPUT0"), values)
        final, error = answers.get(timeout=RPC_TIMEOUT_S)
        assert error is None, error
        response = final.get_response()
        assert response.id == "d-1" and len(response.outputs) == 0
        assert response.parameters["triton_final_response"].bool_param is True

        # Without the flag: the responses only, as Triton sends them.
        client.async_stream_infer(model, [_input("INPUT0", values)], request_id="d-2")
        only, error = answers.get(timeout=RPC_TIMEOUT_S)
        assert error is None and only.get_response().id == "d-2"
        assert "triton_final_response" not in only.get_response().parameters
        client.async_stream_infer(model, [_input("INPUT0", values)], request_id="d-3")
        after, error = answers.get(timeout=RPC_TIMEOUT_S)
        assert error is None and after.get_response().id == "d-3", "no stray final message for d-2"
    finally:
        client.stop_stream()


# ---------------------------------------------------------------------------
# Cancellation: a cancelled call's request never runs


def _slow_server(surge_factory, tmp_path, model, execute_delay_us=SLOW_US):
    repository = tmp_path / "models"
    write_model(repository, model, identity_config(model, max_batch_size=1, execute_delay_us=execute_delay_us))
    return surge_factory(repository)


def _assert_only_first_and_last_ran(server, client, model):
    """After the cancelled request was answered: one more request, and the
    statistics count two executions, none for the cancelled request (which
    would have run before this one)."""
    wait_until(lambda: _cancelled_count(server, model) >= 1, f"{model}: the cancelled request to be dropped")
    values = np.full((1, 2), 5.0, np.float32)
    np.testing.assert_array_equal(client.infer(model, [_input("INPUT0", values)]).as_numpy("OUTPUT0"), values)
    # The instance counts a batch after answering it, so the answer can come first.
    wait_until(lambda: execution_count(server.stats(model)) >= 2, f"{model}: the last request to be counted")
    stats = server.stats(model)
    assert (inference_count(stats), execution_count(stats)) == (2, 2), stats
    assert _cancelled_count(server, model) == 1


@pytest.mark.parametrize("how", ["cancel", "client_timeout"])
def test_cancelled_call_is_dropped_before_execution(surge_factory, tmp_path, how):
    model = "cancellable_identity"
    # The client's deadline must pass while the second request waits behind
    # the first, and not before the server has it, even on a busy machine.
    client_timeout_s = 1.5
    delay_us = 3_000_000 if how == "client_timeout" else SLOW_US
    server = _slow_server(surge_factory, tmp_path, model, execute_delay_us=delay_us)
    client = _client(server)
    first: queue.Queue = queue.Queue()
    client.async_infer(model, [_input("INPUT0", np.zeros((1, 2), np.float32))],
                       callback=lambda result, error: first.put((result, error)))
    wait_executing_alone(server, model)

    second: queue.Queue = queue.Queue()
    call = client.async_infer(
        model,
        [_input("INPUT0", np.ones((1, 2), np.float32))],
        callback=lambda result, error: second.put((result, error)),
        client_timeout=client_timeout_s if how == "client_timeout" else None,
    )
    wait_held(server, model, at_least=2, queued_at_least=1)
    if how == "cancel":
        call.cancel()
    _, error = second.get(timeout=RPC_TIMEOUT_S)
    assert error is not None
    assert error.status() == ("StatusCode.CANCELLED" if how == "cancel" else "StatusCode.DEADLINE_EXCEEDED"), error

    result, error = first.get(timeout=RPC_TIMEOUT_S)
    assert error is None, error
    _assert_only_first_and_last_ran(server, client, model)


def test_cancelled_stream_drops_its_queued_request(surge_factory, tmp_path):
    model = "stream_cancel_identity"
    server = _slow_server(surge_factory, tmp_path, model)
    client = _client(server)
    first: queue.Queue = queue.Queue()
    client.async_infer(model, [_input("INPUT0", np.zeros((1, 2), np.float32))],
                       callback=lambda result, error: first.put((result, error)))
    wait_executing_alone(server, model)

    streamed: queue.Queue = queue.Queue()
    client.start_stream(callback=lambda result, error: streamed.put((result, error)))
    client.async_stream_infer(model, [_input("INPUT0", np.ones((1, 2), np.float32))], request_id="queued")
    wait_held(server, model, at_least=2, queued_at_least=1)
    client.stop_stream(cancel_requests=True)

    result, error = first.get(timeout=RPC_TIMEOUT_S)
    assert error is None, error
    _assert_only_first_and_last_ran(server, client, model)
    while not streamed.empty():
        result, _ = streamed.get_nowait()
        assert result is None, "the cancelled stream must not deliver the dropped request's answer"


# ---------------------------------------------------------------------------
# Shutdown


def _not_ready(client) -> bool:
    try:
        return not client.is_server_ready()
    except InferenceServerException:
        return True  # already gone: also not ready


def test_sigterm_drains_grpc_calls_and_closes_streams(surge_factory, tmp_path):
    model = "draining_identity"
    server = _slow_server(surge_factory, tmp_path, model)
    client = _client(server)
    in_flight: queue.Queue = queue.Queue()
    values = np.full((1, 2), 3.0, np.float32)
    client.async_infer(model, [_input("INPUT0", values)], callback=lambda result, error: in_flight.put((result, error)))
    wait_executing_alone(server, model)

    # An idle stream stays open until shutdown cancels it.
    stream_events: queue.Queue = queue.Queue()
    streaming = _client(server)
    streaming.start_stream(callback=lambda result, error: stream_events.put((result, error)))
    streaming.async_stream_infer(model, [_input("INPUT0", values)], request_id="before")
    wait_held(server, model, at_least=2, queued_at_least=1)

    server.process.send_signal(signal.SIGTERM)
    wait_until(lambda: _not_ready(client), "ServerReady to turn false while draining")
    with pytest.raises(InferenceServerException) as raised:
        client.infer(model, [_input("INPUT0", values)])
    assert raised.value.status() == "StatusCode.UNAVAILABLE", raised.value

    result, error = in_flight.get(timeout=RPC_TIMEOUT_S)
    assert error is None, error
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), values)
    result, error = stream_events.get(timeout=RPC_TIMEOUT_S)
    assert error is None and result.get_response().id == "before", error
    assert server.wait_exit() == 0
    # The stream was open at shutdown: its end reaches the client as an error.
    _, error = stream_events.get(timeout=CONDITION_TIMEOUT_S)
    assert error is not None
    streaming.stop_stream()
