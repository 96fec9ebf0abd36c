"""Text classifier peer: FastAPI + uvicorn + ONNX Runtime + tokenizers, the
service a user would write around model_repository/minilm_kjv/1/model.onnx.

    .bench-venvs/text_fastapi/bin/python bench/peers/text_fastapi/server.py \
        --port 8000 --repository model_repository

It answers surge's route and body (KServe v2 JSON, one BYTES "TEXT" element
per request) with the `probabilities` output, so the same load generator
drives both. Requests are batched as surge batches them: up to 64 verses,
waiting at most 2 ms after the first, tokenized together and padded to the
batch's longest (tokenizers' pad-to-longest), then one Session.run on a
one-thread executor (one model instance) while the event loop keeps
accepting requests. ONNX Runtime gets the same intra-op threads as surge's
minilm_kjv config (2). One uvicorn worker, access log off.
"""

import argparse
import asyncio
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
import onnxruntime as ort
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from tokenizers import Tokenizer

MAX_BATCH = 64
MAX_WAIT_S = 0.002
MAX_LENGTH = 128
INTRA_OP_THREADS = 2


class Classifier:
    def __init__(self, repository: Path):
        self.tokenizer = Tokenizer.from_file(str(repository / "minilm_tokenizer" / "1" / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_LENGTH)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the batch's longest
        options = ort.SessionOptions()
        options.intra_op_num_threads = INTRA_OP_THREADS
        model = repository / "minilm_kjv" / "1" / "model.onnx"
        self.session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])

    def run(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        feed = {
            "input_ids": np.asarray([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.asarray([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.asarray([e.type_ids for e in encodings], dtype=np.int64),
        }
        return self.session.run(["probabilities"], feed)[0]


class Batcher:
    def __init__(self, classifier: Classifier):
        self.classifier = classifier
        self.queue: asyncio.Queue = asyncio.Queue()
        self.executor = ThreadPoolExecutor(max_workers=1)
        self.task = asyncio.get_running_loop().create_task(self.loop())

    async def submit(self, text: str) -> np.ndarray:
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((text, future))
        return await future

    async def loop(self):
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            deadline = loop.time() + MAX_WAIT_S
            while len(batch) < MAX_BATCH:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self.queue.get(), timeout))
                except asyncio.TimeoutError:
                    break
            try:
                out = await loop.run_in_executor(self.executor, self.classifier.run, [t for t, _ in batch])
                for (_, future), row in zip(batch, out):
                    future.set_result(row)
            except Exception as e:  # every waiting request learns of it
                for _, future in batch:
                    future.set_exception(e)


def make_app(repository: Path) -> FastAPI:
    state = {}

    @asynccontextmanager
    async def lifespan(app):
        state["batcher"] = Batcher(Classifier(repository))
        yield

    app = FastAPI(lifespan=lifespan)

    @app.post("/v2/models/text_classifier/infer")
    async def infer(request: Request):
        try:
            body = await request.json()
            text = body["inputs"][0]["data"][0]
            if not isinstance(text, str) or not text:
                raise ValueError("input 'TEXT' needs one non-empty string")
        except (KeyError, IndexError, TypeError, ValueError) as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        row = await state["batcher"].submit(text)
        return {
            "model_name": "text_classifier",
            "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [1, 2], "data": row.tolist()}],
        }

    return app


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    args = parser.parse_args()
    uvicorn.run(make_app(args.repository), host=args.host, port=args.port, workers=1, log_level="warning",
                access_log=False)


if __name__ == "__main__":
    main()
