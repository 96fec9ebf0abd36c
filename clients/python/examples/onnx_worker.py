"""A surge worker serving an ONNX model with ONNX Runtime's Python package:
the model's own inputs become the handler's declared inputs, and every
output the model has is returned.

    PYTHONPATH=clients/python/examples python -m surge_client.worker --redis ... --model iris_onnx \\
        --handler onnx_worker:factory --handler-arg model_path=model_repository/iris_onnx/1/model.onnx

The gateway's config for the model (worker_pool) must declare the same
tensors; run a model this way where the worker should hold the Python
runtime, or where the C++ `onnxruntime` backend is not deployed.
"""

from __future__ import annotations

from typing import Dict

import numpy as np

from surge_client.handler import Handler, TensorSpec

# ONNX Runtime's type names to KServe's.
_DATATYPES = {
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(float16)": "FP16",
    "tensor(int8)": "INT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(uint8)": "UINT8",
    "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64",
    "tensor(bool)": "BOOL",
    "tensor(string)": "BYTES",
}


def factory(model_path: str, threads: str = "1") -> Handler:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = int(threads)
    session = onnxruntime.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
    specs = []
    for tensor in session.get_inputs():
        if tensor.type not in _DATATYPES:
            raise ValueError(f"input '{tensor.name}' of {model_path} is {tensor.type}, which this handler cannot serve")
        # Without the batch dimension, which the worker adds.
        dims = [d if isinstance(d, int) else -1 for d in tensor.shape[1:]]
        specs.append(TensorSpec(tensor.name, _DATATYPES[tensor.type], dims))
    names = [o.name for o in session.get_outputs()]

    def predict(inputs: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        return dict(zip(names, session.run(names, inputs)))

    return Handler(predict=predict, inputs=specs)
