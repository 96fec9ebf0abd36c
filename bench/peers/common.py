"""What every peer server shares: the model, the request format, the response.

Each peer serves the same TorchScript file as surge's `mlp` model
(model_repository/mlp/1/model.pt, 64 -> 10 FP32) with one intra-op thread, as
surge's `intra_op_threads: 1`, and speaks the same KServe v2-shaped JSON:

    request   {"inputs": [{"name": "input", "datatype": "FP32", "shape": [n, 64], "data": [...]}]}
    response  {"model_name": "mlp", "outputs": [{"name": "output", "datatype": "FP32",
               "shape": [n, 10], "data": [...]}]}

Only the HTTP front end and the batching differ between peers: each peer's own
dynamic batcher collects decoded requests (tensors of shape [n, 64]) and calls
`infer_batch` once per batch.
"""

import os
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL_PATH = Path(os.environ.get("PEER_MODEL") or REPO_ROOT / "model_repository" / "mlp" / "1" / "model.pt")
MODEL_NAME = "mlp"
INPUT_NAME = "input"
OUTPUT_NAME = "output"
WIDTH = 64

# Batching settings every peer is given, from surge's mlp config.pbtxt:
# max_batch_size 64, preferred_batch_size [64], max_queue_delay_microseconds 2000.
MAX_BATCH_SIZE = int(os.environ.get("PEER_MAX_BATCH_SIZE", "64"))
MAX_WAIT_S = float(os.environ.get("PEER_MAX_WAIT_MS", "2")) / 1000.0


class BadRequest(ValueError):
    pass


def load_model(path=None):
    """torch.jit.load with one intra-op thread, in eval mode, warmed up once."""
    torch.set_num_threads(1)
    model = torch.jit.load(str(path or MODEL_PATH), map_location="cpu")
    model.eval()
    with torch.inference_mode():
        model(torch.zeros(1, WIDTH))
    return model


def decode(body):
    """KServe v2 JSON body (already parsed) -> float32 tensor [n, 64]."""
    try:
        inputs = body["inputs"]
        tensor = next((t for t in inputs if t.get("name") == INPUT_NAME), None)
        if tensor is None:
            raise BadRequest(f"no input named {INPUT_NAME!r}")
        if tensor.get("datatype", "FP32") != "FP32":
            raise BadRequest("datatype must be FP32")
        shape = [int(d) for d in tensor["shape"]]
        data = tensor["data"]
    except (KeyError, TypeError, StopIteration) as e:
        raise BadRequest(f"malformed request: {e}") from e
    if len(shape) != 2 or shape[1] != WIDTH or shape[0] < 1:
        raise BadRequest(f"shape must be [n, {WIDTH}], got {shape}")
    if len(data) != shape[0] * shape[1]:
        raise BadRequest(f"{len(data)} values for shape {shape}")
    return torch.tensor(data, dtype=torch.float32).view(shape[0], WIDTH)


def infer_batch(model, tensors):
    """One forward pass over the concatenated requests; one output per request."""
    sizes = [t.shape[0] for t in tensors]
    with torch.inference_mode():
        out = model(torch.cat(tensors) if len(tensors) > 1 else tensors[0])
    return list(out.split(sizes)) if len(tensors) > 1 else [out]


def encode(output):
    """Output tensor [n, 10] -> KServe v2 response dict."""
    return {
        "model_name": MODEL_NAME,
        "outputs": [
            {
                "name": OUTPUT_NAME,
                "datatype": "FP32",
                "shape": list(output.shape),
                "data": output.reshape(-1).tolist(),
            }
        ],
    }


def output_entry(output):
    """The single entry of `outputs` (for peers whose response is that list)."""
    return encode(output)["outputs"][0]
