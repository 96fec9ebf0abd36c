"""A model whose config.pbtxt uses a field surge does not support: reported by
name and skipped (the others serve), or fatal at start-up with --strict."""

import time

import numpy as np
import requests

from surge_e2e import (
    HTTP_TIMEOUT_S,
    READY_TIMEOUT_S,
    error_message,
    identity_config,
    json_infer_body,
    output_array,
    post_infer,
    wait_until,
    write_model,
)

# response_cache is valid for Triton and not part of surge's configuration.
UNSUPPORTED_FIELD = "response_cache"
WARMUP = "response_cache { enable: true }"


def _repository(tmp_path):
    repository = tmp_path / "models"
    write_model(repository, "good_identity", identity_config("good_identity"))
    write_model(repository, "warmup_identity", identity_config("warmup_identity", extra=WARMUP))
    return repository


def test_unsupported_field_is_reported_and_other_models_serve(surge_factory, tmp_path):
    server = surge_factory(_repository(tmp_path))

    assert requests.get(server.url("/v2/health/live"), timeout=HTTP_TIMEOUT_S).status_code == 200
    assert requests.get(server.url("/v2/models/good_identity/ready"), timeout=HTTP_TIMEOUT_S).status_code == 200
    values = [[1.0, 2.0, 3.0]]
    np.testing.assert_array_equal(
        output_array(post_infer(server, "good_identity", json_infer_body(values))), np.float32(values)
    )

    ready = requests.get(server.url("/v2/models/warmup_identity/ready"), timeout=HTTP_TIMEOUT_S)
    assert ready.status_code != 200, "a model whose config failed to load reports ready"

    # Not ready is 503; a server that forgets failed models answers 404. Never 200.
    infer = post_infer(server, "warmup_identity", json_infer_body([[1.0]]))
    assert infer.status_code in (503, 404), f"{infer.status_code} {infer.text[:300]}"
    assert error_message(infer)

    def field_named():
        metadata = requests.get(server.url("/v2/models/warmup_identity"), timeout=HTTP_TIMEOUT_S)
        return UNSUPPORTED_FIELD in server.logs() + metadata.text + ready.text

    wait_until(field_named, f"the log or the model's metadata to name {UNSUPPORTED_FIELD}")


def test_strict_mode_refuses_to_start(surge_factory, tmp_path):
    server = surge_factory(_repository(tmp_path), "--strict", wait_ready=False)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while server.process.poll() is None:
        assert "surge: ready" not in server.stdout_text(), "--strict served a repository with a bad config"
        assert time.monotonic() < deadline, "--strict neither exited nor became ready"
        time.sleep(0.01)
    assert server.process.returncode != 0
    assert UNSUPPORTED_FIELD in server.stderr_text(), "stderr does not name the unsupported field"
