"""async-batcher peer: FastAPI + uvicorn, POST /predict, batched by AsyncBatcher.

    .bench-venvs/async_batcher/bin/python bench/peers/async_batcher/server.py --port 8000

Batching as async-batcher documents it: an AsyncBatcher subclass whose
process_batch runs the model, with max_batch_size=64 and max_queue_time=0.002
(seconds), concurrency 1 (one batch at a time, as one model instance), and
the synchronous process_batch run on a one-thread executor so the event loop
keeps accepting requests. One uvicorn worker process, access log off.
"""

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvicorn  # noqa: E402
from async_batcher.batcher import AsyncBatcher  # noqa: E402
from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import JSONResponse  # noqa: E402

import common  # noqa: E402


class MLPBatcher(AsyncBatcher):
    def __init__(self, model, **kwargs):
        super().__init__(**kwargs)
        self.model = model

    def process_batch(self, batch):
        return common.infer_batch(self.model, batch)


batcher = None


@asynccontextmanager
async def lifespan(app):
    global batcher
    batcher = MLPBatcher(
        common.load_model(),
        max_batch_size=common.MAX_BATCH_SIZE,
        max_queue_time=common.MAX_WAIT_S,
        concurrency=1,
        executor=ThreadPoolExecutor(max_workers=1),
    )
    yield
    await batcher.stop(force=True)


app = FastAPI(lifespan=lifespan)


@app.post("/predict")
async def predict(request: Request):
    try:
        tensor = common.decode(await request.json())
    except (common.BadRequest, ValueError) as e:
        return JSONResponse({"error": str(e)}, status_code=400)
    return common.encode(await batcher.process(tensor))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, workers=1, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
