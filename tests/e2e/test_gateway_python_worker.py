"""surge's gateway in front of a Python worker: the C++ producer side and the
Python worker side of docs/redis-streams.md talking to each other, serving a
scikit-learn model through tritonclient."""

from __future__ import annotations

import numpy as np
import pytest

from python_sdk_support import WorkerProcess, worker_command
from redis_e2e import RedisServer, environment_has_redis, wait_live_workers
from surge_e2e import write_model

pytestmark = pytest.mark.skipif(not environment_has_redis(), reason="redis-server is not installed")

MODEL = "iris_py"
CONFIG = f"""
name: "{MODEL}"
backend: "identity"
max_batch_size: 8
input [ {{ name: "features" data_type: TYPE_FP32 dims: [ 4 ] }} ]
output [
  {{ name: "label" data_type: TYPE_INT64 dims: [ 1 ] }},
  {{ name: "probabilities" data_type: TYPE_FP32 dims: [ 3 ] }}
]
dynamic_batching {{ max_queue_delay_microseconds: 2000 }}
worker_pool {{ heartbeat_ms: 100 claim_idle_ms: 1000 }}
"""


def test_gateway_serves_a_scikit_learn_model_from_a_python_worker(surge_factory, tmp_path):
    import joblib
    import tritonclient.http as httpclient
    from sklearn.datasets import load_iris

    redis_server = RedisServer(tmp_path / "redis")
    worker = None
    try:
        repository = tmp_path / "models"
        write_model(repository, MODEL, CONFIG)
        server = surge_factory(repository, "--redis", redis_server.url)

        model_path = tmp_path / "iris.joblib"
        command = worker_command(redis_server.url, MODEL, "py0", "sklearn_iris_worker:factory",
                                 {"model_path": str(model_path)}, ["--max-batch", "8"])
        (tmp_path / "logs").mkdir()
        worker = WorkerProcess(command, "py0", MODEL, tmp_path / "logs")
        worker.wait_joined(redis_server.client())
        wait_live_workers(server, MODEL, 1)

        iris = load_iris()
        features = iris.data[:8].astype(np.float32)
        client = httpclient.InferenceServerClient(server.http_url.removeprefix("http://"))
        inputs = [httpclient.InferInput("features", list(features.shape), "FP32")]
        inputs[0].set_data_from_numpy(features, binary_data=True)
        result = client.infer(MODEL, inputs)

        local = joblib.load(model_path)
        np.testing.assert_allclose(result.as_numpy("probabilities"), local.predict_proba(features), rtol=1e-5)
        assert list(result.as_numpy("label").reshape(-1)) == list(local.predict(features))
    finally:
        if worker is not None:
            assert worker.terminate() == 0, worker.describe()
        redis_server.stop()
