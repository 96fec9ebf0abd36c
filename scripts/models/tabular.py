"""Tabular demo models beside the torch iris: iris_onnx (a scikit-learn
pipeline exported with skl2onnx, served by the onnxruntime backend),
iris_xgboost (XGBoost trained with Debian's python3-xgboost, which matches
libxgboost, served by the xgboost backend) and onnx_strings (a two-node ONNX
graph on string tensors).

Each iris model's directory holds heldout.json: the held-out flowers (the 20%
the model never saw) and the class the Python model predicts for each, which
the end-to-end tests compare the server's answers with.
"""

import json
from pathlib import Path

import numpy as np

from . import common
from .common import SEED, config_pbtxt, write_atomically, write_text
from .spec import DemoModel

# ONNX opset for the graphs written here: onnx 1.12 (bookworm) knows up to 17.
OPSET = 15
ML_OPSET = 2
STRING_LABELS = ["setosa", "versicolor", "virginica"]


def iris_split():
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split

    data = load_iris()
    x = data.data.astype(np.float32)
    return train_test_split(x, data.target, test_size=0.2, stratify=data.target, random_state=SEED)


def write_heldout(path: Path, features: np.ndarray, predicted: np.ndarray, truth: np.ndarray) -> None:
    rows = {
        "features": [[float(v) for v in row] for row in features],
        "predicted": [int(c) for c in predicted],
        "truth": [int(c) for c in truth],
    }
    write_text(path, json.dumps(rows, indent=1) + "\n")


def save_onnx(model, path: Path) -> None:
    import onnx

    onnx.checker.check_model(model)
    write_atomically(path, lambda temp: onnx.save(model, temp))


def label_column(model):
    """skl2onnx gives `label` as [N]; as [N, 1] it is a batched tensor of dims [1]."""
    from onnx import helper

    graph = model.graph
    for node in graph.node:
        node.output[:] = ["label_flat" if name == "label" else name for name in node.output]
    axes = helper.make_tensor("label_axes", 7, [1], [1])  # INT64
    graph.initializer.append(axes)
    graph.node.append(helper.make_node("Unsqueeze", ["label_flat", "label_axes"], ["label"], name="label_column"))
    for output in graph.output:
        if output.name == "label":
            output.CopyFrom(helper.make_tensor_value_info("label", 7, ["N", 1]))
    return model


def make_iris_onnx(repo: Path) -> str:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x_train, x_test, y_train, y_test = iris_split()
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, random_state=SEED))
    pipeline.fit(x_train, y_train)
    predicted = pipeline.predict(x_test)
    accuracy = float((predicted == y_test).mean())
    if accuracy < 0.9:
        raise SystemExit(f"iris_onnx: held-out accuracy {accuracy:.3f} is below 0.9")
    model = to_onnx(
        pipeline,
        initial_types=[("features", FloatTensorType([None, 4]))],
        options={id(pipeline.steps[-1][1]): {"zipmap": False}},
        target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET},
    )
    save_onnx(label_column(model), repo / "iris_onnx" / "1" / "model.onnx")
    write_heldout(repo / "iris_onnx" / "heldout.json", x_test, predicted, y_test)
    write_text(
        repo / "iris_onnx" / "config.pbtxt",
        config_pbtxt(
            "iris_onnx",
            "onnxruntime",
            64,
            [("features", "TYPE_FP32", [4])],
            [("label", "TYPE_INT64", [1]), ("probabilities", "TYPE_FP32", [3])],
            dynamic_batching={"max_queue_delay_microseconds": 500},
            parameters={"intra_op_threads": 1},
        ),
    )
    return f"held-out accuracy {accuracy:.4f}"


def make_iris_xgboost(repo: Path) -> str:
    import xgboost

    x_train, x_test, y_train, y_test = iris_split()
    model = xgboost.XGBClassifier(
        n_estimators=20, max_depth=3, learning_rate=0.3, objective="multi:softprob", random_state=SEED, n_jobs=2
    )
    model.fit(x_train, y_train)
    predicted = model.predict(x_test)
    accuracy = float((predicted == y_test).mean())
    if accuracy < 0.9:
        raise SystemExit(f"iris_xgboost: held-out accuracy {accuracy:.3f} is below 0.9")
    def save(temp: str) -> None:
        # XGBoost picks the format by the name's suffix: .json writes JSON.
        model.get_booster().save_model(temp + ".json")
        Path(temp + ".json").replace(temp)

    write_atomically(repo / "iris_xgboost" / "1" / "model.json", save)
    write_heldout(repo / "iris_xgboost" / "heldout.json", x_test, predicted, y_test)
    write_text(
        repo / "iris_xgboost" / "config.pbtxt",
        config_pbtxt(
            "iris_xgboost",
            "xgboost",
            64,
            [("features", "TYPE_FP32", [4])],
            [("probabilities", "TYPE_FP32", [3])],
            dynamic_batching={"max_queue_delay_microseconds": 500},
            parameters={"predict_type": "probabilities", "threads": 1},
        ),
    )
    return f"held-out accuracy {accuracy:.4f}"


def make_onnx_strings(repo: Path) -> str:
    """text (STRING [N, 1]) -> echo (the same strings) and species_id (INT64
    [N, 1]: the index of an iris species name, -1 for anything else)."""
    from onnx import TensorProto, helper

    text = helper.make_tensor_value_info("text", TensorProto.STRING, ["N", 1])
    echo = helper.make_tensor_value_info("echo", TensorProto.STRING, ["N", 1])
    species = helper.make_tensor_value_info("species_id", TensorProto.INT64, ["N", 1])
    nodes = [
        helper.make_node("Identity", ["text"], ["echo"], name="echo"),
        helper.make_node(
            "LabelEncoder",
            ["text"],
            ["species_id"],
            name="species",
            domain="ai.onnx.ml",
            keys_strings=STRING_LABELS,
            values_int64s=list(range(len(STRING_LABELS))),
            default_int64=-1,
        ),
    ]
    graph = helper.make_graph(nodes, "onnx_strings", [text], [echo, species])
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", ML_OPSET)],
        producer_name="surge make_models",
    )
    model.ir_version = 8
    save_onnx(model, repo / "onnx_strings" / "1" / "model.onnx")
    write_text(
        repo / "onnx_strings" / "config.pbtxt",
        config_pbtxt(
            "onnx_strings",
            "onnxruntime",
            16,
            [("text", "TYPE_STRING", [1])],
            [("echo", "TYPE_STRING", [1]), ("species_id", "TYPE_INT64", [1])],
            parameters={"intra_op_threads": 1},
        ),
    )
    return "string Identity and LabelEncoder"


def versions():
    import onnx
    import sklearn

    parts = [f"sklearn {sklearn.__version__} onnx {onnx.__version__}".encode()]
    try:
        import skl2onnx

        parts.append(f"skl2onnx {skl2onnx.__version__}".encode())
    except ImportError:
        pass
    try:
        import xgboost

        parts.append(f"xgboost {xgboost.__version__}".encode())
    except ImportError:
        pass
    return parts


SOURCES = [Path(__file__), Path(common.__file__)]

MODELS = [
    DemoModel("iris_onnx", ["config.pbtxt", "1/model.onnx", "heldout.json"], make_iris_onnx, SOURCES, versions),
    DemoModel("iris_xgboost", ["config.pbtxt", "1/model.json", "heldout.json"], make_iris_xgboost, SOURCES, versions),
    DemoModel("onnx_strings", ["config.pbtxt", "1/model.onnx"], make_onnx_strings, SOURCES, versions),
]
