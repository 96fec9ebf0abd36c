"""The features reference itself (scripts/models/fraud_features.py), on
hand-made events, without a server: tile boundaries, lateness, malformed
entries, the empty-window and NaN rules, float32 rounding, and the demo
config it renders. test_features.py holds the server to this reference, so
it is checked here against numbers worked out by hand; and the stream
generator (fraud_data.py) produces the late and too-late events asked of it.
"""

from __future__ import annotations

import importlib.util
import math
import sys

import numpy as np
import pytest

from surge_e2e import REPO_ROOT


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "scripts" / "models" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


ff = sys.modules.get("fraud_features") or _load("fraud_features")
fd = sys.modules.get("fraud_data") or _load("fraud_data")

FRAUD = ff.FRAUD
B = 1_733_200_000_000  # a whole number of tiles
VECTOR = FRAUD.vector

DEMO_CONFIG = """name: "fraud"
platform: "features"
max_batch_size: 64
input [
  { name: "user_id" data_type: TYPE_STRING dims: [ 1 ] },
  { name: "amount" data_type: TYPE_FP32 dims: [ 1 ] }
]
output [ { name: "probabilities" data_type: TYPE_FP32 dims: [ 1 ] } ]
features {
  model: "fraud_xgboost"
  model_input: "features"
  entity_input: "user_id"
  stream { key: "transactions" entity_field: "user_id" time_field: "ts_ms" }
  tile_ms: 1000
  allowed_lateness_ms: 10000
  window [
    { name: "count_1m" aggregate: COUNT length_ms: 60000 },
    { name: "amount_sum_5m" field: "amount" aggregate: SUM length_ms: 300000 },
    { name: "amount_mean_5m" field: "amount" aggregate: MEAN length_ms: 300000 },
    { name: "amount_max_5m" field: "amount" aggregate: MAX length_ms: 300000 },
    { name: "merchants_5m" field: "merchant" aggregate: DISTINCT_COUNT length_ms: 300000 }
  ]
  static_attributes { hash_prefix: "user:" fields: [ "age", "account_age_days" ] ttl_ms: 60000 }
  vector: [ "amount", "count_1m", "amount_sum_5m", "amount_mean_5m", "amount_max_5m", "merchants_5m", "age", "account_age_days" ]
}
"""


def event(user: str, ts_ms: int, amount: str = "1.00", merchant: str = "m1") -> dict[str, str]:
    return {"user_id": user, "ts_ms": str(ts_ms), "amount": amount, "merchant": merchant}


def store_of(*entries, spec=FRAUD):
    store = ff.FeatureStore(spec)
    outcomes = [store.add(e) for e in entries]
    return store, outcomes


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_renders_the_demo_config():
    assert ff.config_pbtxt(FRAUD) == DEMO_CONFIG


def test_a_window_ends_with_the_whole_tile_of_the_evaluation_time():
    store, _ = store_of(event("c", B + 59_999), event("c", B + 60_000), event("c", B + 119_999))
    count = {t: store.windows("c", B + t)["count_1m"] for t in (59_999, 60_000, 60_001, 119_000, 119_999, 120_000,
                                                                  178_999, 179_000)}
    # At 60 000 the minute is tiles 1..60: 59 999 (tile 59) and 60 000 (tile 60), not yet 119 999.
    # At 119 000 it is tiles 60..119: 60 000 and 119 999, though 119 999 is later than t.
    assert count == {59_999: 1.0, 60_000: 2.0, 60_001: 2.0, 119_000: 2.0, 119_999: 2.0, 120_000: 1.0,
                     178_999: 1.0, 179_000: 0.0}
    assert store.windows("c", B + 359_999)["amount_sum_5m"] == 2.0  # tiles 60..359: two of the three
    assert store.windows("c", B + 359_000)["amount_sum_5m"] == 2.0
    assert store.windows("c", B + 358_999)["amount_sum_5m"] == 3.0  # tiles 59..358: all three


def test_an_entity_without_events_has_empty_windows():
    empty = {"count_1m": 0.0, "amount_sum_5m": 0.0, "amount_mean_5m": math.nan, "amount_max_5m": math.nan,
             "merchants_5m": 0.0}
    nothing = ff.FeatureStore(FRAUD)
    assert nothing.latest_time_ms is None
    one, _ = store_of(event("a", B))
    cases = {
        "no event at all, no time": nothing.windows("nobody"),
        "no event at all": nothing.windows("nobody", B),
        "an entity never seen": one.windows("nobody", B),
        "events outside every window": one.windows("a", B + 300_000),  # tiles 1..300 after B's tile 0
    }
    for what, values in cases.items():
        assert all(same(values[k], v) for k, v in empty.items()), (what, values)
        assert math.copysign(1.0, values["amount_sum_5m"]) == 1.0, what  # +0.0
    assert one.windows("a", B + 299_999)["count_1m"] == 0.0 and one.windows("a", B + 299_999)["amount_sum_5m"] == 1.0


def test_aggregates_over_several_tiles():
    store, _ = store_of(
        event("a", B + 1_000, "10.00", "m1"),
        event("a", B + 1_500, "2.50", "m2"),
        event("a", B + 4_000, "7.25", "m1"),  # the same merchant in another tile counts once
        event("b", B + 4_000, "1000.00", "m3"),  # another entity's events are not a's
    )
    values = store.windows("a", B + 4_000)
    assert values == {"count_1m": 3.0, "amount_sum_5m": 19.75, "amount_mean_5m": ff.float32(19.75 / 3),
                      "amount_max_5m": 10.0, "merchants_5m": 2.0}
    assert store.entities == 2


def test_min_is_the_smallest_tile_minimum():
    spec = FRAUD.replace(windows=(*FRAUD.windows, ff.Window("amount_min_5m", ff.MIN, 300_000, "amount")))
    store, _ = store_of(event("a", B, "4.00"), event("a", B + 2_000, "0.50"), event("a", B + 2_500, "9.00"),
                        spec=spec)
    assert store.windows("a", B + 2_000)["amount_min_5m"] == 0.5
    assert store.windows("a", B + 300_000)["amount_min_5m"] == 0.5  # tiles 1..300
    assert math.isnan(store.windows("a", B + 302_000)["amount_min_5m"])


def test_sum_adds_tile_sums_in_tile_order_and_rounds_once_to_float32():
    # Tile 5 holds 0.1 then 0.3 (in stream order), tile 4 holds 0.2, which came late.
    store, outcomes = store_of(event("a", B + 5_000, "0.1"), event("a", B + 4_000, "0.2"), event("a", B + 5_500, "0.3"))
    assert outcomes == ["applied", "late", "applied"]
    tile4, tile5 = 0.0 + 0.2, (0.0 + 0.1) + 0.3
    values = store.windows("a", B + 5_000)
    assert values["amount_sum_5m"] == ff.float32((0.0 + tile4) + tile5)
    assert values["amount_mean_5m"] == ff.float32(((0.0 + tile4) + tile5) / 3)
    assert values["amount_max_5m"] == ff.float32(0.3)
    # float32 of the double sum, not a float32 accumulation.
    many, _ = store_of(*(event("a", B + i, "0.1") for i in range(1000)))
    total = 0.0
    for _ in range(1000):
        total += 0.1
    assert many.windows("a", B + 999)["amount_sum_5m"] == ff.float32(total)
    assert many.windows("a", B + 999)["amount_sum_5m"] == float(np.float32(total))


def test_lateness_is_measured_from_the_latest_event_of_any_entity():
    lateness = FRAUD.allowed_lateness_ms
    store, outcomes = store_of(
        event("a", B + 5_000),
        event("other", B + 30_000),  # the latest time is global
        event("a", B + 30_000 - 1),  # late by a millisecond
        event("a", B + 30_000 - lateness),  # as late as allowed
        event("a", B + 30_000 - lateness - 1),  # a millisecond more
        event("a", B + 30_000),  # as new as the latest: not late
        event("a", B + 1_000),  # far too late, and it does not move the latest time back
        event("a", B + 25_000),
    )
    assert outcomes == ["applied", "applied", "late", "late", "too_late", "applied", "too_late", "late"]
    assert store.counts == {"applied": 6, "late": 3, "too_late": 2, "malformed": 0}
    assert store.latest_time_ms == B + 30_000
    assert store.windows("a", B + 30_000)["count_1m"] == 5.0  # every applied event of a


def test_malformed_entries_are_dropped_whole_and_move_nothing():
    future = str(B + 600_000)
    malformed = [
        {"ts_ms": future, "amount": "1.00", "merchant": "m1"},
        {"user_id": "a", "amount": "1.00", "merchant": "m1"},
        {"user_id": "a", "ts_ms": "soon", "amount": "1.00", "merchant": "m1"},
        {"user_id": "a", "ts_ms": future + ".5", "amount": "1.00", "merchant": "m1"},
        {"user_id": "a", "ts_ms": "", "amount": "1.00", "merchant": "m1"},
        {"user_id": "a", "ts_ms": future, "merchant": "m1"},
        {"user_id": "a", "ts_ms": future, "amount": "abc", "merchant": "m1"},
        {"user_id": "a", "ts_ms": future, "amount": "", "merchant": "m1"},
        {"user_id": "a", "ts_ms": future, "amount": "1.00"},
    ]
    store, outcomes = store_of(event("a", B), *malformed, event("a", B + 1_000))
    assert outcomes == ["applied"] + ["malformed"] * len(malformed) + ["applied"]
    assert store.latest_time_ms == B + 1_000
    assert store.windows("a")["count_1m"] == 2.0
    # A field no window reads may be missing or anything; extra fields are fine.
    store, outcomes = store_of({"user_id": "a", "ts_ms": str(B), "amount": "1", "merchant": "m", "note": "x"})
    assert outcomes == ["applied"]
    counting = FRAUD.replace(windows=(ff.Window("n", ff.COUNT, 60_000),), vector=("amount", "n"),
                             static_fields=())
    store, outcomes = store_of({"user_id": "a", "ts_ms": str(B)}, spec=counting)
    assert outcomes == ["applied"]
    # A distinct-count field need not be a number.
    assert store_of(event("a", B, merchant="not a number"))[1] == ["applied"]


def test_the_evaluation_time_defaults_to_the_latest_event():
    store, _ = store_of(event("a", B + 1_000), event("b", B + 61_500), event("a", B + 61_000))
    assert store.windows("a") == store.windows("a", B + 61_500)
    assert store.windows("a")["count_1m"] == 1.0  # tiles 2..61


def test_vector_order_static_attributes_and_nan():
    store, _ = store_of(event("a", B, "3.00"))
    vector = store.vector("a", {"amount": 0.1}, {"age": "34", "account_age_days": "oops"}, B)
    assert len(vector) == len(VECTOR)
    named = dict(zip(VECTOR, vector))
    assert named["amount"] == ff.float32(0.1) and named["age"] == 34.0 and math.isnan(named["account_age_days"])
    assert named["count_1m"] == 1.0 and named["amount_sum_5m"] == 3.0
    missing = store.vector("a", {"amount": 1.0}, None, B)
    assert math.isnan(missing[VECTOR.index("age")]) and math.isnan(missing[VECTOR.index("account_age_days")])
    partial = store.vector("a", {"amount": 1.0}, {"age": "40.5"}, B)
    assert partial[VECTOR.index("age")] == 40.5 and math.isnan(partial[VECTOR.index("account_age_days")])
    assert all(v == float(np.float32(v)) for v in vector if not math.isnan(v))


def test_float32_rounding():
    for value in (0.1, 1 / 3, 16777217.0, 1e-46, -2.5, 3.4028234663852886e38):
        assert ff.float32(value) == float(np.float32(value)), value
    assert ff.float32(1e39) == math.inf and math.isnan(ff.float32(math.nan))
    assert ff.float32_bits(1.0) == 0x3F800000


@pytest.mark.parametrize("text, number", [("12.5", 12.5), ("7", 7.0), ("-0.25", -0.25), ("1e3", 1000.0),
                                          ("abc", None), ("", None), (None, None)])
def test_parse_number(text, number):
    assert ff.parse_number(text) == number


@pytest.mark.parametrize("text, ts", [("1733200000123", 1733200000123), ("0", 0), ("-5", -5), ("12.0", None),
                                      ("1e3", None), (" 12", None), ("+12", None), ("", None), ("x", None)])
def test_parse_time(text, ts):
    assert ff.parse_time(text) == ts


def test_window_lengths_must_be_whole_tiles():
    with pytest.raises(ValueError):
        FRAUD.replace(windows=(ff.Window("w", ff.COUNT, 1_500),))
    with pytest.raises(ValueError):
        FRAUD.replace(vector=("amount", "no_such_value"))


def test_generator_is_seeded_and_moves_the_events_asked_for():
    first = fd.transactions(200, 3, span_ms=290_000, median_gap_ms=30_000, late=4, too_late=3)
    again = fd.transactions(200, 3, span_ms=290_000, median_gap_ms=30_000, late=4, too_late=3)
    assert first.events == again.events and first.labels == again.labels and first.attributes == again.attributes
    store, _ = store_of(*first.events)
    assert store.counts == {"applied": len(first.events) - 3, "late": 4, "too_late": 3, "malformed": 0}
    in_order = fd.transactions(200, 3, span_ms=290_000, median_gap_ms=30_000)
    assert sorted(map(str, in_order.events)) == sorted(map(str, first.events))
    assert store_of(*in_order.events)[0].counts["late"] == 0
    assert 0 < sum(first.labels) < len(first.labels) / 5


def test_generator_has_bursts_and_unusual_amounts():
    training = fd.transactions()  # what the demo model learns from
    labels = np.asarray(training.labels)
    assert 0.01 < labels.mean() < 0.05, labels.mean()
    assert 0 < len(training.users) - len(training.attributes) < 100  # a few users without a hash
    stream = fd.transactions(2000, fd.TRAIN_SEED, span_ms=30 * 60_000)
    store = ff.FeatureStore(FRAUD)
    fraud_counts, normal_counts = [], []
    for fields, label in zip(stream.events, stream.labels):
        values = store.windows(fields["user_id"], int(fields["ts_ms"]))
        (fraud_counts if label else normal_counts).append(values["merchants_5m"])
        store.add(fields)
    # Fraud comes with many merchants in a short time far more often than normal spending does.
    assert np.mean(fraud_counts) > 3 * np.mean(normal_counts), (np.mean(fraud_counts), np.mean(normal_counts))
