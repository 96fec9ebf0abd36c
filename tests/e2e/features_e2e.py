"""What the features tests share: the fraud demo's stream generator and
window reference (scripts/models/fraud_data.py and fraud_features.py, loaded
by their paths: the venv has no torch for the package around them), a test
repository holding the fraud features model and its scoring model, feeding a
Redis Stream while the reference takes the same entries, the server's
feature counters, and requests that ask for the feature vectors.

Vectors are compared bit for bit as float32 (any NaN equals any NaN), so
outputs travel in binary: a request that names no outputs gets them all, in
binary (tritonclient's default).
"""

from __future__ import annotations

import importlib.util
import math
import shutil
import sys
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

from surge_e2e import REPO_ROOT, SurgeServer, metric_sum, wait_until


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "scripts" / "models" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


fraud_data = _load("fraud_data")
fraud_features = _load("fraud_features")

FRAUD = fraud_features.FRAUD
MODEL = FRAUD.name
SCORING_MODEL = FRAUD.scoring_model
FEATURES_OUTPUT = "FEATURES"
SCORE_OUTPUT = "probabilities"
EVENTS_METRIC = "surge_feature_events_total"
ENTITIES_METRIC = "surge_feature_entities"
XADD_CHUNK = 500  # entries per pipelined round trip
FEED_TIMEOUT_S = 60.0  # until the server has taken every entry fed


def scoring_model_dir(demo_repository: Path) -> Path:
    model_dir = demo_repository / SCORING_MODEL
    if not (model_dir / "1" / "model.json").is_file() or not (model_dir / "config.pbtxt").is_file():
        raise RuntimeError(
            f"{model_dir} is incomplete: make it with "
            f"/usr/bin/python3 scripts/make_models.py --output {demo_repository} --only {SCORING_MODEL} {MODEL}"
        )
    return model_dir


def write_repository(directory: Path, scoring_dir: Path, spec=FRAUD) -> Path:
    """directory/ with the scoring model (copied) and the features model of `spec`."""
    shutil.copytree(scoring_dir, directory / SCORING_MODEL, ignore=shutil.ignore_patterns(".*"))
    (directory / spec.name / "1").mkdir(parents=True)
    (directory / spec.name / "config.pbtxt").write_text(fraud_features.config_pbtxt(spec))
    return directory


# ---------------------------------------------------------------------------
# Redis and the reference


class Feed:
    """One Redis Stream and hashes, and the reference store fed the same entries in the same order."""

    def __init__(self, redis_client, spec=FRAUD):
        self.redis = redis_client
        self.spec = spec
        self.reference = fraud_features.FeatureStore(spec)
        self.entries = 0  # entries added to the stream
        self.attributes: dict[str, dict[str, str]] = {}  # entity -> its hash, as written

    def add(self, entries: Iterable[Mapping[str, str]]) -> list[str]:
        """XADDs the entries in order; returns the reference's outcome of each."""
        outcomes = []
        batch: list[Mapping[str, str]] = []

        def flush() -> None:
            pipe = self.redis.pipeline(transaction=False)
            for fields in batch:
                pipe.xadd(self.spec.stream_key, dict(fields))
            pipe.execute()
            batch.clear()

        for fields in entries:
            batch.append(fields)
            outcomes.append(self.reference.add(fields))
            self.entries += 1
            if len(batch) == XADD_CHUNK:
                flush()
        if batch:
            flush()
        return outcomes

    def set_attributes(self, attributes: Mapping[str, Mapping[str, str]]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for entity, fields in attributes.items():
            pipe.delete(self.spec.hash_prefix + entity)
            if fields:
                pipe.hset(self.spec.hash_prefix + entity, mapping=dict(fields))
            self.attributes[entity] = dict(fields)
        pipe.execute()

    def expected(self, entities: Sequence[str], amounts: Sequence[float], event_time_ms: int | None) -> np.ndarray:
        """The reference's vectors, [n, len(vector)] float32."""
        rows = [
            self.reference.vector(entity, {"amount": float(amount)}, self.attributes.get(entity), event_time_ms)
            for entity, amount in zip(entities, amounts)
        ]
        return np.asarray(rows, dtype=np.float32).reshape(len(rows), len(self.spec.vector))

    def expected_counts(self) -> dict[str, int]:
        return dict(self.reference.counts)


# ---------------------------------------------------------------------------
# The server's counters


def event_counts(server: SurgeServer, model: str = MODEL) -> dict[str, int]:
    samples = server.metrics()
    return {
        outcome: int(metric_sum(samples, EVENTS_METRIC, model=model, outcome=outcome) or 0)
        for outcome in fraud_features.OUTCOMES
    }


def entities(server: SurgeServer, model: str = MODEL) -> int | None:
    value = metric_sum(server.metrics(), ENTITIES_METRIC, model=model)
    return None if value is None else int(value)


def taken(counts: Mapping[str, int]) -> int:
    """Entries the server has dealt with: a late event is counted under applied as well."""
    return counts["applied"] + counts["too_late"] + counts["malformed"]


def wait_taken(server: SurgeServer, feed: Feed, timeout_s: float = FEED_TIMEOUT_S) -> dict[str, int]:
    """Waits until the server has dealt with every entry fed; returns its counts."""
    last: dict[str, int] = {}

    def done() -> dict[str, int] | None:
        last.update(event_counts(server))
        return dict(last) if taken(last) >= feed.entries else None

    try:
        return wait_until(done, f"the server to take all {feed.entries} stream entries", timeout_s)
    except AssertionError as e:
        raise AssertionError(f"{e}; its counts: {last}, the reference's: {feed.expected_counts()}") from None


# ---------------------------------------------------------------------------
# Requests


def _inputs(module, entities: Sequence[str], amounts: Sequence[float]):
    n = len(entities)
    ids = module.InferInput(FRAUD.entity_input, [n, 1], "BYTES")
    ids.set_data_from_numpy(np.asarray([e.encode() for e in entities], dtype=np.object_).reshape(n, 1))
    amount = module.InferInput("amount", [n, 1], "FP32")
    amount.set_data_from_numpy(np.asarray(amounts, dtype=np.float32).reshape(n, 1))
    return [ids, amount]


def _parameters(event_time_ms: int | None, return_features: bool) -> dict | None:
    parameters: dict = {}
    if return_features:
        parameters["return_features"] = True
    if event_time_ms is not None:
        parameters["event_time_ms"] = int(event_time_ms)
    return parameters or None


def infer_http(client: httpclient.InferenceServerClient, entities: Sequence[str], amounts: Sequence[float],
               event_time_ms: int | None = None, return_features: bool = True):
    """(probabilities [n, 1], FEATURES [n, len(vector)] or None) of one request."""
    result = client.infer(MODEL, _inputs(httpclient, entities, amounts),
                          parameters=_parameters(event_time_ms, return_features))
    return result.as_numpy(SCORE_OUTPUT), result.as_numpy(FEATURES_OUTPUT)


def infer_grpc(client: grpcclient.InferenceServerClient, entities: Sequence[str], amounts: Sequence[float],
               event_time_ms: int | None = None, return_features: bool = True):
    result = client.infer(MODEL, _inputs(grpcclient, entities, amounts),
                          parameters=_parameters(event_time_ms, return_features))
    return result.as_numpy(SCORE_OUTPUT), result.as_numpy(FEATURES_OUTPUT)


def infer_all(server: SurgeServer, entities: Sequence[str], amounts: Sequence[float],
              event_time_ms: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Every entity's (probabilities, FEATURES), in requests of max_batch_size rows."""
    scores, vectors = [], []
    step = FRAUD.max_batch_size
    with server.client() as client:
        for start in range(0, len(entities), step):
            score, vector = infer_http(client, entities[start:start + step], amounts[start:start + step],
                                       event_time_ms)
            assert vector is not None, f"no {FEATURES_OUTPUT} output with return_features true"
            scores.append(score)
            vectors.append(vector)
    return np.concatenate(scores), np.concatenate(vectors)


def request_amounts(entities: Sequence[str], seed: int) -> list[float]:
    """A request amount per entity: cents, as float32 values."""
    rng = np.random.default_rng(seed)
    cents = np.round(np.exp(rng.normal(3.2, 1.0, len(entities))) * 100.0) / 100.0
    return [float(np.float32(c)) for c in cents]


# ---------------------------------------------------------------------------
# Comparing vectors


def assert_same_vectors(actual: np.ndarray, expected: np.ndarray, entities: Sequence[str], what: str) -> None:
    """float32 bit for bit, any NaN equal to any NaN."""
    actual = np.asarray(actual)
    assert actual.dtype == np.float32, f"{what}: {FEATURES_OUTPUT} is {actual.dtype}, not float32"
    assert actual.shape == expected.shape, f"{what}: {FEATURES_OUTPUT} shape {actual.shape}, want {expected.shape}"
    both_nan = np.isnan(actual) & np.isnan(expected)
    same = (actual.view(np.uint32) == expected.view(np.uint32)) | both_nan
    bad_rows = np.flatnonzero(~same.all(axis=1))
    if bad_rows.size:
        lines = []
        for row in bad_rows[:5]:
            columns = [FRAUD.vector[c] for c in np.flatnonzero(~same[row])]
            lines.append(f"  {entities[row]}: differs in {columns}\n    server    {actual[row].tolist()}\n"
                         f"    reference {expected[row].tolist()}")
        raise AssertionError(f"{what}: {bad_rows.size} of {len(actual)} vectors differ from the reference, e.g.\n"
                             + "\n".join(lines))


def empty_window_vector(amount: float, attributes: Mapping[str, str] | None) -> list[float]:
    """What an entity without events gets: COUNT 0, SUM 0, MEAN NaN, MAX NaN, DISTINCT 0."""
    empty = {fraud_features.COUNT: 0.0, fraud_features.SUM: 0.0, fraud_features.MEAN: math.nan,
             fraud_features.MAX: math.nan, fraud_features.DISTINCT_COUNT: 0.0}
    named = {"amount": amount}
    named.update({w.name: empty[w.aggregate] for w in FRAUD.windows})
    for field in FRAUD.static_fields:
        number = fraud_features.parse_number((attributes or {}).get(field))
        named[field] = math.nan if number is None else fraud_features.float32(number)
    return [named[name] for name in FRAUD.vector]
