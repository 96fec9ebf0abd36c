"""fraud_xgboost and fraud: a card-fraud classifier and the features model
that serves it.

fraud_xgboost is XGBoost (binary:logistic, 100 trees of depth 4) trained with
Debian's python3-xgboost, which matches the libxgboost the xgboost backend
links, on synthetic transactions (fraud_data.py). Each transaction is one
training row: its features as the server would compute them at its own time
from the events before it in the stream (fraud_features.py), since that is
how the demo serves: a transaction is scored with event_time_ms its time,
then added to the stream. Input `features` is FP32 [8], the features
model's `vector`; output `probabilities` is FP32 [1], the probability of
fraud.

fraud is a `platform: "features"` model (fraud_features.FRAUD): it keeps
sliding windows over the Redis Stream `transactions`, reads static
attributes from the hashes user:<id>, and scores the vector with
fraud_xgboost. It needs `surge serve --redis`; without it, it stays
unavailable and the rest of the repository serves.
"""

from pathlib import Path

from . import common, fraud_data, fraud_features
from .common import SEED, config_pbtxt, write_atomically, write_text
from .spec import DemoModel

NAME = "fraud_xgboost"
FEATURES_NAME = fraud_features.FRAUD.name
HELDOUT_SEED = 2
MIN_AUC = 0.85


def training_rows(stream: fraud_data.Stream, spec: fraud_features.FeatureSpec = fraud_features.FRAUD):
    """([n, len(vector)] float32, [n] labels): each applied event's vector at
    its own time over the events before it, then the event is added."""
    import numpy as np

    store = fraud_features.FeatureStore(spec)
    rows, labels = [], []
    for fields, label in zip(stream.events, stream.labels):
        user = fields[spec.entity_field]
        amount = fraud_features.float32(float(fields[fraud_data.AMOUNT_FIELD]))
        vector = store.vector(user, {"amount": amount}, stream.attributes.get(user), int(fields[spec.time_field]))
        if store.add(fields) in (fraud_features.APPLIED, fraud_features.LATE):
            rows.append(vector)
            labels.append(label)
    return np.asarray(rows, dtype=np.float32), np.asarray(labels, dtype=np.int64)


def make_fraud_xgboost(repo: Path) -> str:
    import xgboost
    from sklearn.metrics import roc_auc_score

    spec = fraud_features.FRAUD
    assert (spec.entity_field, spec.time_field) == (fraud_data.ENTITY_FIELD, fraud_data.TIME_FIELD)
    assert spec.request_fields == (fraud_data.AMOUNT_FIELD,)
    assert spec.static_fields == (fraud_data.AGE_FIELD, fraud_data.ACCOUNT_AGE_FIELD)
    train_x, train_y = training_rows(fraud_data.transactions(seed=fraud_data.TRAIN_SEED))
    heldout_x, heldout_y = training_rows(fraud_data.transactions(seed=HELDOUT_SEED))
    model = xgboost.XGBClassifier(
        n_estimators=100,
        max_depth=4,
        learning_rate=0.1,
        objective="binary:logistic",
        tree_method="hist",
        random_state=SEED,
        n_jobs=2,
    )
    model.fit(train_x, train_y)
    probability = model.predict_proba(heldout_x)[:, 1]
    auc = float(roc_auc_score(heldout_y, probability))
    if auc < MIN_AUC:
        raise SystemExit(f"{NAME}: held-out AUC {auc:.3f} is below {MIN_AUC}")

    def save(temp: str) -> None:
        # XGBoost picks the format by the name's suffix: .json writes JSON.
        model.get_booster().save_model(temp + ".json")
        Path(temp + ".json").replace(temp)

    write_atomically(repo / NAME / "1" / "model.json", save)
    write_text(
        repo / NAME / "config.pbtxt",
        config_pbtxt(
            NAME,
            "xgboost",
            64,
            [(spec.model_input, "TYPE_FP32", [len(spec.vector)])],
            [("probabilities", "TYPE_FP32", [1])],
            dynamic_batching={"max_queue_delay_microseconds": 500},
            parameters={"predict_type": "probabilities", "threads": 1},
        ),
    )
    return (f"held-out AUC {auc:.4f} over {len(heldout_y)} transactions, "
            f"{len(train_y)} training transactions, fraud rate {float(train_y.mean()):.4f}")


def make_fraud(repo: Path) -> str:
    # A features model reads no file, but the repository layout still needs a version directory.
    (repo / FEATURES_NAME / "1").mkdir(parents=True, exist_ok=True)
    write_text(repo / FEATURES_NAME / "config.pbtxt", fraud_features.config_pbtxt(fraud_features.FRAUD))
    return f"features over the stream {fraud_features.FRAUD.stream_key!r}, scored by {NAME}"


MODELS = [
    DemoModel(
        NAME,
        ["config.pbtxt", "1/model.json"],
        make_fraud_xgboost,
        [Path(__file__), Path(fraud_data.__file__), Path(fraud_features.__file__), Path(common.__file__)],
        common.xgboost_versions,
    ),
    DemoModel(FEATURES_NAME, ["config.pbtxt", "1"], make_fraud, [Path(__file__), Path(fraud_features.__file__)]),
]
