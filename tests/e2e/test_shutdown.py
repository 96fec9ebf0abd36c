"""SIGTERM and SIGINT: stop admitting, finish what was admitted, exit 0."""

import signal
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests

from surge_e2e import (
    HTTP_TIMEOUT_S,
    identity_config,
    json_infer_body,
    output_array,
    post_infer,
    wait_held,
    wait_until,
    write_model,
)

IN_FLIGHT = 3


def _not_admitting(server) -> bool:
    try:
        return requests.get(server.url("/v2/health/ready"), timeout=HTTP_TIMEOUT_S).status_code != 200
    except requests.ConnectionError:
        return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_drains_in_flight_requests_and_exits_0(surge_factory, tmp_path, sig):
    model = "draining_identity"
    repository = tmp_path / "models"
    write_model(repository, model, identity_config(model, max_batch_size=1, execute_delay_us=150_000))
    server = surge_factory(repository)

    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        futures = [pool.submit(post_infer, server, model, json_infer_body([[float(i)] * 3])) for i in range(IN_FLIGHT)]
        # One executing, the rest queued: all admitted before the signal.
        wait_held(server, model, at_least=IN_FLIGHT, queued_at_least=IN_FLIGHT - 1)
        server.process.send_signal(sig)

        wait_until(lambda: _not_admitting(server), "the server to stop reporting ready after the signal")
        try:
            late = post_infer(server, model, json_infer_body([[9.0] * 3]))
        except requests.ConnectionError:
            pass  # the listener is closed: also not admitted
        else:
            assert late.status_code == 503, f"request sent while draining: {late.status_code} {late.text[:300]}"

        answers = [f.result(HTTP_TIMEOUT_S) for f in futures]

    for i, answer in enumerate(answers):
        np.testing.assert_array_equal(output_array(answer), np.full((1, 3), float(i), dtype=np.float32))
    assert server.wait_exit() == 0
