"""Open-loop load on a text classifier: requests leave at a fixed rate
whether or not earlier ones were answered (so a slow server builds a queue
and its latency shows it, unlike a closed loop that slows down with it).

    .venv/bin/python bench/text_classifier/open_loop.py --url http://127.0.0.1:8000 \
        --rate 500 --duration 60 [--warmup 5] [--json out.json]

Each request is KServe v2 JSON with one KJV verse as BYTES input "TEXT"
([1, 1]) to /v2/models/text_classifier/infer. Latency is from the scheduled
send time (not the actual one), so client lag counts against the server
rather than hiding it. --tokens sends the verse tokenized by the client
instead (input_ids, attention_mask, token_type_ids INT64 [1, L] to
/v2/models/minilm_kjv/infer): the ONNX model and its ragged batching without
the tokenizer step. Prints one JSON line: offered and achieved rate
(answers per second over the measured window), p50/p90/p99/max latency in
ms, and errors by status. open_loop() is the same load for any list of
bodies and route (bench/features/features_bench.py sends fraud requests
with it).
"""

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import aiohttp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sentences import verses  # noqa: E402

TIMEOUT_S = 30.0


def token_bodies(mix: list[str], tokenizer_json: Path) -> list[bytes]:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_json))
    tokenizer.no_padding()
    tokenizer.enable_truncation(128)
    bodies = []
    for e in tokenizer.encode_batch(mix):
        inputs = [
            {"name": name, "shape": [1, len(values)], "datatype": "INT64", "data": list(values)}
            for name, values in (("input_ids", e.ids), ("attention_mask", e.attention_mask), ("token_type_ids", e.type_ids))
        ]
        bodies.append(json.dumps({"inputs": inputs}).encode())
    return bodies


async def run(url: str, rate: float, duration: float, warmup: float, connections: int, tokens: Path | None) -> dict:
    total = int(rate * (duration + warmup))
    mix = verses(min(total, 20000))
    if tokens:
        bodies = token_bodies(mix, tokens)
        target = url.rstrip("/") + "/v2/models/minilm_kjv/infer"
    else:
        bodies = [
            json.dumps({"inputs": [{"name": "TEXT", "shape": [1, 1], "datatype": "BYTES", "data": [v]}]}).encode()
            for v in mix
        ]
        target = url.rstrip("/") + "/v2/models/text_classifier/infer"
    return await open_loop(target, bodies, rate, duration, warmup, connections)


async def open_loop(target: str, bodies: list[bytes], rate: float, duration: float, warmup: float,
                    connections: int) -> dict:
    """POSTs bodies[i % len(bodies)] to target at `rate` a second for warmup + duration
    seconds; the summary of the measured part (after warmup), as main() prints it."""
    total = int(rate * (duration + warmup))
    latencies: list[float] = []
    errors: dict[str, int] = {}
    measured_from = warmup
    answered_in_window = 0
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.perf_counter() + 0.1

        async def one(i: int) -> None:
            nonlocal answered_in_window
            scheduled = start + i / rate
            try:
                async with session.post(target, data=bodies[i % len(bodies)],
                                        headers={"Content-Type": "application/json"}) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                status = type(e).__name__
            done = time.perf_counter()
            if scheduled - start < measured_from:
                return
            if status != 200:
                errors[str(status)] = errors.get(str(status), 0) + 1
                return
            latencies.append(done - scheduled)
            if done - start <= measured_from + duration:
                answered_in_window += 1

        tasks = []
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    ms = np.asarray(latencies) * 1000.0
    quantile = (lambda q: round(float(np.quantile(ms, q)), 2)) if len(ms) else (lambda q: None)
    return {
        "offered_rate": rate,
        "achieved_rate": round(answered_in_window / duration, 1),
        "answered": len(latencies),
        "p50_ms": quantile(0.5),
        "p90_ms": quantile(0.9),
        "p99_ms": quantile(0.99),
        "max_ms": round(float(ms.max()), 2) if len(ms) else None,
        "errors": errors,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured seconds first")
    parser.add_argument("--connections", type=int, default=256)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--tokens", type=Path, metavar="TOKENIZER_JSON",
                        help="send client-tokenized verses to minilm_kjv instead of text to text_classifier")
    args = parser.parse_args()
    result = asyncio.run(run(args.url, args.rate, args.duration, args.warmup, args.connections, args.tokens))
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
