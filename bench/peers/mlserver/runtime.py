"""MLServer peer: a custom MLModel runtime serving the mlp TorchScript file.

Loaded by `mlserver start` (bench/peers/mlserver/serve.sh) from the
model-settings.json serve.sh writes: `implementation: runtime.MLPRuntime`,
`parameters.uri` the model file, `max_batch_size: 64`, `max_batch_time: 0.002`.
MLServer's adaptive batcher merges queued KServe v2 requests along the first
dimension into one InferenceRequest before predict() and splits the response
after, so predict() runs one forward pass per batch, as every peer does through
common.infer_batch.
"""

import sys
from pathlib import Path

import numpy as np
import torch
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.errors import InferenceError
from mlserver.types import InferenceRequest, InferenceResponse
from mlserver.utils import get_model_uri

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common  # noqa: E402


class MLPRuntime(MLModel):
    async def load(self) -> bool:
        self._model = common.load_model(await get_model_uri(self._settings))
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        tensor = next((t for t in payload.inputs if t.name == common.INPUT_NAME), None)
        if tensor is None:
            raise InferenceError(f"no input named {common.INPUT_NAME!r}")
        if tensor.datatype != "FP32":
            raise InferenceError("datatype must be FP32")
        rows = NumpyCodec.decode_input(tensor)
        if rows.ndim != 2 or rows.shape[1] != common.WIDTH:
            raise InferenceError(f"shape must be [n, {common.WIDTH}], got {list(rows.shape)}")
        # decode_input may return a read-only view of the request's buffer; torch wants its own copy.
        batch = torch.from_numpy(np.array(rows, dtype=np.float32))
        output = common.infer_batch(self._model, [batch])[0]
        return InferenceResponse(
            model_name=self.name,
            outputs=[NumpyCodec.encode_output(common.OUTPUT_NAME, output.numpy())],
        )
