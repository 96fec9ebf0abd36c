"""The Prometheus endpoint: valid text format (promtool agrees) and counters
that follow the traffic."""

import os
import shutil
import subprocess

import requests

from surge_e2e import (
    HTTP_TIMEOUT_S,
    json_infer_body,
    metric_sum,
    metric_types,
    model_metric,
    parse_prometheus_text,
    post_infer,
    wait_until,
)

IRIS_ROW = [[6.3, 3.3, 6.0, 2.5]]
REQUESTS = 5

EXPECTED_TYPES = {
    "surge_requests_total": "counter",
    "surge_request_duration_seconds": "histogram",
    "surge_queue_duration_seconds": "histogram",
    "surge_compute_duration_seconds": "histogram",
    "surge_batch_size": "histogram",
    "surge_queue_depth": "gauge",
    "surge_inflight_requests": "gauge",
    "surge_instances": "gauge",
}


def _promtool() -> str:
    path = os.environ.get("PROMTOOL") or shutil.which("promtool") or "/usr/bin/promtool"
    assert os.path.exists(path), "promtool not found (scripts/install-deps installs the prometheus package)"
    return path


def _iris_successes(server) -> float:
    return metric_sum(server.metrics(), "surge_requests_total", model="iris", outcome="success") or 0.0


def test_metrics_follow_traffic_and_pass_promtool(surge):
    before = _iris_successes(surge)
    for _ in range(REQUESTS):
        assert post_infer(surge, "iris", json_infer_body(IRIS_ROW, name="features")).status_code == 200
    assert post_infer(surge, "iris", json_infer_body([[1.0]], name="features")).status_code == 400

    # Counters may be bumped just after the answer is written.
    wait_until(lambda: _iris_successes(surge) - before >= REQUESTS, f"{REQUESTS} more iris successes")
    response = requests.get(surge.metrics_url, timeout=HTTP_TIMEOUT_S)
    assert response.status_code == 200
    assert response.headers.get("Content-Type", "").startswith("text/plain"), response.headers
    text = response.text
    samples = parse_prometheus_text(text)

    assert metric_sum(samples, "surge_requests_total", model="iris", outcome="success") - before == REQUESTS
    series = [s for s in samples if s.name == "surge_requests_total" and s.labels.get("model") == "iris"]
    assert all({"model", "version", "outcome"} <= set(s.labels) for s in series), series

    types = metric_types(text)
    for family, kind in EXPECTED_TYPES.items():
        assert types.get(family) == kind, f"{family}: TYPE {types.get(family)!r}, want {kind}"

    assert (model_metric(samples, "surge_request_duration_seconds_count", "iris") or 0) >= REQUESTS
    inf_buckets = [
        s
        for s in samples
        if s.name == "surge_request_duration_seconds_bucket" and s.labels.get("le") in ("+Inf", "Inf")
    ]
    assert inf_buckets, "surge_request_duration_seconds has no +Inf bucket"
    assert (model_metric(samples, "surge_batch_size_count", "iris") or 0) >= 1
    assert (model_metric(samples, "surge_instances", "iris") or 0) >= 1

    check = subprocess.run(
        [_promtool(), "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, f"promtool check metrics failed:\n{check.stdout}{check.stderr}"

