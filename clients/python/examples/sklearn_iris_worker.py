"""A surge worker serving a scikit-learn LogisticRegression trained on the
iris dataset that ships with scikit-learn (nothing is downloaded).

    python sklearn_iris_worker.py --model-path /tmp/iris.joblib --redis redis://127.0.0.1:6379/0 --model iris

trains the model and saves it to --model-path when that file does not exist,
else loads it; then serves it until SIGTERM. Input `features` (FP32, [batch, 4]);
outputs `label` (INT64, [batch]) and `probabilities` (FP32, [batch, 3]).

The same handler through the generic command line:

    PYTHONPATH=clients/python/examples python -m surge_client.worker --redis ... --model iris \\
        --handler sklearn_iris_worker:factory --handler-arg model_path=/tmp/iris.joblib --max-batch 32
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Dict

import joblib
import numpy as np
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from surge_client.handler import Handler, TensorSpec
from surge_client.worker import WorkerError, add_arguments, worker_from_args


def train(path: Path) -> LogisticRegression:
    """Fits on the whole bundled iris set and saves the model to `path`."""
    iris = load_iris()
    model = LogisticRegression(max_iter=1000)
    model.fit(iris.data.astype(np.float32), iris.target)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + f".{os.getpid()}.tmp")
    joblib.dump(model, temporary)
    temporary.replace(path)  # workers started side by side never load half a file
    return model


def load_or_train(path: Path) -> LogisticRegression:
    if path.exists():
        return joblib.load(path)
    return train(path)


def factory(model_path: str) -> Handler:
    model = load_or_train(Path(model_path))

    def predict(inputs: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        features = inputs["features"]
        return {
            "label": model.predict(features).astype(np.int64),
            "probabilities": model.predict_proba(features).astype(np.float32),
        }

    return Handler(predict=predict, inputs=[TensorSpec("features", "FP32", [4])])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-path", required=True, help="joblib file; trained and written when missing")
    add_arguments(parser)
    parser.set_defaults(max_batch=32)
    args = parser.parse_args()
    try:
        worker_from_args(args, factory(args.model_path)).run()
    except (WorkerError, ValueError) as e:
        print(f"sklearn_iris_worker: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
