"""Scheduling seen from outside, on slow identity models written per test:
back-pressure (429), deadlines (504), a backend failing a request (500), cancellation on
disconnect, and priority levels.

The models run one instance with max_batch_size 1 unless a test needs more, so
"what runs next" is decided by the queue alone. Tests learn that requests are
executing or queued from the surge_inflight_requests and surge_queue_depth
gauges, never by sleeping.
"""

import json
import socket
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from surge_e2e import (
    HTTP_TIMEOUT_S,
    error_message,
    execution_count,
    held_requests,
    identity_config,
    inference_count,
    json_infer_body,
    outcome_count,
    output_array,
    post_infer,
    raw_http_request,
    wait_executing_alone,
    wait_held,
    wait_until,
    write_model,
)

SLOW_US = 200_000  # long enough to line requests up behind a running batch


def _serve(surge_factory, tmp_path, name, **config):
    repository = tmp_path / "models"
    write_model(repository, name, identity_config(name, **config))
    return surge_factory(repository)


def _assert_retry_after(response):
    value = response.headers.get("Retry-After")
    assert value is not None, f"429 without Retry-After: {dict(response.headers)}"
    assert value.strip().isdigit() and int(value) >= 1, f"Retry-After {value!r} is not whole seconds >= 1"


def _assert_echoes(response, values):
    np.testing.assert_array_equal(output_array(response), np.asarray(values, dtype=np.float32))


def _wait_inferences(server, model, at_least):
    return wait_until(
        lambda: inference_count(stats := server.stats(model)) >= at_least and stats,
        f"{model} statistics to count {at_least} inferences",
    )


def test_full_queue_rejects_at_once_with_retry_after(surge_factory, tmp_path):
    model = "bounded_identity"
    server = _serve(surge_factory, tmp_path, model, max_batch_size=1, execute_delay_us=SLOW_US, max_queue_size=2)
    with ThreadPoolExecutor(3) as pool:
        running = pool.submit(post_infer, server, model, json_infer_body([[0.0]]))
        wait_executing_alone(server, model)
        queued = [pool.submit(post_infer, server, model, json_infer_body([[float(i)]])) for i in (1, 2)]
        wait_held(server, model, at_least=3, queued_at_least=2)

        rejected = post_infer(server, model, json_infer_body([[3.0]]))
        assert rejected.status_code == 429, f"{rejected.status_code} {rejected.text[:300]}"
        _assert_retry_after(rejected)
        assert error_message(rejected)

        answers = [running.result(HTTP_TIMEOUT_S)] + [q.result(HTTP_TIMEOUT_S) for q in queued]
    for value, answer in enumerate(answers):
        _assert_echoes(answer, [[float(value)]])


def test_flood_gets_only_successes_and_429s(surge_factory, tmp_path):
    model = "flooded_identity"
    flood = 16
    server = _serve(surge_factory, tmp_path, model, max_batch_size=1, execute_delay_us=100_000, max_queue_size=2)
    start = threading.Barrier(flood)

    def send(value):
        start.wait(timeout=HTTP_TIMEOUT_S)
        return value, post_infer(server, model, json_infer_body([[float(value)]]))

    with ThreadPoolExecutor(flood) as pool:
        answers = list(pool.map(send, range(flood)))

    statuses = Counter(response.status_code for _, response in answers)
    assert set(statuses) <= {200, 429}, statuses
    assert statuses[429] >= 1 and statuses[200] >= 1, statuses
    for value, response in answers:
        if response.status_code == 200:
            _assert_echoes(response, [[float(value)]])
        else:
            _assert_retry_after(response)
            assert error_message(response)
    assert post_infer(server, model, json_infer_body([[99.0]])).status_code == 200


def test_request_timing_out_in_queue_gets_504_and_never_runs(surge_factory, tmp_path):
    model = "deadline_identity"
    server = _serve(surge_factory, tmp_path, model, max_batch_size=4, execute_delay_us=SLOW_US)
    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(post_infer, server, model, json_infer_body([[1.0, 1.0]]))
        wait_executing_alone(server, model)
        # Two requests with a 50 ms timeout queue behind a 200 ms batch: one spoken
        # by hand, one through tritonclient's timeout argument (microseconds).
        raw = pool.submit(post_infer, server, model, json_infer_body([[2.0, 2.0]], parameters={"timeout": 50_000}))
        late = httpclient.InferInput("INPUT0", [1, 2], "FP32")
        late.set_data_from_numpy(np.full((1, 2), 3.0, dtype=np.float32))
        with server.client() as client, pytest.raises(InferenceServerException) as raised:
            client.infer(model, [late], timeout=50_000)
        assert raised.value.status() == "504", raised.value
        expired = raw.result(HTTP_TIMEOUT_S)
        assert expired.status_code == 504, f"{expired.status_code} {expired.text[:300]}"
        assert error_message(expired)
        _assert_echoes(running.result(HTTP_TIMEOUT_S), [[1.0, 1.0]])

    # Three rows after the expired ones: had those run, they would have run first.
    rows = [[4.0, 4.0], [5.0, 5.0], [6.0, 6.0]]
    _assert_echoes(post_infer(server, model, json_infer_body(rows)), rows)
    stats = _wait_inferences(server, model, 4)
    assert (inference_count(stats), execution_count(stats)) == (4, 2), stats


def test_backend_failure_is_500_for_its_request_only(surge_factory, tmp_path):
    # fail_on_value fails the request whose input holds the value (here each
    # request is a batch of its own; test_backend_abi.py has them share one).
    model = "faulty_identity"
    server = _serve(surge_factory, tmp_path, model, max_batch_size=1, execute_delay_us=100_000, fail_on_value=13)
    with ThreadPoolExecutor(2) as pool:
        failing = pool.submit(post_infer, server, model, json_infer_body([[13.0, 1.0]]))
        healthy = pool.submit(post_infer, server, model, json_infer_body([[1.0, 2.0]]))
        failed, succeeded = failing.result(HTTP_TIMEOUT_S), healthy.result(HTTP_TIMEOUT_S)
    assert failed.status_code == 500, f"{failed.status_code} {failed.text[:300]}"
    assert "injected failure" in error_message(failed)
    _assert_echoes(succeeded, [[1.0, 2.0]])

    with server.client() as client:
        poison = httpclient.InferInput("INPUT0", [1, 2], "FP32")
        poison.set_data_from_numpy(np.array([[13.0, 13.0]], dtype=np.float32))
        with pytest.raises(InferenceServerException) as raised:
            client.infer(model, [poison])
        assert raised.value.status() == "500" and "injected failure" in raised.value.message()
        fine = httpclient.InferInput("INPUT0", [1, 2], "FP32")
        fine.set_data_from_numpy(np.array([[5.0, 6.0]], dtype=np.float32))
        np.testing.assert_array_equal(client.infer(model, [fine]).as_numpy("OUTPUT0"), [[5.0, 6.0]])

    stats = wait_until(
        lambda: outcome_count(s := server.stats(model), "success") >= 2 and outcome_count(s, "fail") >= 2 and s,
        f"{model} statistics to count 2 successes and 2 failures",
    )
    assert (outcome_count(stats, "success"), outcome_count(stats, "fail")) == (2, 2), stats


def test_disconnected_client_request_is_never_executed(surge_factory, tmp_path):
    model = "cancellable_identity"
    server = _serve(surge_factory, tmp_path, model, max_batch_size=4, execute_delay_us=SLOW_US)
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(post_infer, server, model, json_infer_body([[1.0, 1.0]]))
        wait_executing_alone(server, model)
        body = json.dumps(json_infer_body([[2.0, 2.0]])).encode()
        path = f"/v2/models/{model}/infer"
        request = raw_http_request(server, "POST", path, body, {"Content-Type": "application/json"})
        with socket.create_connection((server.host, server.http_port), timeout=HTTP_TIMEOUT_S) as abandoned:
            abandoned.sendall(request)
            wait_held(server, model, at_least=2, queued_at_least=1)
        # The socket is closed while its request waits behind the running batch.
        _assert_echoes(running.result(HTTP_TIMEOUT_S), [[1.0, 1.0]])

    # Three rows after the abandoned request: had it run, it would have run first.
    rows = [[3.0, 3.0], [4.0, 4.0], [5.0, 5.0]]
    _assert_echoes(post_infer(server, model, json_infer_body(rows)), rows)
    stats = _wait_inferences(server, model, 4)
    assert (inference_count(stats), execution_count(stats)) == (4, 2), stats
    wait_until(lambda: held_requests(server, model) == (0, 0), f"{model} gauges to drop back to zero")


def test_higher_priority_request_overtakes_queued_ones(surge_factory, tmp_path):
    model = "prioritized_identity"
    server = _serve(
        surge_factory,
        tmp_path,
        model,
        max_batch_size=1,
        execute_delay_us=150_000,
        priority_levels=2,
        default_priority_level=2,
    )
    finished = []
    lock = threading.Lock()

    def send(label, value, priority=None):
        parameters = {"priority": priority} if priority is not None else None
        response = post_infer(server, model, json_infer_body([[value]], parameters=parameters))
        with lock:
            finished.append(label)
        return response

    with ThreadPoolExecutor(4) as pool:
        futures = {"running": pool.submit(send, "running", 0.0)}
        wait_executing_alone(server, model)
        futures["low-1"] = pool.submit(send, "low-1", 1.0, 2)
        wait_held(server, model, at_least=2, queued_at_least=1)
        futures["low-2"] = pool.submit(send, "low-2", 2.0, 2)
        wait_held(server, model, at_least=3, queued_at_least=2)
        futures["high"] = pool.submit(send, "high", 3.0, 1)
        wait_held(server, model, at_least=4, queued_at_least=3)
        answers = {label: future.result(HTTP_TIMEOUT_S) for label, future in futures.items()}

    for label, value in (("running", 0.0), ("low-1", 1.0), ("low-2", 2.0), ("high", 3.0)):
        _assert_echoes(answers[label], [[value]])
    assert finished == ["running", "high", "low-1", "low-2"]
