"""Handlers the Python SDK tests serve with `python -m surge_client.worker
--handler python_sdk_handlers:tagged --handler-arg ...`.

`tagged` takes inputs `tag` (INT64, [batch, 1]; a value unique per row, 0 in
warm-up) and `x` (FP32, [batch, 2]) and returns `tag` unchanged and `y = 2x`.
Every predict call is written as one JSON line to the file `log`
(O_APPEND, one write per line, so several workers can share it):

    {"event": "predict-start" | "predict-end", "pid": ..., "worker": ..., "tags": [...]}
    {"event": "warmup-start" | "warmup-end", "pid": ..., "worker": ...}

so a test can count calls, see which worker ran which row and when.
"""

from __future__ import annotations

import json
import os
import time
from typing import Dict

import numpy as np

from surge_client.handler import Handler, TensorSpec

# The exit status of a worker killed by the poison tag.
POISON_EXIT_STATUS = 17


def _writer(log: str, worker: str):
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(event: str, **extra) -> None:
        record = {"event": event, "pid": os.getpid(), "worker": worker, "time": time.time(), **extra}
        os.write(fd, (json.dumps(record) + "\n").encode())

    return write


def tagged(
    log: str, worker: str = "", sleep_s: str = "0", warmup_sleep_s: str = "0", poison_tag: str = "-1"
) -> Handler:
    """sleep_s: seconds each predict call takes; warmup_sleep_s: seconds the
    warm-up takes before its inference; poison_tag: a tag whose row makes the
    process exit at once, as a crashing model would."""
    write = _writer(log, worker)
    sleep = float(sleep_s)
    poison = int(poison_tag)

    def predict(inputs: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        tags = [int(t) for t in inputs["tag"].reshape(-1)]
        write("predict-start", tags=tags)
        if poison in tags:
            os._exit(POISON_EXIT_STATUS)
        if sleep > 0 and any(tags):
            time.sleep(sleep)  # the model's compute time
        write("predict-end", tags=tags)
        return {"tag": inputs["tag"].copy(), "y": inputs["x"] * 2}

    specs = [TensorSpec("tag", "INT64", [1]), TensorSpec("x", "FP32", [2])]

    def warmup() -> None:
        write("warmup-start")
        time.sleep(float(warmup_sleep_s))  # loading a large model
        predict({spec.name: spec.zeros(batched=True) for spec in specs})
        write("warmup-end")

    return Handler(predict=predict, inputs=specs, warmup=warmup)
