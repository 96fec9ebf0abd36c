"""Ray Serve peer: POST /mlp, Ray Serve's own dynamic batching.

    .bench-venvs/rayserve/bin/python bench/peers/rayserve/server.py --port 8000

Batching as Ray Serve documents it: an async method decorated with
@serve.batch(max_batch_size=64, batch_wait_timeout_s=0.002), and
max_ongoing_requests raised above max_batch_size so a full batch can form (the
default, 5, would cap every batch at 5). One replica on a local Ray instance
limited to the machine's CPUs; no dashboard, no access log.
"""

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# A single-node Ray that binds its internal services to 127.0.0.1 rather than
# to the machine's first non-loopback address (read when ray is imported).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

import ray  # noqa: E402
from ray import serve  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402

import common  # noqa: E402


@serve.deployment(
    num_replicas=1,
    max_ongoing_requests=2 * common.MAX_BATCH_SIZE,
    ray_actor_options={"num_cpus": 1},
    # No per-request access log line (surge and the other peers write none).
    logging_config={"enable_access_log": False},
)
class MLP:
    def __init__(self):
        self.model = common.load_model()

    @serve.batch(max_batch_size=common.MAX_BATCH_SIZE, batch_wait_timeout_s=common.MAX_WAIT_S)
    async def infer(self, tensors):
        return common.infer_batch(self.model, tensors)

    async def __call__(self, request: Request):
        try:
            tensor = common.decode(await request.json())
        except (common.BadRequest, ValueError) as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        return common.encode(await self.infer(tensor))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # Replicas import common.py too; keep every Ray process on loopback.
    peers_dir = str(Path(__file__).resolve().parents[1])
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [peers_dir, os.environ.get("PYTHONPATH")]))
    ray.init(
        num_cpus=os.cpu_count(),
        include_dashboard=False,
        log_to_driver=False,
        _node_ip_address="127.0.0.1",
    )
    serve.start(http_options={"host": args.host, "port": args.port})
    serve.run(MLP.bind(), name="mlp", route_prefix="/mlp")
    print(f"rayserve: listening on {args.host}:{args.port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    # ray.shutdown() stops the local Ray instance and with it every actor;
    # serve.shutdown() first would wait for the controller (up to 30 s).
    ray.shutdown()


if __name__ == "__main__":
    main()
