"""Worker-pool models end to end: `surge serve --redis` as the gateway,
`surge worker` processes, and a real redis-server started for this module
(docs/redis-streams.md is the contract under test).

Faults are real: workers are killed with SIGKILL, a poison request makes the
backend abort(), redis-server is restarted. Every request must get exactly
one answer; counts come from the workers' own summaries, the gateway's
late-reply counter and the streams in Redis.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import requests
import tritonclient.http as httpclient

from redis_e2e import (
    RedisServer,
    WorkerProcess,
    environment_has_redis,
    late_replies,
    pool_identity_config,
    wait_live_workers,
)
from surge_e2e import (
    HTTP_TIMEOUT_S,
    error_message,
    json_infer_body,
    output_array,
    post_infer,
    wait_until,
    write_model,
)

pytestmark = pytest.mark.skipif(not environment_has_redis(), reason="redis-server is not installed")


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def redis_db(redis_server):
    """The module's redis-server, emptied for this test."""
    redis_server.client().flushall()
    return redis_server


@pytest.fixture
def workers(tmp_path):
    """start(repository, model, redis_url, name, *args) -> WorkerProcess; stopped at teardown,
    where a worker still running must exit 0 on SIGTERM."""
    started: list[WorkerProcess] = []

    def start(repository, model, redis_url, name, *extra_args):
        worker = WorkerProcess(repository, model, redis_url, name, tmp_path / "workers", extra_args)
        started.append(worker)
        return worker

    yield start
    problems = []
    for worker in started:
        running = worker.process.poll() is None
        status = worker.stop()
        if running and status != 0:
            problems.append(f"worker {worker.name} exited {status} after SIGTERM\n{worker.logs()}")
    assert not problems, "\n".join(problems)


def _gateway(surge_factory, tmp_path, redis_url, name, **config):
    repository = tmp_path / "models"
    write_model(repository, name, pool_identity_config(name, **config))
    return repository, surge_factory(repository, "--redis", redis_url)


def _row(i: int) -> list[float]:
    return [float(i), float(i) + 0.5, -float(i)]


def _infer(server, model, i, timeout_us=None):
    parameters = {"timeout": timeout_us} if timeout_us else None
    return post_infer(server, model, json_infer_body([_row(i)], parameters=parameters))


def _assert_echo(response, i):
    np.testing.assert_array_equal(output_array(response), np.asarray([_row(i)], dtype=np.float32))


def _pending(redis_server, model):
    return redis_server.client().xpending(f"surge:{model}:requests", "surge-workers")["pending"]


# (a) -------------------------------------------------------------------------


def test_gateway_and_two_workers_answer_every_request(surge_factory, tmp_path, redis_db, workers):
    model = "pool_identity"
    repository, server = _gateway(surge_factory, tmp_path, redis_db.url, model, max_batch_size=8,
                                  execute_delay_us=2000)
    pool = [workers(repository, model, redis_db.url, f"w{i}") for i in range(2)]
    for worker in pool:
        worker.wait_joined()
    wait_live_workers(server, model, 2)

    # Binary tensors through tritonclient, and JSON through plain HTTP.
    client = server.client(concurrency=8)
    inputs = []
    for i in range(40):
        tensor = httpclient.InferInput("INPUT0", [2, 3], "FP32")
        tensor.set_data_from_numpy(np.asarray([_row(i), _row(i + 1)], dtype=np.float32), binary_data=True)
        inputs.append(tensor)
    pending = [client.async_infer(model, [tensor]) for tensor in inputs]
    for i, call in enumerate(pending):
        result = call.get_result()
        np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), np.asarray([_row(i), _row(i + 1)], np.float32))
    with ThreadPoolExecutor(16) as executor:
        answers = list(executor.map(lambda i: _infer(server, model, i), range(160)))
    for i, response in enumerate(answers):
        _assert_echo(response, i)

    # Exactly once: the workers executed 200 requests between them, nothing
    # was answered twice, nothing is left pending.
    assert late_replies(server) == 0
    assert _pending(redis_db, model) == 0
    for worker in pool:
        assert worker.stop() == 0
    executed = [worker.executed() for worker in pool]
    assert sum(executed) == 200, f"executed per worker: {executed}"
    assert redis_db.client().zcard(f"surge:{model}:workers") == 0, "workers must leave the set on a clean exit"


# (b) -------------------------------------------------------------------------


def test_a_killed_workers_batch_is_answered_once_by_the_other(surge_factory, tmp_path, redis_db, workers):
    model = "pool_crash"
    repository, server = _gateway(surge_factory, tmp_path, redis_db.url, model, max_batch_size=4,
                                  execute_delay_us=300_000, heartbeat_ms=100, claim_idle_ms=800)
    victim = workers(repository, model, redis_db.url, "victim")
    victim.wait_joined()
    wait_live_workers(server, model, 1)
    survivor = workers(repository, model, redis_db.url, "survivor")

    count = 24
    with ThreadPoolExecutor(count) as executor:
        answers = [executor.submit(_infer, server, model, i) for i in range(count)]
        # Kill the victim while it holds entries (they are pending under its name).
        client = redis_db.client()

        def victim_busy():
            summary = client.xpending(f"surge:{model}:requests", "surge-workers")
            return any(c["name"] == b"victim" and c["pending"] > 0 for c in summary["consumers"])

        wait_until(victim_busy, "the victim to hold a batch")
        held = {c["name"]: c["pending"] for c in client.xpending(f"surge:{model}:requests", "surge-workers")["consumers"]}
        victim.kill()
        survivor.wait_joined()
        results = [a.result(HTTP_TIMEOUT_S * 2) for a in answers]

    for i, response in enumerate(results):
        _assert_echo(response, i)
    assert held.get(b"victim", 0) > 0
    assert late_replies(server) == 0, "an answer arrived twice"
    assert client.xlen(f"surge:{model}:dead") == 0
    assert _pending(redis_db, model) == 0
    assert survivor.stop() == 0
    # The survivor ran what the victim held when it died, and the rest.
    assert survivor.executed() >= held[b"victim"]


# (c) -------------------------------------------------------------------------


def test_redis_outage_and_restart_under_load_leave_every_request_one_answer(surge_factory, tmp_path, workers):
    redis_server = RedisServer(tmp_path / "redis-aof", append_only=True)
    try:
        model = "pool_restart"
        repository, server = _gateway(surge_factory, tmp_path, redis_server.url, model, max_batch_size=4,
                                      execute_delay_us=20_000)
        worker = workers(repository, model, redis_server.url, "w")
        worker.wait_joined()
        wait_live_workers(server, model, 1)

        stop_load = threading.Event()
        outcomes: list[tuple[int, int, str]] = []
        lock = threading.Lock()

        def load(offset: int) -> None:
            i = offset
            while not stop_load.is_set():
                response = _infer(server, model, i, timeout_us=10_000_000)
                with lock:
                    outcomes.append((i, response.status_code, response.text))
                i += 100_000

        def since(mark: int, status: int, words: str = "") -> bool:
            with lock:
                return any(s == status and words in t for _, s, t in outcomes[mark:])

        with ThreadPoolExecutor(8) as executor:
            loaders = [executor.submit(load, k) for k in range(8)]
            wait_until(lambda: len(outcomes) >= 20, "requests to flow before the restart")
            # Down long enough for the gateway to stop waiting for it...
            redis_server.stop()
            down = len(outcomes)
            wait_until(lambda: since(down, 503, "redis"), "requests to fail fast while Redis is down", 30)
            # ...and back: the gateway and the worker reconnect on their own.
            redis_server.start_again()
            up = len(outcomes)
            wait_until(lambda: since(up, 200), "a request to succeed after the restart", 30)
            stop_load.set()
            for loader in loaders:
                loader.result(HTTP_TIMEOUT_S)

        ids = [i for i, _, _ in outcomes]
        assert len(ids) == len(set(ids)), "a request was answered twice"
        for i, status, text in outcomes:
            if status == 200:
                np.testing.assert_array_equal(
                    np.asarray(json.loads(text)["outputs"][0]["data"], np.float32), np.asarray(_row(i), np.float32))
            else:
                # A clear error: 503 (Redis gone) or 504 (deadline), with a message.
                assert status in (503, 504), f"request {i}: {status} {text[:300]}"
                assert json.loads(text)["error"]
        assert sum(1 for _, status, _ in outcomes if status == 200) > 20
        # A request whose XADD was cut off by the outage was answered 503,
        # yet its entry may have been written and run after all: its reply
        # comes late and is dropped. Only those can come late.
        errors = sum(1 for _, status, _ in outcomes if status != 200)
        assert late_replies(server) <= errors
    finally:
        redis_server.stop()


# (d) -------------------------------------------------------------------------


def test_a_poison_request_is_dead_lettered_and_the_rest_succeed(surge_factory, tmp_path, redis_db, workers):
    model = "pool_poison"
    repository, server = _gateway(surge_factory, tmp_path, redis_db.url, model, max_batch_size=4,
                                  execute_delay_us=50_000, heartbeat_ms=100, claim_idle_ms=500, max_deliveries=3,
                                  extra_parameters={"crash_on_value": "13"})
    names = ["p0", "p1"]
    pool = {name: workers(repository, model, redis_db.url, name) for name in names}
    for worker in pool.values():
        worker.wait_joined()
    wait_live_workers(server, model, 2)

    # Crashed workers come back, as a supervisor would bring them back.
    stop_supervising = threading.Event()
    restarts = []

    def supervise():
        generation = 0
        while not stop_supervising.is_set():
            for name in names:
                if pool[name].process.poll() is not None:
                    generation += 1
                    restarts.append(name)
                    pool[name] = workers(repository, model, redis_db.url, name)
            stop_supervising.wait(0.05)

    supervisor = threading.Thread(target=supervise)
    supervisor.start()
    try:
        with ThreadPoolExecutor(16) as executor:
            poison = executor.submit(_infer, server, model, 13)
            others = [executor.submit(_infer, server, model, i) for i in range(20) if i != 13]
            poisoned = poison.result(HTTP_TIMEOUT_S * 2)
            answered = [o.result(HTTP_TIMEOUT_S * 2) for o in others]
    finally:
        stop_supervising.set()
        supervisor.join()

    assert poisoned.status_code == 500, f"{poisoned.status_code} {poisoned.text[:300]}"
    assert "dead-lettered" in error_message(poisoned)
    for response, i in zip(answered, [i for i in range(20) if i != 13]):
        _assert_echo(response, i)
    assert restarts, "the poison request never crashed a worker"

    dead = redis_db.client().xrange(f"surge:{model}:dead")
    assert len(dead) == 1, dead
    fields = dead[0][1]
    assert int(fields[b"deliveries"]) > 3
    assert fields[b"model"] == model.encode()
    assert fields[b"reason"].startswith(b"delivered")
    assert fields[b"last_worker"] in (b"p0", b"p1")
    assert late_replies(server) == 0


# (e) -------------------------------------------------------------------------


def test_a_batch_longer_than_claim_idle_runs_once(surge_factory, tmp_path, redis_db, workers):
    model = "pool_slow"
    repository, server = _gateway(surge_factory, tmp_path, redis_db.url, model, max_batch_size=2,
                                  execute_delay_us=1_500_000, heartbeat_ms=100, claim_idle_ms=400)
    pool = [workers(repository, model, redis_db.url, f"s{i}") for i in range(2)]
    for worker in pool:
        worker.wait_joined()
    wait_live_workers(server, model, 2)

    with ThreadPoolExecutor(6) as executor:
        answers = list(executor.map(lambda i: _infer(server, model, i), range(6)))
    for i, response in enumerate(answers):
        _assert_echo(response, i)
    assert late_replies(server) == 0
    for worker in pool:
        assert worker.stop() == 0
    executed = [worker.executed() for worker in pool]
    assert sum(executed) == 6, f"a batch ran twice: executed per worker {executed}"


# (f) -------------------------------------------------------------------------


def test_without_workers_requests_fail_fast_with_the_reason(surge_factory, tmp_path, redis_db):
    model = "pool_empty"
    _, server = _gateway(surge_factory, tmp_path, redis_db.url, model)
    session = requests.Session()
    body = json.dumps(json_infer_body([_row(1)]))
    url = server.url(f"/v2/models/{model}/infer")
    session.post(url, data=body, timeout=HTTP_TIMEOUT_S)  # the connection is open; time the answer alone
    for _ in range(5):
        start = time.monotonic()
        response = session.post(url, data=body, timeout=HTTP_TIMEOUT_S)
        elapsed = time.monotonic() - start
        assert response.status_code == 503, f"{response.status_code} {response.text[:300]}"
        assert f"no live worker for model '{model}'" in error_message(response)
        assert elapsed < 0.1, f"took {elapsed * 1000:.0f} ms to refuse"
    assert redis_db.client().xlen(f"surge:{model}:requests") == 0, "a refused request must not be queued"


# (g) -------------------------------------------------------------------------


def test_a_cold_worker_takes_no_work_before_its_warm_up(surge_factory, tmp_path, redis_db, workers):
    model = "pool_cold"
    repository, server = _gateway(surge_factory, tmp_path, redis_db.url, model,
                                  extra_parameters={"load_delay_ms": "3000"})
    client = redis_db.client()
    # A producer of its own, speaking the contract directly, queues one
    # request before any worker exists.
    body = json.dumps(json_infer_body([_row(7)])).encode()
    client.xadd(f"surge:{model}:requests",
                {"id": "early", "reply_to": "test:replies", "model": model, "body": body})
    cold = workers(repository, model, redis_db.url, "cold")

    # While it loads and warms up it is not a consumer, not live, holds nothing.
    response = post_infer(server, model, json_infer_body([_row(1)]))
    assert response.status_code == 503 and "no live worker" in error_message(response)
    assert not cold.joined()
    assert client.zcard(f"surge:{model}:workers") == 0
    assert client.xlen("test:replies") == 0
    assert client.exists(f"surge:{model}:requests") == 1

    cold.wait_joined()
    reply = wait_until(lambda: client.xread({"test:replies": "0"}, count=1), "the early request's reply")
    fields = reply[0][1][0][1]
    assert fields[b"id"] == b"early"
    assert fields[b"status"] == b"200"
    assert fields[b"worker"] == b"cold"
    header_length = int(fields[b"header_length"]) if b"header_length" in fields else len(fields[b"body"])
    answer = json.loads(fields[b"body"][:header_length])
    assert answer["outputs"][0]["name"] == "OUTPUT0"
    # Warm-up ran before the join line: the worker said it was warm first.
    log = cold.stdout_text()
    assert log.index("cold warm") < log.index("cold joined")
    wait_live_workers(server, model, 1)
    _assert_echo(_infer(server, model, 3), 3)


# (h) -------------------------------------------------------------------------


def _children(pid: int) -> dict[int, str]:
    """Child process ids of `pid` and their command lines."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in children:
            try:
                out[int(child)] = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except FileNotFoundError:
                pass
    return out


def _local_workers(server) -> dict[int, str]:
    return {pid: cmd for pid, cmd in _children(server.process.pid).items() if " worker " in cmd}


def test_local_pool_serves_and_restarts_a_killed_worker(surge_factory, tmp_path):
    model = "pool_local"
    repository = tmp_path / "models"
    write_model(repository, model, pool_identity_config(model, local_workers=2, heartbeat_ms=100, claim_idle_ms=500))
    server = surge_factory(repository)  # no --redis: it starts its own redis-server and two workers

    assert "local redis at redis://127.0.0.1:" in server.stdout_text()
    assert any("redis-server" in cmd for cmd in _children(server.process.pid).values())
    wait_until(lambda: server.stdout_text().count(" joined model pool_local") >= 2, "both local workers to join", 30)
    wait_live_workers(server, model, 2)
    for i in range(10):
        _assert_echo(_infer(server, model, i), i)

    before = _local_workers(server)
    assert len(before) == 2, before
    victim = next(iter(before))
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: f"(pid {victim}) killed by signal 9" in server.stderr_text(), "the pool to notice the death")
    wait_until(lambda: len(_local_workers(server)) == 2 and victim not in _local_workers(server),
               "the pool to start a replacement", 30)
    wait_until(lambda: server.stdout_text().count(" joined model pool_local") >= 3, "the replacement to join", 30)
    with ThreadPoolExecutor(8) as executor:
        answers = list(executor.map(lambda i: _infer(server, model, i), range(40)))
    for i, response in enumerate(answers):
        _assert_echo(response, i)

    # On shutdown the workers and the redis-server go with it.
    children = list(_children(server.process.pid))
    assert server.stop() == 0
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text(), pid


# (e) -------------------------------------------------------------------------


def test_a_workers_batch_with_one_invalid_row_answers_that_row_alone(surge_factory, tmp_path, redis_db, workers):
    model = "pool_rows"
    repository, server = _gateway(surge_factory, tmp_path, redis_db.url, model, max_batch_size=4,
                                  execute_delay_us=400_000, fail_on_value=13)
    worker = workers(repository, model, redis_db.url, "w")
    worker.wait_joined()
    wait_live_workers(server, model, 1)

    with ThreadPoolExecutor(5) as executor:
        # The first request holds the worker; the next four wait in the stream
        # meanwhile and reach it together, as one batch.
        holder = executor.submit(_infer, server, model, 0)
        client = redis_db.client()
        wait_until(lambda: _pending(redis_db, model) > 0 and client.xlen(f"surge:{model}:requests") >= 1,
                   "the worker to take the first request")
        rows = [1, 13, 2, 3]
        answers = [executor.submit(_infer, server, model, i) for i in rows]
        results = [a.result(HTTP_TIMEOUT_S) for a in answers]
        _assert_echo(holder.result(HTTP_TIMEOUT_S), 0)

    for i, response in zip(rows, results):
        if i == 13:
            assert response.status_code == 500, f"{response.status_code} {response.text[:300]}"
            assert "injected failure" in error_message(response) and "contains 13" in error_message(response)
        else:
            _assert_echo(response, i)
    assert worker.stop() == 0
    assert (worker.executed(), worker.batches()) == (5, 2), worker.stdout_text()


def test_an_entry_whose_reply_to_holds_another_type_is_dead_lettered_once(surge_factory, tmp_path, redis_db,
                                                                           workers):
    model = "pool_wrongtype"
    repository, server = _gateway(surge_factory, tmp_path, redis_db.url, model, heartbeat_ms=100, claim_idle_ms=300)
    worker = workers(repository, model, redis_db.url, "typed")
    worker.wait_joined()
    wait_live_workers(server, model, 1)
    client = redis_db.client()
    client.rpush("not-a-stream", "a list")
    body = json.dumps(json_infer_body([_row(7)])).encode()
    client.xadd(f"surge:{model}:requests", {"id": "wrongtype", "reply_to": "not-a-stream", "model": model,
                                            "body": body})
    # The gateway's requests, before and after it, are answered.
    for i in range(3):
        _assert_echo(_infer(server, model, i), i)
    wait_until(lambda: client.xlen(f"surge:{model}:dead") >= 1, "the unanswerable entry's dead letter")
    wait_until(lambda: _pending(redis_db, model) == 0, "every entry to be acknowledged")
    # Acknowledged, so no claim can take it again: one letter, for good.
    dead = client.xrange(f"surge:{model}:dead")
    assert len(dead) == 1, dead
    letter = dead[0][1]
    assert letter[b"id"] == b"wrongtype" and letter[b"reply_to"] == b"not-a-stream" and letter[b"body"] == body
    assert b"WRONGTYPE" in letter[b"reason"]
    assert letter[b"last_worker"] == b"typed"
    assert client.lrange("not-a-stream", 0, -1) == [b"a list"]
    _assert_echo(_infer(server, model, 9), 9)


# (j) -------------------------------------------------------------------------


def test_a_producers_whole_batch_runs_at_once_without_a_second_queue_delay(tmp_path, redis_db, workers):
    # A long max_queue_delay: a worker that waited it again would answer
    # seconds late. Entries tagged as one complete batch run at once, together.
    model = "pool_tagged"
    delay_s = 4.0
    repository = tmp_path / "models"
    write_model(repository, model, pool_identity_config(model, max_queue_delay_us=int(delay_s * 1e6)))
    worker = workers(repository, model, redis_db.url, "tagged")
    worker.wait_joined()
    client = redis_db.client()
    started = time.monotonic()
    with client.pipeline(transaction=True) as write:
        for i in range(3):
            body = json.dumps(json_infer_body([_row(i)])).encode()
            write.xadd(f"surge:{model}:requests", {"id": f"r{i}", "reply_to": "test:tagged", "model": model,
                                                   "batch": "b1", "batch_size": 3, "body": body})
        write.execute()
    wait_until(lambda: client.xlen("test:tagged") == 3, "the batch's three replies")
    elapsed = time.monotonic() - started
    assert elapsed < delay_s / 2, f"answered after {elapsed:.2f} s: the worker waited for more entries"
    replies = client.xrange("test:tagged")
    assert sorted(fields[b"id"] for _, fields in replies) == [b"r0", b"r1", b"r2"]
    assert all(fields[b"status"] == b"200" for _, fields in replies)
    wait_until(lambda: _pending(redis_db, model) == 0, "the batch acknowledged")
    assert worker.stop() == 0
    assert worker.batches() == 1, "the three entries of one producer batch run as one batch"
