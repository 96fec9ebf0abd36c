"""Images per second through surge's image model and through the aiohttp +
Pillow peer (bench/peers/image_preprocess), with the same encoded JPEGs,
and how close the two tensors are. Starts both servers itself.

    build/release/bench/image/surge_bench_image --write /tmp/images   # the JPEGs
    .venv/bin/python bench/image/drive.py /tmp/images/*.jpg --seconds 10 --concurrency 4
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import requests
import tritonclient.http as httpclient

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from surge_e2e import launch_surge  # noqa: E402

CONFIG = """name: "image224"
backend: "image"
max_batch_size: 8
input [ { name: "image" data_type: TYPE_STRING dims: [ 1 ] } ]
output [ { name: "pixels" data_type: TYPE_FP32 dims: [ 3, 224, 224 ] } ]
instance_group [ { count: %d kind: KIND_CPU } ]
parameters { key: "resize_mode" value { string_value: "center_crop" } }
parameters { key: "mean" value { string_value: "0.485,0.456,0.406" } }
parameters { key: "std" value { string_value: "0.229,0.224,0.225" } }
"""


def surge_tensor(client, image: bytes) -> np.ndarray:
    tensor = httpclient.InferInput("image", [1, 1], "BYTES")
    tensor.set_data_from_numpy(np.asarray([image], dtype=object).reshape(1, 1))
    return client.infer("image224", [tensor]).as_numpy("pixels")[0]


def peer_tensor(session, url: str, image: bytes) -> np.ndarray:
    response = session.post(url, data=image, timeout=30)
    response.raise_for_status()
    return np.frombuffer(response.content, dtype="<f4").reshape(3, 224, 224)


def measure(make_call, concurrency: int, seconds: float) -> float:
    done = [0] * concurrency
    stop = time.monotonic() + seconds

    def worker(i):
        call = make_call()
        while time.monotonic() < stop:
            call()
            done[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.monotonic() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("images", nargs="+", type=Path)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2, help="surge instances and peer pool threads")
    parser.add_argument("--port", type=int, default=8600)
    args = parser.parse_args()

    repository = Path(tempfile.mkdtemp()) / "repository"
    (repository / "image224" / "1").mkdir(parents=True)
    (repository / "image224" / "config.pbtxt").write_text(CONFIG % args.threads)
    surge = launch_surge(repository, repository.parent / "logs", ["--threads", "1"])
    peer = subprocess.Popen([sys.executable, str(ROOT / "bench/peers/image_preprocess/server.py"),
                             "--port", str(args.port), "--threads", str(args.threads)])
    url = f"http://127.0.0.1:{args.port}/preprocess"
    results = []
    try:
        surge.wait_ready()
        for _ in range(100):
            try:
                requests.post(url, data=b"", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        for path in args.images:
            image = path.read_bytes()
            with surge.client() as client:
                ours = surge_tensor(client, image)
            with requests.Session() as session:
                theirs = peer_tensor(session, url, image)

            def surge_call():
                client = surge.client()
                return lambda: surge_tensor(client, image)

            def peer_call():
                session = requests.Session()
                return lambda: peer_tensor(session, url, image)

            row = {
                "image": path.name,
                "bytes": len(image),
                "surge_images_per_s": round(measure(surge_call, args.concurrency, args.seconds), 1),
                "peer_images_per_s": round(measure(peer_call, args.concurrency, args.seconds), 1),
                "mean_abs_difference": round(float(np.abs(ours - theirs).mean()), 4),
            }
            results.append(row)
            print(json.dumps(row), flush=True)
    finally:
        peer.terminate()
        peer.wait()
        surge.stop()


if __name__ == "__main__":
    main()
