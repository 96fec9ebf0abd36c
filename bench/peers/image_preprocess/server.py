"""The textbook image-preprocessing service surge's image step is compared
with: aiohttp, and Pillow in a thread pool (Pillow releases the GIL while it
decodes and resizes). POST /preprocess with an encoded image as the body;
the answer is the 3x224x224 FP32 tensor (NCHW, little-endian) that surge's
center_crop step makes: shorter side to 224 (Pillow's reducing draft, then
a bilinear resize), centre crop, /255, ImageNet mean and std.

    .venv/bin/python bench/peers/image_preprocess/server.py --port 8600 --threads 2
"""

import argparse
import asyncio
import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from aiohttp import web
from PIL import Image

SIZE = 224
MEAN = np.asarray([0.485, 0.456, 0.406], dtype=np.float32)[:, None, None]
STD = np.asarray([0.229, 0.224, 0.225], dtype=np.float32)[:, None, None]


def preprocess(body: bytes) -> bytes:
    picture = Image.open(io.BytesIO(body))
    picture.draft("RGB", (SIZE, SIZE))  # JPEG: libjpeg's DCT scaling, as surge uses
    picture = picture.convert("RGB")
    w, h = picture.size
    scale = SIZE / min(w, h)
    picture = picture.resize((max(SIZE, round(w * scale)), max(SIZE, round(h * scale))), Image.BILINEAR)
    left, top = (picture.width - SIZE) // 2, (picture.height - SIZE) // 2
    picture = picture.crop((left, top, left + SIZE, top + SIZE))
    pixels = np.asarray(picture, dtype=np.float32).transpose(2, 0, 1) / 255.0
    return ((pixels - MEAN) / STD).astype("<f4").tobytes()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8600)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    pool = ThreadPoolExecutor(args.threads)

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            tensor = await asyncio.get_running_loop().run_in_executor(pool, preprocess, body)
        except Exception as e:  # Pillow's UnidentifiedImageError, OSError for truncated files
            return web.json_response({"error": str(e)}, status=400)
        return web.Response(body=tensor, content_type="application/octet-stream")

    app = web.Application(client_max_size=64 << 20)
    app.router.add_post("/preprocess", handle)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
