"""Features models end to end (`platform: "features"`): the fraud demo model
over a real redis-server, its vectors held bit for bit equal to the Python
reference (scripts/models/fraud_features.py) fed the same stream entries.

Each test starts a redis-server of its own and `surge serve --redis` on a
repository holding `fraud` and its scoring model `fraud_xgboost` (copied from
the demo repository). Stream entries are XADDed in the order the reference
takes them; a test waits until the server's surge_feature_events_total
counts every entry before it asks for features. Simulated event time starts
at fraud_data.START_MS; the server's wall clock plays no part but in the
static attributes' cache.

What is held: the FEATURES output (return_features) of every user after
five minutes of events, at the latest event time and at later ones; the
same after a restart, rebuilt from the stream before the model reports
ready, with the same counters; late events applied and counted, too-late
ones dropped and counted, malformed entries counted while the rest go on;
static attributes from hashes, NaN where missing, refreshed after their
TTL; scores equal to XGBoost's own on the reference vectors, also when each
transaction is scored before it is added, as the demo serves; batches with
unknown entities; and gRPC. The shared demo server runs without --redis:
there fraud is unavailable and the rest of the repository serves.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from features_e2e import (
    FEATURES_OUTPUT,
    FRAUD,
    MODEL,
    Feed,
    assert_same_vectors,
    empty_window_vector,
    entities,
    event_counts,
    fraud_data,
    fraud_features,
    infer_all,
    infer_grpc,
    infer_http,
    request_amounts,
    scoring_model_dir,
    wait_taken,
    write_repository,
)
from redis_e2e import RedisServer, environment_has_redis
from score_e2e import python_predictions
from surge_e2e import CONDITION_TIMEOUT_S, wait_until

pytestmark = pytest.mark.skipif(not environment_has_redis(), reason="redis-server is not installed")

USERS = 300
STREAM_SEED = 11
SPAN_MS = 290_000  # under the longest window: every event is still in a 5-minute window at the end
MEDIAN_GAP_MS = 30_000  # about ten transactions per user over the span
LATE_EVENTS = 6
TOO_LATE_EVENTS = 6
AMOUNT_SEED = 5
SCORE_TOLERANCE = 1e-6
SHORT_TTL_MS = 200

B = fraud_data.START_MS  # a whole number of tiles
T = FRAUD.tile_ms
LATENESS = FRAUD.allowed_lateness_ms
VECTOR = FRAUD.vector


def _column(name: str) -> int:
    return VECTOR.index(name)


@pytest.fixture(scope="module")
def scoring_dir(demo_repository: Path) -> Path:
    try:
        return scoring_model_dir(demo_repository)
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="module")
def stream():
    """A few hundred users over five minutes of event time, with a few late and too-late events."""
    generated = fraud_data.transactions(USERS, STREAM_SEED, span_ms=SPAN_MS, median_gap_ms=MEDIAN_GAP_MS,
                                        late=LATE_EVENTS, too_late=TOO_LATE_EVENTS,
                                        allowed_lateness_ms=LATENESS)
    assert len(generated.events) > 2000, len(generated.events)
    return generated


@pytest.fixture
def redis_server(tmp_path: Path):
    server = RedisServer(tmp_path / "redis")
    yield server
    server.stop()


@pytest.fixture
def feed(redis_server) -> Feed:
    return Feed(redis_server.client())


@pytest.fixture
def repository(tmp_path: Path, scoring_dir: Path) -> Path:
    return write_repository(tmp_path / "models", scoring_dir)


def _serve(surge_factory, repository: Path, redis_server):
    server = surge_factory(repository, "--redis", redis_server.url)
    with server.client() as client:
        assert client.is_model_ready(MODEL), f"{MODEL} is not ready\n{server.describe()}"
    return server


def _check_every_user(server, feed: Feed, users: list[str], event_time_ms: int | None, what: str):
    """Every user's FEATURES at event_time_ms (None: the server's latest event time) equal the reference's."""
    amounts = request_amounts(users, AMOUNT_SEED)
    scores, vectors = infer_all(server, users, amounts, event_time_ms)
    expected = feed.expected(users, amounts, event_time_ms)
    assert_same_vectors(vectors, expected, users, what)
    assert scores.shape == (len(users), 1), scores.shape
    return scores, expected


def test_demo_config_renders_the_reference_spec(demo_repository: Path, scoring_dir: Path):
    config = demo_repository / MODEL / "config.pbtxt"
    assert config.is_file(), f"{config} is missing: run /usr/bin/python3 scripts/make_models.py --only {MODEL}"
    assert config.read_text() == fraud_features.config_pbtxt(FRAUD)
    assert (demo_repository / MODEL / "1").is_dir()
    assert f"dims: [ {len(VECTOR)} ]" in (scoring_dir / "config.pbtxt").read_text()


def test_without_redis_the_demo_model_is_unavailable_and_the_rest_serve(surge):
    """The shared demo server runs without --redis: fraud cannot load, its scoring model and the others do."""
    with surge.client() as client:
        states = {entry["name"]: entry for entry in client.get_model_repository_index()}
        assert states[MODEL].get("state") == "UNAVAILABLE", states[MODEL]
        assert states[MODEL].get("reason"), states[MODEL]
        assert states[FRAUD.scoring_model].get("state") == "READY", states[FRAUD.scoring_model]
        assert client.is_server_ready()


def test_features_equal_the_reference_for_every_user(surge_factory, redis_server, feed, repository, stream):
    feed.set_attributes(stream.attributes)
    server = _serve(surge_factory, repository, redis_server)
    feed.add(stream.events)  # after the load: the server follows the stream
    counts = wait_taken(server, feed)
    assert counts == feed.expected_counts()
    assert counts["late"] == LATE_EVENTS and counts["too_late"] == TOO_LATE_EVENTS, counts
    assert entities(server) == feed.reference.entities

    latest = feed.reference.latest_time_ms
    assert latest == stream.last_time_ms
    _check_every_user(server, feed, stream.users, latest, "at the latest event time")
    # A millisecond later, the next tile, past the 1-minute window, past every window.
    for later in (latest + 1, latest - latest % T + T, latest + 60_000, latest + 300_000):
        _check_every_user(server, feed, stream.users, later, f"at {later - B} ms")
    _check_every_user(server, feed, stream.users, None, "without event_time_ms (the latest event time)")


def test_restart_rebuilds_the_windows_from_the_stream(surge_factory, redis_server, feed, repository, stream):
    feed.set_attributes(stream.attributes)
    half = len(stream.events) // 2
    feed.add(stream.events[:half])  # before the load: read from the start
    first = _serve(surge_factory, repository, redis_server)
    feed.add(stream.events[half:])  # after it: followed
    counts = wait_taken(first, feed)
    assert counts == feed.expected_counts()
    latest = feed.reference.latest_time_ms
    before, _ = _check_every_user(first, feed, stream.users, latest, "first server")
    gauge = entities(first)
    assert gauge == feed.reference.entities
    assert first.stop() == 0, first.describe()

    second = _serve(surge_factory, repository, redis_server)
    # Ready means the whole stream has been read: nothing to wait for.
    assert event_counts(second) == counts
    assert entities(second) == gauge
    after, _ = _check_every_user(second, feed, stream.users, latest, "after the restart")
    np.testing.assert_array_equal(after, before)
    _check_every_user(second, feed, stream.users, None, "after the restart, without event_time_ms")

    # And it follows what comes next.
    more = fraud_data.transactions(40, STREAM_SEED + 1, start_ms=latest + 1, span_ms=60_000,
                                   median_gap_ms=MEDIAN_GAP_MS)
    feed.add(more.events)
    assert wait_taken(second, feed) == feed.expected_counts()
    # The same user ids: these events extend the windows the stream built.
    _check_every_user(second, feed, stream.users, feed.reference.latest_time_ms, "after more events")


def _event(user: str, ts_ms: int, amount: str = "10.00", merchant: str = "m1") -> dict[str, str]:
    return {"user_id": user, "ts_ms": str(ts_ms), "amount": amount, "merchant": merchant}


def test_late_events_are_applied_and_too_late_ones_dropped(surge_factory, redis_server, feed, repository):
    server = _serve(surge_factory, repository, redis_server)
    lateness = LATENESS
    entries = [
        _event("alice", B + 5_000, "10.00", "m1"),
        _event("pusher", B + 30_000, "1.00", "m9"),  # another user's event moves the latest time
        _event("alice", B + 27_000, "20.00", "m2"),  # late by 3 s
        _event("alice", B + 30_000 - lateness, "30.00", "m3"),  # exactly as late as allowed
        _event("alice", B + 30_000 - lateness - 1, "999999.00", "m4"),  # a millisecond more: dropped
        _event("alice", B + 30_000, "40.00", "m1"),  # as new as the latest: not late
        _event("pusher", B + 100_000, "1.00", "m9"),
        _event("alice", B + 60_000, "999999.00", "m5"),  # 40 s behind: dropped
        _event("alice", B + 95_000, "50.00", "m6"),  # late by 5 s
    ]
    outcomes = feed.add(entries)
    assert outcomes == ["applied", "applied", "late", "late", "too_late", "applied", "applied", "too_late", "late"]
    counts = wait_taken(server, feed)
    assert counts == {"applied": 7, "late": 3, "too_late": 2, "malformed": 0}, counts

    users = ["alice", "pusher"]
    amounts = [12.0, 1.0]
    for t in (B + 100_000, B + 95_000, B + 160_000):
        with server.client() as client:
            _, vectors = infer_http(client, users, amounts, t)
        assert_same_vectors(vectors, feed.expected(users, amounts, t), users, f"at {t - B} ms")
    with server.client() as client:
        _, vectors = infer_http(client, ["alice"], [12.0], B + 100_000)
    alice = dict(zip(VECTOR, vectors[0].tolist()))
    # 10 + 20 + 30 + 40 + 50 over five events at m1, m2, m3, m1, m6; the dropped 999999.00 are nowhere.
    assert alice["amount_sum_5m"] == 150.0 and alice["amount_mean_5m"] == 30.0, alice
    assert alice["amount_max_5m"] == 50.0 and alice["merchants_5m"] == 4.0, alice
    assert alice["count_1m"] == 1.0, alice  # only the event at 95 s lies within a minute of 100 s


def test_window_edges_follow_tiles(surge_factory, redis_server, feed, repository):
    server = _serve(surge_factory, repository, redis_server)
    feed.add([
        _event("carol", B + 59_999, "1.00", "m1"),
        _event("carol", B + 60_000, "2.00", "m2"),
        _event("carol", B + 119_999, "4.00", "m2"),
    ])
    wait_taken(server, feed)
    # t -> count_1m: the window ends with t's whole tile, so an event later than t in it counts.
    expected_counts = {B + 119_000: 2.0, B + 119_999: 2.0, B + 120_000: 1.0, B + 178_999: 1.0, B + 179_000: 0.0}
    with server.client() as client:
        for t, count in expected_counts.items():
            _, vectors = infer_http(client, ["carol"], [3.0], t)
            assert_same_vectors(vectors, feed.expected(["carol"], [3.0], t), ["carol"], f"at {t - B} ms")
            assert vectors[0][_column("count_1m")] == count, (t - B, vectors[0].tolist())
        _, vectors = infer_http(client, ["carol"], [3.0], B + 359_999)  # the 5-minute windows' last tile with them
        assert vectors[0][_column("amount_sum_5m")] == 6.0 and vectors[0][_column("merchants_5m")] == 1.0
        _, vectors = infer_http(client, ["carol"], [3.0], B + 419_999)
        assert_same_vectors(vectors, np.asarray([empty_window_vector(3.0, None)], dtype=np.float32), ["carol"],
                            "after every window")


def test_malformed_entries_are_counted_and_skipped(surge_factory, redis_server, feed, repository, stream):
    server = _serve(surge_factory, repository, redis_server)
    good = stream.events[:400]
    # Later than every good event: one taken for an event would move the latest
    # time and make the good ones after it late or too late.
    future = str(B + 600_000)
    malformed = [
        {"ts_ms": future, "amount": "1.00", "merchant": "m1"},  # no entity
        {"user_id": "u1", "amount": "1.00", "merchant": "m1"},  # no time
        {"user_id": "u1", "ts_ms": "soon", "amount": "1.00", "merchant": "m1"},
        {"user_id": "u1", "ts_ms": future + ".5", "amount": "1.00", "merchant": "m1"},
        {"user_id": "u1", "ts_ms": future, "merchant": "m1"},  # no amount
        {"user_id": "u1", "ts_ms": future, "amount": "abc", "merchant": "m1"},
        {"user_id": "u1", "ts_ms": future, "amount": "", "merchant": "m1"},
        {"user_id": "u1", "ts_ms": future, "amount": "1.00"},  # no merchant
    ]
    # Malformed entries between good ones; the good ones after them still count.
    entries = good[:200] + malformed[:4] + good[200:300] + malformed[4:] + good[300:]
    outcomes = feed.add(entries)
    assert outcomes.count("malformed") == len(malformed)
    counts = wait_taken(server, feed)
    assert counts == feed.expected_counts()
    assert counts["malformed"] == len(malformed), counts
    _check_every_user(server, feed, stream.users, feed.reference.latest_time_ms, "after malformed entries")
    feed.add(stream.events[400:])
    assert wait_taken(server, feed) == feed.expected_counts()
    _check_every_user(server, feed, stream.users, feed.reference.latest_time_ms, "and after the rest")


def test_static_attributes_come_from_hashes(surge_factory, redis_server, feed, repository):
    attributes = {
        "full": {"age": "34", "account_age_days": "800"},
        "fraction": {"age": "34.5", "account_age_days": "-3"},
        "partial": {"age": "51"},  # no account_age_days
        "words": {"age": "abc", "account_age_days": "12"},
        "unrelated": {"nickname": "x"},  # a hash without either field
    }
    feed.set_attributes(attributes)
    users = [*attributes, "no_hash"]
    feed.add([_event(user, B + 1_000 + i) for i, user in enumerate(users)])
    server = _serve(surge_factory, repository, redis_server)
    with server.client() as client:
        _, vectors = infer_http(client, users, [5.0] * len(users), B + 2_000)
    assert_same_vectors(vectors, feed.expected(users, [5.0] * len(users), B + 2_000), users, "static attributes")
    got = {user: (row[_column("age")], row[_column("account_age_days")]) for user, row in zip(users, vectors)}
    assert got["full"] == (34.0, 800.0) and got["fraction"] == (34.5, -3.0), got
    assert got["partial"][0] == 51.0 and math.isnan(got["partial"][1]), got
    assert math.isnan(got["words"][0]) and got["words"][1] == 12.0, got
    assert all(math.isnan(v) for v in got["unrelated"] + got["no_hash"]), got


def test_static_attributes_are_read_again_after_their_ttl(surge_factory, redis_server, feed, tmp_path, scoring_dir):
    repository = write_repository(tmp_path / "short_ttl", scoring_dir, FRAUD.replace(static_ttl_ms=SHORT_TTL_MS))
    feed.set_attributes({"dave": {"age": "40", "account_age_days": "10"}})
    feed.add([_event("dave", B + 1_000)])
    server = _serve(surge_factory, repository, redis_server)

    def age() -> float:
        with server.client() as client:
            _, vectors = infer_http(client, ["dave"], [5.0], B + 1_000)
        return float(vectors[0][_column("age")])

    assert age() == 40.0
    feed.set_attributes({"dave": {"age": "41", "account_age_days": "11"}})
    wait_until(lambda: age() == 41.0, f"the new age to show within {CONDITION_TIMEOUT_S:.0f} s", CONDITION_TIMEOUT_S)
    feed.set_attributes({"dave": {}})  # the hash is gone
    wait_until(lambda: math.isnan(age()), "a removed hash to read as NaN", CONDITION_TIMEOUT_S)


def test_scores_equal_xgboost_on_the_reference_vectors(surge_factory, redis_server, feed, repository, stream,
                                                       scoring_dir):
    feed.set_attributes(stream.attributes)
    server = _serve(surge_factory, repository, redis_server)
    feed.add(stream.events)
    wait_taken(server, feed)
    scores, expected = _check_every_user(server, feed, stream.users, feed.reference.latest_time_ms, "scored")
    _assert_scores(scores, python_predictions(scoring_dir, expected), "every user at the latest time")

    # As the demo serves: each new transaction is scored at its own time, then added.
    more = fraud_data.transactions(60, STREAM_SEED + 2, start_ms=feed.reference.latest_time_ms + 1,
                                   span_ms=30_000, median_gap_ms=5_000)
    served, vectors = [], []
    with server.client() as client:
        for fields in more.events[:80]:
            user, ts, amount = fields["user_id"], int(fields["ts_ms"]), float(np.float32(float(fields["amount"])))
            score, vector = infer_http(client, [user], [amount], ts)
            assert_same_vectors(vector, feed.expected([user], [amount], ts), [user], f"transaction at {ts - B} ms")
            served.append(float(score[0, 0]))
            vectors.append(vector[0])
            feed.add([fields])
            wait_taken(server, feed)
    _assert_scores(np.asarray(served), python_predictions(scoring_dir, np.asarray(vectors)), "scored as served")


def _assert_scores(served: np.ndarray, expected: np.ndarray, what: str) -> None:
    served = np.asarray(served, dtype=np.float64).reshape(-1)
    difference = np.abs(served - np.asarray(expected, dtype=np.float64))
    bad = np.flatnonzero(~(difference <= SCORE_TOLERANCE))
    assert bad.size == 0, (f"{what}: {bad.size} of {len(served)} scores differ from XGBoost's by more than "
                           f"{SCORE_TOLERANCE}, e.g. rows {bad[:5].tolist()}: {served[bad[:5]].tolist()} "
                           f"vs {np.asarray(expected)[bad[:5]].tolist()}")


def test_a_batch_with_repeats_and_unknown_entities(surge_factory, redis_server, feed, repository, stream):
    feed.set_attributes(stream.attributes)
    feed.add(stream.events)
    server = _serve(surge_factory, repository, redis_server)
    t = feed.reference.latest_time_ms
    with_events = set(feed.reference.entity_ids())
    known = [u for u in stream.users if u in with_events]
    rows = FRAUD.max_batch_size
    users = (known[:20] + ["nobody", known[0], "u999999", known[1]] * 11)[:rows]
    amounts = request_amounts(users, AMOUNT_SEED + 1)
    amounts[users.index("nobody")] = 77.25
    with server.client() as client:
        scores, vectors = infer_http(client, users, amounts, t)
        assert scores.shape == (rows, 1) and vectors.shape == (rows, len(VECTOR)), (scores.shape, vectors.shape)
        assert_same_vectors(vectors, feed.expected(users, amounts, t), users, f"a batch of {rows}")
        nobody = users.index("nobody")
        empty = np.asarray([empty_window_vector(77.25, None)], dtype=np.float32)
        assert_same_vectors(vectors[nobody:nobody + 1], empty, ["nobody"], "an unknown entity")

        one, one_vector = infer_http(client, [known[0]], [amounts[1]], t)
        assert one.shape == (1, 1)
        assert_same_vectors(one_vector, feed.expected([known[0]], [amounts[1]], t), [known[0]], "one row")

        plain, absent = infer_http(client, users, amounts, t, return_features=False)
        assert absent is None, f"{FEATURES_OUTPUT} without return_features"
        np.testing.assert_array_equal(plain, scores)


def test_grpc_request_gets_the_same_features(surge_factory, redis_server, feed, repository, stream):
    feed.set_attributes(stream.attributes)
    feed.add(stream.events)
    server = _serve(surge_factory, repository, redis_server)
    t = feed.reference.latest_time_ms
    users = stream.users[:7] + ["nobody"]
    amounts = request_amounts(users, AMOUNT_SEED + 2)
    client = grpcclient.InferenceServerClient(server.grpc_url)
    try:
        scores, vectors = infer_grpc(client, users, amounts, t)
    finally:
        client.close()
    assert_same_vectors(vectors, feed.expected(users, amounts, t), users, "over gRPC")
    with server.client() as client:
        http_scores, _ = infer_http(client, users, amounts, t)
    np.testing.assert_array_equal(scores, http_scores)
