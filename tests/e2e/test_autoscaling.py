"""The autoscaler of `surge serve`'s local workers (docs/autoscaling.md).

A worker-pool model whose cost is mostly waiting (identity with a 20 ms
execute delay, so that on two cores more workers do add capacity) starts with
one local worker. Under a closed-loop load of 32 clients the autoscaler adds
workers up to its maximum; once the load stops it retires them, after its
stabilization window, back to the minimum. Every request is answered with
its own values, during the scale-up and during the scale-down (a retired
worker finishes its batch; what it had read is claimed by the others).
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import requests

from redis_e2e import environment_has_redis, pool_identity_config, wait_live_workers
from surge_e2e import json_infer_body, metric_sum, model_metric, output_array, post_infer, wait_until, write_model

pytestmark = pytest.mark.skipif(not environment_has_redis(), reason="needs redis-server")

MODEL = "pool_scaled"


def _config(**scaling) -> str:
    block = " ".join(f"{key}: {value}" for key, value in scaling.items())
    return pool_identity_config(MODEL, local_workers=1, heartbeat_ms=100, claim_idle_ms=1000, max_batch_size=4,
                                execute_delay_us=20000, extra=f"autoscaling {{ {block} }}")


def _gauge(server, name: str) -> float:
    return model_metric(server.metrics(), name, MODEL) or 0.0


class _Load:
    """Closed-loop clients, each checking that its answer holds its own values."""

    def __init__(self, server, clients: int):
        self.server = server
        self.stop = threading.Event()
        self.answered = 0
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(clients)]

    def _run(self, client: int) -> None:
        session = requests.Session()
        i = 0
        while not self.stop.is_set():
            values = [float(client), float(i)]
            try:
                response = session.post(self.server.url(f"/v2/models/{MODEL}/infer"), json=json_infer_body([values]),
                                        timeout=60)
                if response.status_code != 200:
                    raise AssertionError(f"{response.status_code} {response.text}")
                np.testing.assert_array_equal(output_array(response), np.asarray([values], dtype=np.float32))
                with self.lock:
                    self.answered += 1
            except Exception as e:  # noqa: BLE001 - every failure is reported below
                with self.lock:
                    self.failures.append(f"client {client} request {i}: {e}")
            i += 1

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


def test_local_workers_scale_up_under_load_and_back_down(surge_factory, tmp_path):
    repository = tmp_path / "models"
    write_model(repository, MODEL, _config(min_replicas=1, max_replicas=4, target_latency_ms=50, cold_start_ms=1000,
                                           evaluation_interval_ms=500, scale_down_stabilization_s=3,
                                           scale_down_cooldown_s=2))
    server = surge_factory(repository)
    wait_live_workers(server, MODEL, 1)
    assert _gauge(server, "surge_autoscaler_desired_replicas") == 1

    peak = 0.0
    with _Load(server, clients=32) as load:
        def scaled_up() -> bool:
            nonlocal peak
            peak = max(peak, _gauge(server, "surge_worker_pool_live_workers"))
            return peak >= 3
        wait_until(scaled_up, "the autoscaler to run at least 3 live workers", 60)
        assert _gauge(server, "surge_autoscaler_arrival_rate") > 0
        assert _gauge(server, "surge_autoscaler_batch_service_seconds") > 0
    assert not load.failures, load.failures[:5]
    assert load.answered > 0

    # Idle: back to min_replicas once the stabilization window has passed.
    wait_until(lambda: _gauge(server, "surge_autoscaler_desired_replicas") == 1, "desired replicas back to 1", 60)
    wait_until(lambda: _gauge(server, "surge_worker_pool_live_workers") == 1, "one live worker again", 60)
    samples = server.metrics()
    assert (metric_sum(samples, "surge_autoscaler_scale_events_total", model=MODEL, direction="up") or 0) >= 1
    assert (metric_sum(samples, "surge_autoscaler_scale_events_total", model=MODEL, direction="down") or 0) >= 1
    assert "surge: autoscaler: pool_scaled 1 -> " in server.stdout_text()
    assert "retired" in server.stderr_text()

    # The worker left serves on.
    for i in range(5):
        response = post_infer(server, MODEL, json_infer_body([[float(i)]]))
        assert response.status_code == 200, response.text
    successes = metric_sum(server.metrics(), "surge_requests_total", model=MODEL, outcome="success") or 0
    assert successes >= load.answered + 5
    failed = sum(metric_sum(server.metrics(), "surge_requests_total", model=MODEL, outcome=o) or 0
                 for o in ("failed", "timeout", "unavailable", "rejected"))
    assert failed == 0


def test_autoscaling_needs_local_workers(surge_factory, tmp_path):
    repository = tmp_path / "models"
    config = pool_identity_config(MODEL, local_workers=0, extra="autoscaling { max_replicas: 2 }")
    write_model(repository, MODEL, config)
    server = surge_factory(repository)
    assert "autoscaling: scales a worker_pool model's local workers" in server.stderr_text()
    response = requests.get(server.url(f"/v2/models/{MODEL}/ready"), timeout=10)
    assert response.status_code != 200
