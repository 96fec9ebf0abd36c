"""Stateful models behind the sequence batcher, driven by tritonclient.

The demo model `accumulator` (scripts/models/accumulator.py) answers each
request with the running sum of its INPUT since the request of the same
sequence that set sequence_start. Requests name their sequence with
tritonclient's sequence_id (an integer or a string) and mark its first and
last request with sequence_start and sequence_end, as Triton's clients do.

Every test uses correlation ids of its own: they share one server.
"""

from __future__ import annotations

import queue
import time
from functools import partial

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

MODEL = "accumulator"
RPC_TIMEOUT_S = 30.0
STREAM_TIMEOUT_S = 60.0
# max_sequence_idle_microseconds of the demo model is 1 s.
IDLE_S = 1.0
STEPS = 10


def _grpc(surge) -> grpcclient.InferenceServerClient:
    return grpcclient.InferenceServerClient(surge.grpc_url)


def _grpc_input(value: int) -> grpcclient.InferInput:
    tensor = grpcclient.InferInput("INPUT", [1, 1], "INT32")
    tensor.set_data_from_numpy(np.asarray([[value]], dtype=np.int32))
    return tensor


def _http_input(value: int) -> httpclient.InferInput:
    tensor = httpclient.InferInput("INPUT", [1, 1], "INT32")
    tensor.set_data_from_numpy(np.asarray([[value]], dtype=np.int32), binary_data=True)
    return tensor


def _grpc_step(client, sequence_id, value: int, *, start: bool = False, end: bool = False) -> int:
    result = client.infer(
        MODEL,
        [_grpc_input(value)],
        sequence_id=sequence_id,
        sequence_start=start,
        sequence_end=end,
        client_timeout=RPC_TIMEOUT_S,
    )
    return int(result.as_numpy("OUTPUT").item())


def _http_step(client, sequence_id, value: int, *, start: bool = False, end: bool = False) -> int:
    result = client.infer(MODEL, [_http_input(value)], sequence_id=sequence_id, sequence_start=start, sequence_end=end)
    return int(result.as_numpy("OUTPUT").item())


def _sequence_values(base: int) -> list[int]:
    """The INPUT of a start, STEPS steps and an end: base, base + 1, ..."""
    return [base + i for i in range(STEPS + 2)]


def test_interleaved_sequences_over_a_grpc_stream_keep_their_own_sums(surge):
    sequences = {1001: _sequence_values(0), 1002: _sequence_values(100)}
    responses: queue.Queue = queue.Queue()

    def on_response(results: queue.Queue, result, error):
        results.put((result, error))

    client = _grpc(surge)
    client.start_stream(callback=partial(on_response, responses), stream_timeout=STREAM_TIMEOUT_S)
    expected: dict[str, int] = {}
    try:
        last = STEPS + 1
        for step in range(last + 1):
            for sequence_id, values in sequences.items():
                request_id = f"{sequence_id}-{step}"
                expected[request_id] = sum(values[: step + 1])
                client.async_stream_infer(
                    MODEL,
                    [_grpc_input(values[step])],
                    request_id=request_id,
                    sequence_id=sequence_id,
                    sequence_start=step == 0,
                    sequence_end=step == last,
                )
        got: dict[str, int] = {}
        order: dict[int, list[int]] = {sequence_id: [] for sequence_id in sequences}
        for _ in expected:
            try:
                result, error = responses.get(timeout=RPC_TIMEOUT_S)
            except queue.Empty:
                pytest.fail(f"only {len(got)} of {len(expected)} responses came: {sorted(got)}")
            assert error is None, error
            request_id = result.get_response().id
            assert request_id in expected and request_id not in got, (request_id, sorted(got))
            got[request_id] = int(result.as_numpy("OUTPUT").item())
            sequence_id, step = (int(part) for part in request_id.split("-"))
            order[sequence_id].append(step)
    finally:
        client.stop_stream()

    assert got == expected
    # The steps of one sequence run, and answer, in the order they were sent.
    for sequence_id, steps in order.items():
        assert steps == sorted(steps), (sequence_id, steps)


def test_a_string_sequence_id_over_http(surge):
    values = _sequence_values(7)
    with surge.client() as client:
        sums = [
            _http_step(client, "session-a", value, start=i == 0, end=i == len(values) - 1)
            for i, value in enumerate(values)
        ]
    assert sums == list(np.cumsum(values))


def test_a_request_without_a_sequence_id_is_refused(surge):
    with pytest.raises(InferenceServerException) as http_error, surge.client() as client:
        client.infer(MODEL, [_http_input(1)])
    assert http_error.value.status() == "400", http_error.value
    assert "sequence_id" in http_error.value.message()

    with pytest.raises(InferenceServerException) as grpc_error:
        _grpc(surge).infer(MODEL, [_grpc_input(1)], client_timeout=RPC_TIMEOUT_S)
    assert grpc_error.value.status() == "StatusCode.INVALID_ARGUMENT", grpc_error.value
    assert "sequence_id" in grpc_error.value.message()


def test_a_step_of_a_sequence_never_started_is_refused(surge):
    with pytest.raises(InferenceServerException) as http_error, surge.client() as client:
        _http_step(client, 1501, 1)
    assert http_error.value.status() == "400", http_error.value
    assert "sequence_start" in http_error.value.message()

    with pytest.raises(InferenceServerException) as grpc_error:
        _grpc_step(_grpc(surge), "never-started", 1)
    assert grpc_error.value.status() == "StatusCode.INVALID_ARGUMENT", grpc_error.value
    assert "sequence_start" in grpc_error.value.message()


def test_an_idle_sequence_times_out_and_its_id_can_start_again(surge):
    client = _grpc(surge)
    assert _grpc_step(client, 2001, 5, start=True) == 5
    assert _grpc_step(client, 2001, 6) == 11
    time.sleep(IDLE_S * 1.6)
    with pytest.raises(InferenceServerException) as timed_out:
        _grpc_step(client, 2001, 7)
    assert timed_out.value.status() == "StatusCode.INVALID_ARGUMENT", timed_out.value
    assert "timed out" in timed_out.value.message()

    # A new sequence under the same id begins at 0, not where the old one stopped.
    assert _grpc_step(client, 2001, 3, start=True) == 3
    assert _grpc_step(client, 2001, 4) == 7
    assert _grpc_step(client, 2001, 1, end=True) == 8


def test_a_step_after_the_end_is_refused(surge):
    with surge.client() as client:
        assert _http_step(client, 2101, 2, start=True) == 2
        assert _http_step(client, 2101, 3, end=True) == 5
        with pytest.raises(InferenceServerException) as ended:
            _http_step(client, 2101, 4)
        assert ended.value.status() == "400", ended.value
        assert "sequence_start" in ended.value.message()
        # The id is free to start another sequence.
        assert _http_step(client, 2101, 9, start=True, end=True) == 9
