"""churn_xgboost: an XGBoost churn classifier (binary:logistic, 100 trees of
depth 4) trained with Debian's python3-xgboost, which matches the libxgboost
the xgboost backend links, on synthetic customers (churn_data.py). It is the
model `surge score` scores tables with in the batch-scoring tests and
benchmark.

Input `features` is FP32 [8], churn_data.FEATURES in that order. Output
`probabilities` is FP32 [1], the probability of churn: for a binary objective
XGBoost predicts one value per row, and the backend keeps that shape.
"""

from pathlib import Path

from . import churn_data, common
from .common import SEED, config_pbtxt, write_atomically, write_text
from .spec import DemoModel

NAME = "churn_xgboost"
TRAIN_ROWS = 50_000
HELDOUT_ROWS = 20_000
HELDOUT_SEED = 2
MIN_AUC = 0.8


def make_churn_xgboost(repo: Path) -> str:
    import xgboost
    from sklearn.metrics import roc_auc_score

    train = churn_data.users(TRAIN_ROWS, seed=churn_data.TRAIN_SEED)
    heldout = churn_data.users(HELDOUT_ROWS, seed=HELDOUT_SEED, first_id=TRAIN_ROWS + 1)
    model = xgboost.XGBClassifier(
        n_estimators=100,
        max_depth=4,
        learning_rate=0.1,
        objective="binary:logistic",
        tree_method="hist",
        random_state=SEED,
        n_jobs=2,
    )
    model.fit(churn_data.feature_matrix(train), train[churn_data.LABEL])
    probability = model.predict_proba(churn_data.feature_matrix(heldout))[:, 1]
    auc = float(roc_auc_score(heldout[churn_data.LABEL], probability))
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
            1024,
            [("features", "TYPE_FP32", [len(churn_data.FEATURES)])],
            [("probabilities", "TYPE_FP32", [1])],
            dynamic_batching={"max_queue_delay_microseconds": 500},
            parameters={"predict_type": "probabilities", "threads": 1},
        ),
    )
    return f"held-out AUC {auc:.4f}, churn rate {float(train[churn_data.LABEL].mean()):.3f}"


MODELS = [
    DemoModel(
        NAME,
        ["config.pbtxt", "1/model.json"],
        make_churn_xgboost,
        [Path(__file__), Path(churn_data.__file__), Path(common.__file__)],
        common.xgboost_versions,
    ),
]
