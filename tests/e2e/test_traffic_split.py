"""Canary and rollback under constant load (docs/traffic.md).

`surge bench` keeps 64 connections busy on a model name that names no
version while the test loads version 2 beside version 1, shifts 10% -> 50% ->
100% of the traffic to it, rolls back to version 1 in one call and unloads
version 2: no request fails, the per-version counters follow the weights, and
the server's memory is back where it was before version 2 came.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import requests

from surge_e2e import identity_config, metric_sum, surge_binary, wait_until, write_model

MODEL = "canary"
PHASE_S = 4.0


def _successes(server, version: str) -> float:
    return metric_sum(server.metrics(), "surge_requests_total", model=MODEL, version=version, outcome="success") or 0.0


def _rss_kib(server) -> int:
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _traffic(server, method: str, body: dict | None = None) -> requests.Response:
    return requests.request(method, server.url(f"/v2/models/{MODEL}/traffic"), json=body, timeout=30)


def _shares_during(server, seconds: float) -> tuple[float, float]:
    """Requests answered by versions 1 and 2 over the next `seconds`."""
    before = (_successes(server, "1"), _successes(server, "2"))
    time.sleep(seconds)
    after = (_successes(server, "1"), _successes(server, "2"))
    return after[0] - before[0], after[1] - before[1]


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    write_model(root, MODEL, identity_config(MODEL, extra="version_policy { all { } }"))
    return root


def test_canary_shift_and_rollback_under_load_fail_nothing(surge_factory, repository):
    server = surge_factory(repository, "--model-control-mode", "explicit", "--load-model", MODEL)
    # Version 1 takes everything while version 2 loads beside it.
    assert _traffic(server, "POST", {"versions": {"1": 100}}).status_code == 200

    bench = subprocess.Popen(
        [str(surge_binary()), "bench", "--json", "--url", server.url(""), "--model", MODEL, "--concurrency", "64",
         "--duration", "40s", "--warmup", "1s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: _successes(server, "1") > 500, "the load to reach version 1", 30)
        time.sleep(2)
        rss_before = _rss_kib(server)

        (repository / MODEL / "2").mkdir()
        load = requests.post(server.url(f"/v2/repository/models/{MODEL}/load"), timeout=120)
        assert load.status_code == 200, load.text
        described = _traffic(server, "GET").json()
        assert described["loaded"] == ["1", "2"] and described["versions"] == {"1": 100}, described
        v1, v2 = _shares_during(server, 1.0)
        assert v2 == 0 and v1 > 0, (v1, v2)  # loaded and warm, but no share yet

        for weight in (10, 50, 100):
            assert _traffic(server, "POST", {"versions": {"1": 100 - weight, "2": weight}}).status_code == 200
            time.sleep(0.3)  # requests admitted before the change finish
            v1, v2 = _shares_during(server, PHASE_S)
            share = v2 / (v1 + v2)
            assert abs(share - weight / 100) <= 0.03, (weight, v1, v2)

        # Rollback: one call.
        assert _traffic(server, "POST", {"versions": {"1": 100}}).status_code == 200
        time.sleep(0.3)
        v1, v2 = _shares_during(server, 2.0)
        assert v2 == 0 and v1 > 0, (v1, v2)

        unload = requests.post(server.url(f"/v2/repository/models/{MODEL}/versions/2/unload"), timeout=120)
        assert unload.status_code == 200, unload.text
        assert _traffic(server, "GET").json()["loaded"] == ["1"]
        assert requests.get(server.url(f"/v2/models/{MODEL}/versions/2/infer"), timeout=10).status_code == 404
        time.sleep(2)
        rss_after = _rss_kib(server)
    finally:
        out, err = bench.communicate(timeout=120)
    assert bench.returncode == 0, err
    [level] = json.loads(out)["levels"]
    assert level["errors"]["total"] == 0, level["errors"]
    assert level["successes"] > 0
    assert abs(rss_after - rss_before) <= 0.10 * rss_before, (rss_before, rss_after)


def test_a_routing_key_keeps_a_client_on_one_version(surge_factory, repository):
    (repository / MODEL / "2").mkdir()
    server = surge_factory(repository)
    assert _traffic(server, "POST", {"versions": {"1": 50, "2": 50}}).status_code == 200
    body = {"inputs": [{"name": "INPUT0", "shape": [1, 1], "datatype": "FP32", "data": [1.0]}]}
    seen: dict[str, set[str]] = {}
    for user in range(40):
        for _ in range(3):
            response = requests.post(server.url(f"/v2/models/{MODEL}/infer"), json=body,
                                     headers={"X-Surge-Routing-Key": f"user-{user}"}, timeout=30)
            assert response.status_code == 200, response.text
            seen.setdefault(f"user-{user}", set()).add(response.json()["model_version"])
    assert all(len(versions) == 1 for versions in seen.values()), seen
    assert {next(iter(v)) for v in seen.values()} == {"1", "2"}  # both versions got users

    # Back to the highest version.
    assert _traffic(server, "DELETE").json()["default"] == "highest"
    response = requests.post(server.url(f"/v2/models/{MODEL}/infer"), json=body, timeout=30)
    assert response.json()["model_version"] == "2"


@pytest.mark.parametrize(
    "body, message",
    [
        ({"versions": {"3": 10}}, "model 'canary' has no version 3 loaded"),
        ({"versions": {"1": 0}}, "the weights must not all be 0"),
        ({"versions": {"one": 10}}, "version \"one\" is not a positive integer"),
        ({"versions": {"1": -5}}, "the weight of version 1 must be an integer from 0 to 1000000"),
        ({"versions": {}}, "\"versions\" names no version"),
        ({"weights": {"1": 1}}, "unknown field \"weights\""),
        ([1, 2], "the traffic body must be a JSON object"),
    ],
)
def test_a_bad_split_is_refused_naming_what_is_wrong(surge_factory, repository, body, message):
    server = surge_factory(repository)
    response = _traffic(server, "POST", body)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    assert _traffic(server, "GET").json()["default"] == "highest"  # nothing changed
    assert requests.post(server.url("/v2/models/nope/traffic"), json={"versions": {"1": 1}},
                         timeout=10).status_code == 404


def test_grpc_inference_follows_the_split_and_its_routing_key(surge_factory, repository):
    import numpy as np
    import tritonclient.grpc as grpcclient

    (repository / MODEL / "2").mkdir()
    server = surge_factory(repository)
    assert _traffic(server, "POST", {"versions": {"1": 100, "2": 0}}).status_code == 200
    client = grpcclient.InferenceServerClient(server.grpc_url)

    def version_of(headers=None) -> str:
        tensor = grpcclient.InferInput("INPUT0", [1, 1], "FP32")
        tensor.set_data_from_numpy(np.asarray([[1.0]], dtype=np.float32))
        return client.infer(MODEL, [tensor], headers=headers).get_response().model_version

    assert {version_of() for _ in range(20)} == {"1"}
    assert _traffic(server, "POST", {"versions": {"1": 50, "2": 50}}).status_code == 200
    by_key = {f"user-{u}": {version_of({"x-surge-routing-key": f"user-{u}"}) for _ in range(3)} for u in range(30)}
    assert all(len(v) == 1 for v in by_key.values()), by_key
    assert {next(iter(v)) for v in by_key.values()} == {"1", "2"}


def test_a_stateful_model_is_not_split_across_versions(surge_factory, demo_repository, tmp_path):
    import shutil

    root = tmp_path / "stateful"
    shutil.copytree(demo_repository / "accumulator", root / "accumulator")
    shutil.copytree(root / "accumulator" / "1", root / "accumulator" / "2")
    config = root / "accumulator" / "config.pbtxt"
    config.write_text(config.read_text() + "\nversion_policy { all { } }\n")
    server = surge_factory(root)
    url = server.url("/v2/models/accumulator/traffic")
    refused = requests.post(url, json={"versions": {"1": 50, "2": 50}}, timeout=10)
    assert refused.status_code == 400
    assert "stateful (sequence_batching)" in refused.json()["error"]
    assert requests.post(url, json={"versions": {"1": 100, "2": 0}}, timeout=10).status_code == 200
