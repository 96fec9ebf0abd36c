"""BentoML peer: POST /infer, BentoML's adaptive batching.

    cd bench/peers/bentoml && ../../../.bench-venvs/bentoml/bin/bentoml serve service:MLP --port 8000

Batching as BentoML documents it: @bentoml.api(batchable=True, max_batch_size=64,
max_latency_ms=...). BentoML has no fixed wait-time setting: its CORK
dispatcher sizes the wait from measured batch costs. max_latency_ms is the
latency budget past which queued requests are refused with 503, not a wait;
it is left at 1000 ms so that no request the other servers would answer is
refused (run_peers.sh counts non-2xx answers all the same). One worker
process, one inference thread, access log off.

The JSON body's `inputs` field is the API's parameter; BentoML concatenates
the `inputs` lists of queued requests into one batch and splits the returned
list back, so each response body is that request's `outputs` list:
[{"name": "output", "datatype": "FP32", "shape": [1, 10], "data": [...]}].
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bentoml  # noqa: E402

import common  # noqa: E402


@bentoml.service(
    workers=1,
    threads=1,
    traffic={"timeout": 60},
    # No per-request access log line (surge and the other peers write none).
    logging={"access": {"enabled": False}},
)
class MLP:
    def __init__(self):
        self.model = common.load_model()

    @bentoml.api(
        batchable=True,
        max_batch_size=common.MAX_BATCH_SIZE,
        max_latency_ms=1000,
    )
    def infer(self, inputs: list[dict]) -> list[dict]:
        tensors = [common.decode({"inputs": [tensor]}) for tensor in inputs]
        return [common.output_entry(out) for out in common.infer_batch(self.model, tensors)]
