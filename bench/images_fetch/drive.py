"""Wall time of POST /v1/images/preprocess for many URLs served with an
injected latency, against the ideal ceil(urls / concurrency) x latency plus
the decode time measured with no latency. Starts an aiohttp image server
(one 320x240 JPEG at every /img/<n>.jpg, after `--latency-ms`) and surge
itself. Not part of make test.

    .venv/bin/python bench/images_fetch/drive.py --urls 1000 --concurrency 100 --latency-ms 50 --runs 5
"""

import argparse
import asyncio
import io
import json
import math
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import requests
from aiohttp import web
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from surge_e2e import launch_surge  # noqa: E402


def jpeg() -> bytes:
    y, x = np.mgrid[0:240, 0:320]
    pixels = np.stack([x % 256, y % 256, (x * y) % 256], axis=-1).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, format="JPEG", quality=90)
    return out.getvalue()


class ImageServer:
    """aiohttp on its own thread and loop; `latency_s` may change between runs."""

    def __init__(self, body: bytes):
        self.latency_s = 0.0
        self.body = body
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait()

    async def _image(self, request: web.Request) -> web.Response:
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        return web.Response(body=self.body, content_type="image/jpeg")

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_get("/img/{n}.jpg", self._image)
        runner = web.AppRunner(app, access_log=None)
        self.loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()


def one_run(server, urls: list[str]) -> float:
    body = {"urls": urls, "size": [64, 64], "dtype": "UINT8", "layout": "NHWC"}
    started = time.monotonic()
    response = requests.post(server.url("/v1/images/preprocess"), json=body, timeout=300)
    wall = time.monotonic() - started
    response.raise_for_status()
    results = response.json()["results"]
    failed = [r for r in results if "error" in r]
    if failed:
        raise SystemExit(f"{len(failed)} URLs failed, first: {failed[0]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--urls", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--image-threads", type=int, default=0)
    args = parser.parse_args()

    images = ImageServer(jpeg())
    repository = Path(tempfile.mkdtemp(prefix="surge-bench-images-"))
    server = launch_surge(repository, repository / "logs", [
        "--fetch-allow", f"127.0.0.1:{images.port}",
        "--fetch-max-concurrency", str(args.concurrency), "--fetch-max-per-host", str(args.concurrency),
        "--image-threads", str(args.image_threads)])
    try:
        server.wait_ready()
        urls = [f"http://127.0.0.1:{images.port}/img/{n}.jpg" for n in range(args.urls)]
        one_run(server, urls[:10])  # warm-up
        images.latency_s = 0.0
        no_latency = sorted(one_run(server, urls) for _ in range(args.runs))
        images.latency_s = args.latency_ms / 1000
        with_latency = sorted(one_run(server, urls) for _ in range(args.runs))
    finally:
        server.stop()
    decode_ms = no_latency[len(no_latency) // 2] * 1000
    ideal_ms = math.ceil(args.urls / args.concurrency) * args.latency_ms + decode_ms
    median_ms = with_latency[len(with_latency) // 2] * 1000
    print(json.dumps({
        "urls": args.urls, "concurrency": args.concurrency, "latency_ms": args.latency_ms,
        "no_latency_ms": [round(t * 1000, 1) for t in no_latency],
        "with_latency_ms": [round(t * 1000, 1) for t in with_latency],
        "ideal_ms": round(ideal_ms, 1), "median_ms": round(median_ms, 1),
        "over_ideal": f"{(median_ms / ideal_ms - 1) * 100:+.0f}%",
    }, indent=1))


if __name__ == "__main__":
    main()
