"""The Python SDK (clients/python) against a real redis-server: its KServe v2
codec, workers run as `python -m surge_client.worker` processes, and the
StreamClient producer. Each test gets its own redis-server on a free port."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import redis

import python_sdk_support as support
from python_sdk_handlers import POISON_EXIT_STATUS
from python_sdk_support import RedisServer, WorkerProcess, predict_calls, read_events, replies_by_id
from surge_e2e import wait_until

from surge_client import kserve  # noqa: E402  (python_sdk_support puts the tree's SDK on sys.path)
from surge_client.producer import AsyncStreamClient, InferenceError, InferenceTimeout, StreamClient
from surge_client.protocol import GROUP, now_ms

MODEL = "tagged"
HANDLER = "python_sdk_handlers:tagged"


@pytest.fixture
def redis_server(tmp_path: Path):
    server = RedisServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def rclient(redis_server: RedisServer):
    client = redis_server.client()
    yield client
    client.close()


@pytest.fixture
def event_log(tmp_path: Path) -> Path:
    return tmp_path / "events.jsonl"


@pytest.fixture
def workers(redis_server: RedisServer, tmp_path: Path, event_log: Path):
    """start(name, options, **handler_args) runs a `tagged` worker; at teardown
    every worker still running gets SIGTERM and must exit 0. Worker logs are
    printed at teardown, so a failing test's report carries them."""
    started: List[WorkerProcess] = []

    def start(name: str, options=(), command=None, model=MODEL, **handler_args) -> WorkerProcess:
        args = {"log": str(event_log), "worker": name, **handler_args}
        if "--max-batch" not in options:  # `tagged` declares its dims without the batch dimension
            options = ["--max-batch", "1", *options]
        cmd = command or support.worker_command(redis_server.url, model, name, HANDLER, args, options)
        worker = WorkerProcess(cmd, name, model, tmp_path)
        started.append(worker)
        return worker

    yield start
    statuses = {}
    for worker in started:
        running = worker.process.poll() is None
        status = worker.terminate()
        if running:
            statuses[worker.name] = status
    for worker in started:
        print(f"---- worker {worker.name}\n{worker.describe()}")
    assert all(status == 0 for status in statuses.values()), f"workers exited {statuses} after SIGTERM"


def tagged_inputs(tags: List[int]) -> Dict[str, np.ndarray]:
    tag = np.array(tags, dtype=np.int64).reshape(-1, 1)
    x = np.stack([tag[:, 0], -3 * tag[:, 0]], axis=1).astype(np.float32) / 4
    return {"tag": tag, "x": x}


def assert_tagged_result(outputs: Dict[str, np.ndarray], tags: List[int]) -> None:
    expected = tagged_inputs(tags)
    np.testing.assert_array_equal(outputs["tag"], expected["tag"])
    np.testing.assert_array_equal(outputs["y"], expected["x"] * 2)


def reply_stream_has(client: redis.Redis, stream: str, request_id: str):
    return replies_by_id(client, stream).get(request_id)


def nothing_pending(client: redis.Redis) -> bool:
    # A reply can reach its producer a moment before the XACK that follows it.
    return client.xpending(f"surge:{MODEL}:requests", GROUP)["pending"] == 0


# ---------------------------------------------------------------------------
# the codec


def _sample(datatype: str, text_only: bool = False) -> np.ndarray:
    """A [2, 3] tensor of `datatype` with the type's edge values (BYTES:
    UTF-8 only when `text_only`, as JSON "data" requires)."""
    if datatype == "BYTES":
        odd = b"\x00 nul" if text_only else b"\x00\xff binary"
        return np.array([[b"", b"a", odd], ["h\u00e9llo".encode(), b"x" * 300, b"\n\t"]], dtype=object)
    if datatype == "BOOL":
        return np.array([[True, False, True], [False, False, True]])
    if datatype == "BF16":
        # Exactly representable in bfloat16: bits survive any conversion.
        values = np.array([[0.0, -1.5, 3.0e38], [1.0 / 1024, np.inf, -2.0]], dtype=np.float32)
        bits = (values.view(np.uint32) >> 16).astype(np.uint16)
        return bits if kserve.BF16_DTYPE is None else bits.view(kserve.BF16_DTYPE)
    dtype = kserve.numpy_dtype(datatype)
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        return np.array([[info.min, info.max, 0], [1, info.max - 1, info.min + 1]], dtype=dtype)
    info = np.finfo(dtype)
    return np.array([[0.0, -0.0, info.max], [info.tiny, -np.inf, 1 / 3]], dtype=dtype)


def _assert_same(got: np.ndarray, want: np.ndarray, datatype: str) -> None:
    assert got.shape == want.shape
    if datatype == "BYTES":
        assert got.dtype == object and list(got.reshape(-1)) == [bytes(v) for v in want.reshape(-1)]
    else:
        assert got.dtype == want.dtype, (got.dtype, want.dtype)
        assert got.tobytes() == want.tobytes()  # bit-exact, -0.0 included


@pytest.mark.parametrize("datatype", kserve.DATATYPES)
@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_codec_round_trips_every_datatype(datatype: str, binary: bool):
    tensor = _sample(datatype, text_only=not binary)
    other = np.arange(5, dtype=np.float32)
    inputs = {"t": tensor, "other": other}
    datatypes = {"t": datatype}
    body, header_length = kserve.encode_request(
        inputs, id="r-1", outputs=["t"], binary_inputs=binary, datatypes=datatypes
    )
    assert (header_length is not None) == binary
    request = kserve.decode_request(body, header_length)
    assert request.id == "r-1"
    assert request.datatypes == {"t": datatype, "other": "FP32"}
    assert [(o.name, o.binary) for o in request.outputs] == [("t", True)]
    _assert_same(request.inputs["t"], tensor, datatype)
    _assert_same(request.inputs["other"], other, "FP32")

    body, header_length = kserve.encode_response(
        inputs, model_name="m", model_version="3", id="r-1", binary_outputs=binary, datatypes=datatypes
    )
    response = kserve.decode_response(body, header_length)
    assert (response.model_name, response.model_version, response.id) == ("m", "3", "r-1")
    assert response.datatypes["t"] == datatype
    _assert_same(response.outputs["t"], tensor, datatype)


def test_codec_sends_bytes_that_are_not_utf8_binary_even_when_json_is_asked_for():
    tensor = _sample("BYTES")
    body, header_length = kserve.encode_response({"t": tensor}, model_name="m", binary_outputs=False)
    assert header_length is not None
    assert json.loads(body[:header_length])["outputs"][0]["parameters"]["binary_data_size"] > 0
    _assert_same(kserve.decode_response(body, header_length).outputs["t"], tensor, "BYTES")


def test_codec_interoperates_with_tritonclient():
    """Triton's own client writes requests we read and reads responses we write."""
    import tritonclient.http as httpclient

    tensors = {
        "fp32": np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3),
        "fp16": np.array([0.5, -2.0, 65504.0], dtype=np.float16),
        "int8": np.array([-128, 0, 127], dtype=np.int8),
        "uint64": np.array([0, 2**64 - 1], dtype=np.uint64),
        "bool": np.array([True, False]),
        "bytes": np.array([b"abc", b"", "\u00e9".encode()], dtype=object),
    }
    inputs = []
    for index, (name, array) in enumerate(tensors.items()):
        tensor = httpclient.InferInput(name, list(array.shape), kserve.datatype_of(array))
        tensor.set_data_from_numpy(array, binary_data=index % 2 == 0)  # mixed binary and JSON
        inputs.append(tensor)
    body, json_size = httpclient.InferenceServerClient.generate_request_body(inputs, request_id="t-1")
    request = kserve.decode_request(body, json_size)
    assert request.id == "t-1" and request.binary_outputs
    for name, array in tensors.items():
        _assert_same(request.inputs[name], array, kserve.datatype_of(array))

    for binary in (True, False):
        body, header_length = kserve.encode_response(tensors, model_name="m", binary_outputs=binary)
        result = httpclient.InferenceServerClient.parse_response_body(body, header_length=header_length)
        for name, array in tensors.items():
            got = result.as_numpy(name)
            if array.dtype == object:
                # tritonclient gives JSON BYTES back as str
                assert [v.encode() if isinstance(v, str) else v for v in got] == list(array)
            else:
                np.testing.assert_array_equal(got, array)


@pytest.mark.parametrize(
    "header, binary, message",
    [
        ({"inputs": [{"name": "a", "datatype": "FP32", "shape": [2], "data": [1, "x"]}]}, b"",
         "input 'a': data element 1 must be a number for FP32, got a string"),
        ({"inputs": [{"name": "a", "datatype": "INT8", "shape": [1], "data": [200]}]}, b"",
         "input 'a': data element 0 (200) is out of range for INT8"),
        ({"inputs": [{"name": "a", "datatype": "FP32", "shape": [3], "data": [1, 2]}]}, b"",
         "input 'a': shape [3] needs 3 elements, data has 2"),
        ({"inputs": [{"name": "a", "datatype": "FP32", "shape": [2], "parameters": {"binary_data_size": 4}}]},
         b"\0" * 4, "input 'a': binary_data_size 4 does not match shape [2] of FP32, which needs 8 bytes"),
        ({"inputs": [{"name": "a", "datatype": "BYTES", "shape": [2], "parameters": {"binary_data_size": 6}}]},
         b"\x01\0\0\0xy", "input 'a': BYTES element 1 has a cut-off length prefix: 1 of 4 bytes"),
        ({"inputs": [{"name": "a", "datatype": "FP32", "shape": [1], "parameters": {"binary_data_size": 4}}]},
         b"\0" * 8, "the binary section holds 8 bytes but the inputs' binary_data_size values add up to 4"),
        ({"inputs": [{"name": "a", "datatype": "COMPLEX", "shape": [1], "data": [1]}]}, b"",
         "input 'a': unknown datatype 'COMPLEX'"),
        ({"inputs": [{"name": "a", "datatype": "FP32", "shape": [-1], "data": []}]}, b"",
         "input 'a': shape [-1] has a negative dimension"),
        ({"input": []}, b"", 'the request has no "inputs"'),
    ],
)
def test_codec_rejects_malformed_requests_naming_the_problem(header: dict, binary: bytes, message: str):
    text = json.dumps(header).encode()
    with pytest.raises(kserve.CodecError) as failure:
        kserve.decode_request(text + binary, len(text))
    assert str(failure.value) == message


# ---------------------------------------------------------------------------
# the scikit-learn example worker


def test_sklearn_iris_worker_matches_local_predictions(redis_server: RedisServer, rclient, workers, tmp_path: Path):
    import joblib
    from sklearn.datasets import load_iris

    model_path = tmp_path / "iris.joblib"
    command = [
        sys.executable, str(support.EXAMPLES / "sklearn_iris_worker.py"),
        "--model-path", str(model_path), "--redis", redis_server.url, "--model", "iris", "--name", "iris-1",
        "--max-batch", "32", "--max-delay-ms", "20",
    ]  # fmt: skip
    worker = workers("iris-1", command=command, model="iris")
    worker.wait_joined(rclient)
    assert model_path.exists(), "the example trains and saves its model when the file is missing"

    local = joblib.load(model_path)
    features = load_iris().data.astype(np.float32)
    want_labels = local.predict(features)
    want_probabilities = local.predict_proba(features)

    # Requests of different sizes, in flight together, so the worker batches them.
    chunks = np.array_split(np.arange(len(features)), 12)
    with StreamClient(redis_server.url, "iris", timeout=20) as client:
        pending = [client.submit({"features": features[rows]}) for rows in chunks]
        for rows, request in zip(chunks, pending):
            outputs = request.result()
            np.testing.assert_array_equal(outputs["label"], want_labels[rows])
            np.testing.assert_allclose(outputs["probabilities"], want_probabilities[rows], rtol=1e-5, atol=1e-7)

        with pytest.raises(InferenceError) as failure:
            client.infer({"features": features[:2, :3]})
        assert failure.value.status == 400
        assert "input 'features' has shape [2, 3], the model expects [-1,4]" in failure.value.message

    async def infer_async() -> List[Dict[str, np.ndarray]]:
        async with AsyncStreamClient(redis_server.url, "iris", timeout=20) as client:
            return await asyncio.gather(*(client.infer({"features": features[rows]}) for rows in chunks))

    for rows, outputs in zip(chunks, asyncio.run(infer_async())):
        np.testing.assert_array_equal(outputs["label"], want_labels[rows])


# ---------------------------------------------------------------------------
# batching and bad entries


def test_concurrent_requests_are_batched_into_fewer_predict_calls(redis_server, rclient, workers, event_log):
    worker = workers("batcher", ["--max-batch", "16", "--max-delay-ms", "300"], sleep_s="0.2")
    worker.wait_joined(rclient)
    # 12 requests of 1 to 3 rows each, 24 rows in all, sent together.
    requests, next_tag = [], 1
    for i in range(12):
        rows = i % 3 + 1
        requests.append(list(range(next_tag, next_tag + rows)))
        next_tag += rows
    with StreamClient(redis_server.url, MODEL, timeout=20) as client:
        pending = [client.submit(tagged_inputs(tags)) for tags in requests]
        for tags, request in zip(requests, pending):
            assert_tagged_result(request.result(), tags)

    calls = predict_calls(read_events(event_log))
    executed = sorted(tag for call in calls for tag in call["tags"])
    assert executed == list(range(1, next_tag)), "every row runs exactly once"
    assert len(calls) < len(requests), f"{len(requests)} requests took {len(calls)} predict calls"
    assert max(len(call["tags"]) for call in calls) > 3, "some call carried rows of several requests"
    assert all(len(call["tags"]) <= 16 for call in calls), "no call is over --max-batch"


def test_an_invalid_entry_gets_400_and_its_batch_mates_still_run(redis_server, rclient, workers, event_log):
    worker = workers("strict", ["--max-batch", "8", "--max-delay-ms", "300"])
    worker.wait_joined(rclient)
    with StreamClient(redis_server.url, MODEL, timeout=20) as client:
        good = [client.submit(tagged_inputs([tag])) for tag in (1, 2)]
        wrong_shape = client.submit({"tag": np.array([[3]], np.int64), "x": np.zeros((1, 5), np.float32)})
        # An entry whose body is not JSON, added by hand with the same reply stream.
        rclient.xadd(
            f"surge:{MODEL}:requests",
            {"id": "garbage", "reply_to": client.reply_stream, "model": MODEL, "body": b"{not json"},
        )
        good.append(client.submit(tagged_inputs([4])))

        for tags, request in zip(([1], [2], [4]), good):
            assert_tagged_result(request.result(), tags)
        with pytest.raises(InferenceError) as failure:
            wrong_shape.result()
        assert failure.value.status == 400
        assert failure.value.message == "input 'x' has shape [1, 5], the model expects [-1,2]"
        garbage = wait_until(lambda: reply_stream_has(rclient, client.reply_stream, "garbage"), "the 400 for garbage")
        assert garbage[0][b"status"] == b"400"
        assert garbage[0][b"error"].startswith(b"malformed JSON header")
    executed = sorted(tag for call in predict_calls(read_events(event_log)) for tag in call["tags"])
    assert executed == [1, 2, 4]
    wait_until(lambda: nothing_pending(rclient), "every entry to be acknowledged")


# ---------------------------------------------------------------------------
# failures


def test_a_worker_killed_mid_batch_has_its_entries_reclaimed_and_answered_once(
    redis_server, rclient, workers, event_log
):
    timing = ["--heartbeat-ms", "200", "--claim-idle-ms", "1000", "--max-batch", "8", "--max-delay-ms", "200"]
    first = workers("doomed", timing, sleep_s="30")
    first.wait_joined(rclient)
    tags = [1, 2, 3, 4]
    with StreamClient(redis_server.url, MODEL, timeout=30) as client:
        pending = [client.submit(tagged_inputs([tag])) for tag in tags]

        def doomed_started():  # on the requests' rows, not warm-up's zeros
            return [e for e in predict_calls(read_events(event_log), "predict-start") if e["worker"] == "doomed"]

        wait_until(doomed_started, "the first worker to start its batch")
        first.kill()
        killed_at = time.monotonic()
        second = workers("rescuer", timing)
        second.wait_joined(rclient)

        for tag, request in zip(tags, pending):
            assert_tagged_result(request.result(), [tag])
        # Idle since the last keep-alive, at most one heartbeat before the kill.
        assert time.monotonic() - killed_at >= 0.7, "entries are reclaimed only after claim_idle"

        replies = replies_by_id(rclient, client.reply_stream)
        assert sorted(replies) == sorted(request.id for request in pending)
        assert all(len(r) == 1 for r in replies.values()), "each request is answered exactly once"
        assert {r[0][b"worker"] for r in replies.values()} == {b"rescuer"}

    started_by_doomed = sorted(tag for call in doomed_started() for tag in call["tags"])
    assert started_by_doomed, "the first worker took entries before it was killed"
    ended = predict_calls(read_events(event_log))
    assert all(call["worker"] == "rescuer" for call in ended)
    assert sorted(tag for call in ended for tag in call["tags"]) == tags
    wait_until(lambda: nothing_pending(rclient), "every entry to be acknowledged")


def test_a_poison_request_is_dead_lettered_and_the_others_succeed(redis_server, rclient, workers, event_log):
    max_deliveries = 2
    timing = ["--heartbeat-ms", "200", "--claim-idle-ms", "800", "--max-deliveries", str(max_deliveries)]
    timing += ["--max-batch", "8", "--max-delay-ms", "200"]
    poison = 666
    pool: List[WorkerProcess] = []
    deaths: Dict[int, int] = {}  # pid -> exit status
    stop = threading.Event()

    def spawn() -> WorkerProcess:
        worker = workers(f"w{len(pool)}", timing, poison_tag=str(poison))
        pool.append(worker)
        return worker

    def supervise() -> None:  # as a process supervisor would: replace workers that die
        while not stop.is_set():
            for worker in list(pool):
                status = worker.process.poll()
                if status is not None and worker.pid not in deaths:
                    deaths[worker.pid] = status
                    spawn()
            stop.wait(0.01)

    for worker in (spawn(), spawn()):
        worker.wait_joined(rclient)
    supervisor = threading.Thread(target=supervise)
    supervisor.start()
    try:
        with StreamClient(redis_server.url, MODEL, timeout=60) as client:
            tags = [1, 2, poison, 3, 4, 5]
            pending = {tag: client.submit(tagged_inputs([tag])) for tag in tags}
            for tag, request in pending.items():
                if tag == poison:
                    continue
                assert_tagged_result(request.result(), [tag])
            with pytest.raises(InferenceError) as failure:
                pending[poison].result()
    finally:
        stop.set()
        supervisor.join()

    assert failure.value.status == 500
    assert "dead-lettered" in failure.value.message
    assert list(deaths.values()) == [POISON_EXIT_STATUS] * max_deliveries, "each delivery but the last killed a worker"
    dead = rclient.xrange(f"surge:{MODEL}:dead")
    assert len(dead) == 1
    fields = dead[0][1]
    assert fields[b"id"].decode() == pending[poison].id
    assert fields[b"model"] == MODEL.encode() and fields[b"body"] and fields[b"reply_to"]
    assert fields[b"deliveries"] == str(max_deliveries + 1).encode()
    assert f"max_deliveries {max_deliveries}".encode() in fields[b"reason"]
    assert fields[b"last_worker"] in {w.name.encode() for w in pool}
    survivors = sorted(t for call in predict_calls(read_events(event_log)) for t in call["tags"])
    assert survivors == [1, 2, 3, 4, 5]


def test_an_expired_request_is_answered_504_and_never_executed(redis_server, rclient, workers, event_log):
    worker = workers("punctual", sleep_s="1.0")
    worker.wait_joined(rclient)
    with StreamClient(redis_server.url, MODEL, timeout=20) as client:
        # Already past its deadline when added.
        late = client.submit(tagged_inputs([7]), deadline_ms=now_ms() - 1000)
        with pytest.raises(InferenceError) as failure:
            late.result()
        assert failure.value.status == 504
        assert "deadline passed" in failure.value.message and "not executed" in failure.value.message

        # Expires while queued behind a slow request: the client gives up, the worker drops it.
        slow = client.submit(tagged_inputs([1]))
        wait_until(lambda: predict_calls(read_events(event_log), "predict-start"), "the slow request to start")
        queued = client.submit(tagged_inputs([8]), timeout=0.2)
        with pytest.raises(InferenceTimeout):
            queued.result()
        assert_tagged_result(slow.result(), [1])
        reply = wait_until(lambda: reply_stream_has(rclient, client.reply_stream, queued.id), "the queued 504")
        assert reply[0][b"status"] == b"504"

    executed = [tag for call in predict_calls(read_events(event_log), "predict-start") for tag in call["tags"]]
    assert executed == [1]


def test_a_long_batch_kept_alive_by_heartbeats_is_not_taken_over(redis_server, rclient, workers, event_log):
    # The predict call takes four times claim_idle; a second worker waits for orphans.
    timing = ["--heartbeat-ms", "100", "--claim-idle-ms", "800"]
    busy = workers("busy", timing, sleep_s="3.2")
    busy.wait_joined(rclient)
    with StreamClient(redis_server.url, MODEL, timeout=30) as client:
        request = client.submit(tagged_inputs([1]))
        wait_until(lambda: predict_calls(read_events(event_log), "predict-start"), "the long batch to start")
        idle = workers("idle", timing)
        idle.wait_joined(rclient)
        held = rclient.xpending_range(f"surge:{MODEL}:requests", GROUP, "-", "+", 10)
        assert [(p["consumer"], p["times_delivered"]) for p in held] == [(b"busy", 1)]
        assert held[0]["time_since_delivered"] < 800, "keep-alive resets the idle time"
        assert_tagged_result(request.result(), [1])
        replies = replies_by_id(rclient, client.reply_stream)
        assert [len(r) for r in replies.values()] == [1]
        assert replies[request.id][0][b"worker"] == b"busy"
    starts = predict_calls(read_events(event_log), "predict-start")
    assert [(call["worker"], call["tags"]) for call in starts] == [("busy", [1])], "run once, by its first taker"
    assert "reclaimed" not in idle.logs()


def test_a_cold_worker_reads_nothing_before_its_first_heartbeat(redis_server, rclient, workers, event_log):
    with StreamClient(redis_server.url, MODEL, timeout=30) as client:
        waiting = client.submit(tagged_inputs([5]))  # queued before any worker exists
        worker = workers("cold", warmup_sleep_s="1.5")
        wait_until(lambda: [e for e in read_events(event_log) if e["event"] == "warmup-start"], "warm-up to start")

        def delivered() -> int:
            try:
                groups = rclient.xinfo_groups(f"surge:{MODEL}:requests")
            except redis.ResponseError:
                return 0
            return sum(int(group["consumers"]) + int(group["pending"]) for group in groups)

        # Delivery first, heartbeat second: a heartbeat seen after a delivery
        # was written before it, so a delivery seen with no heartbeat after it
        # went to a worker that had not joined.
        polls = 0
        deadline = time.monotonic() + 30
        while True:
            seen_delivered = delivered()
            if rclient.zscore(f"surge:{MODEL}:workers", "cold") is not None:
                break
            assert seen_delivered == 0, "an entry was delivered to a worker that has not heartbeated"
            assert worker.process.poll() is None, worker.describe()
            assert time.monotonic() < deadline, "the worker never heartbeated"
            polls += 1
            time.sleep(0.005)
        assert polls > 0, "the warm-up was watched"
        assert_tagged_result(waiting.result(), [5])

    events = [(e["event"], e.get("tags")) for e in read_events(event_log)]
    assert events[:4] == [("warmup-start", None), ("predict-start", [0]), ("predict-end", [0]), ("warmup-end", None)]
    assert ("predict-start", [5]) in events[4:]


def test_sigterm_finishes_the_batch_then_leaves(redis_server, rclient, workers, event_log):
    worker = workers("leaving", sleep_s="1.0")
    worker.wait_joined(rclient)
    with StreamClient(redis_server.url, MODEL, timeout=20) as client:
        request = client.submit(tagged_inputs([9]))
        wait_until(lambda: predict_calls(read_events(event_log), "predict-start"), "the batch to start")
        assert worker.terminate() == 0
        assert_tagged_result(request.result(), [9])
    assert rclient.zscore(f"surge:{MODEL}:workers", "leaving") is None
    consumers = rclient.xinfo_consumers(f"surge:{MODEL}:requests", GROUP)
    assert all(c["name"] != b"leaving" for c in consumers)
    wait_until(lambda: nothing_pending(rclient), "every entry to be acknowledged")


def test_a_client_with_require_live_worker_fails_fast_without_workers(redis_server):
    with StreamClient(redis_server.url, MODEL, require_live_worker=True) as client:
        with pytest.raises(InferenceError) as failure:
            client.infer(tagged_inputs([1]))
    assert failure.value.status == 503
    assert f"no live worker for model '{MODEL}'" in failure.value.message


def test_an_entry_whose_reply_to_holds_another_type_is_dead_lettered_once(redis_server, rclient, workers, event_log):
    # Short claim times, so a wrongly unacknowledged entry would be claimed
    # and dead-lettered again while the test still waits for the others.
    worker = workers("typed", ["--heartbeat-ms", "100", "--claim-idle-ms", "300", "--max-batch", "4",
                               "--max-delay-ms", "100"])
    worker.wait_joined(rclient)
    rclient.rpush("not-a-stream", b"a list")
    with StreamClient(redis_server.url, MODEL, timeout=20) as client:
        before = client.submit(tagged_inputs([1]))
        body, header_length = kserve.encode_request(tagged_inputs([2]), id="wrongtype")
        fields = {"id": "wrongtype", "reply_to": "not-a-stream", "model": MODEL, "body": body}
        if header_length is not None:
            fields["header_length"] = str(header_length)
        rclient.xadd(f"surge:{MODEL}:requests", fields)
        after = client.submit(tagged_inputs([3]))
        assert_tagged_result(before.result(), [1])
        assert_tagged_result(after.result(), [3])
    wait_until(lambda: rclient.xlen(f"surge:{MODEL}:dead") >= 1, "the unanswerable entry's dead letter")
    wait_until(lambda: nothing_pending(rclient), "every entry to be acknowledged")
    # Acknowledged, so no claim can take it again: one letter, for good.
    dead = rclient.xrange(f"surge:{MODEL}:dead")
    assert len(dead) == 1, dead
    letter = dead[0][1]
    assert letter[b"id"] == b"wrongtype" and letter[b"reply_to"] == b"not-a-stream" and letter[b"body"]
    assert b"WRONGTYPE" in letter[b"reason"]
    assert letter[b"last_worker"] == b"typed"
    assert rclient.lrange("not-a-stream", 0, -1) == [b"a list"]
    assert worker.process.poll() is None, worker.describe()
