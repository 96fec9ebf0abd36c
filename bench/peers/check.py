#!/usr/bin/python3
"""Waits until a server answers the benchmark's request correctly.

    /usr/bin/python3 bench/peers/check.py URL [--pid PID] [--timeout 180]

POSTs the exact body bench/wrk/infer.lua sends for `-- mlp input 1,64` to URL
until it answers 200, then compares the returned output with torch's own
forward pass of model_repository/mlp/1/model.pt on the same input (within
1e-4). Accepts a KServe v2 response ({"outputs": [...]}) or a bare outputs
list. Exit status 0: correct; 1: wrong answer; 2: no answer before the
timeout; 3: the server process (--pid) exited. The reason is printed.
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL = REPO_ROOT / "model_repository" / "mlp" / "1" / "model.pt"
TOLERANCE = 1e-4


def infer_lua_body(model_input="input", dims=(1, 64)):
    """The request body of bench/wrk/infer.lua, byte for byte."""
    count = 1
    for d in dims:
        count *= d
    values = [f"{((i * 37) % 101) / 100:.2f}" for i in range(1, count + 1)]
    shape = ",".join(str(d) for d in dims)
    body = f'{{"inputs":[{{"name":"{model_input}","shape":[{shape}],"datatype":"FP32","data":[{",".join(values)}]}}]}}'
    return body.encode(), [float(v) for v in values], list(dims)


def output_data(answer):
    outputs = answer.get("outputs") if isinstance(answer, dict) else answer
    if not isinstance(outputs, list) or not outputs or not isinstance(outputs[0], dict):
        raise ValueError("no outputs list in the response")
    entry = next((o for o in outputs if o.get("name") == "output"), outputs[0])
    return entry["data"], entry.get("shape")


def post(url, body):
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--pid", type=int)
    parser.add_argument("--timeout", type=float, default=180)
    args = parser.parse_args()

    body, values, dims = infer_lua_body()
    torch.set_num_threads(1)
    model = torch.jit.load(str(MODEL), map_location="cpu").eval()
    with torch.inference_mode():
        expected = model(torch.tensor(values, dtype=torch.float32).view(*dims)).reshape(-1).tolist()

    deadline = time.monotonic() + args.timeout
    last = "no attempt"
    while True:
        if args.pid and not os.path.exists(f"/proc/{args.pid}"):
            print(f"server process {args.pid} exited before answering ({last})")
            return 3
        try:
            status, raw = post(args.url, body)
            if status == 200:
                break
            last = f"HTTP {status}: {raw[:300]!r}"
        except urllib.error.HTTPError as e:
            last = f"HTTP {e.code}: {e.read()[:300]!r}"
        except (OSError, ValueError) as e:
            last = f"{type(e).__name__}: {e}"
        if time.monotonic() > deadline:
            print(f"no correct answer within {args.timeout:.0f} s; last: {last}")
            return 2
        time.sleep(0.25)

    try:
        got, shape = output_data(json.loads(raw))
        got = [float(v) for v in got]
    except (ValueError, KeyError, TypeError) as e:
        print(f"unreadable response ({e}): {raw[:300]!r}")
        return 1
    if len(got) != len(expected):
        print(f"{len(got)} output values (shape {shape}), expected {len(expected)}")
        return 1
    worst = max(abs(a - b) for a, b in zip(got, expected))
    if worst > TOLERANCE:
        print(f"output differs from torch by up to {worst:.3g} (> {TOLERANCE})")
        return 1
    print(f"correct: {len(got)} values within {worst:.2g} of torch")
    return 0


if __name__ == "__main__":
    sys.exit(main())
