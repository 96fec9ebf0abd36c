"""TorchServe handler for the peer benchmark: POST /predictions/mlp.

TorchServe's frontend (Java) does the dynamic batching: with batchSize 64 and
maxBatchDelay 2 (ms) in config.properties it hands this handler up to 64
requests at once, and `handle` returns one response per request, in order.
The JSON bodies arrive already parsed (Content-Type: application/json).
"""

import json
import os
import sys

import torch


class MLPHandler:
    def __init__(self):
        self.model = None
        self.common = None

    def initialize(self, context):
        model_dir = context.system_properties.get("model_dir")
        sys.path.insert(0, model_dir)  # common.py is packed beside the handler
        import common

        self.common = common
        serialized = context.manifest["model"]["serializedFile"]
        self.model = common.load_model(os.path.join(model_dir, serialized))

    def handle(self, data, context):
        common = self.common
        tensors, bad = [], {}
        for i, row in enumerate(data):
            body = row.get("body") if row.get("body") is not None else row.get("data")
            try:
                if isinstance(body, (bytes, bytearray)):
                    body = json.loads(body)
                tensors.append(common.decode(body))
            except (common.BadRequest, ValueError) as e:
                bad[i] = str(e)
        outputs = iter(common.infer_batch(self.model, tensors) if tensors else [])
        responses = []
        for i in range(len(data)):
            context.set_response_content_type(i, "application/json")
            if i in bad:
                context.set_response_status(400, bad[i], idx=i)
                responses.append(json.dumps({"error": bad[i]}))
            else:
                responses.append(json.dumps(common.encode(next(outputs))))
        return responses


_service = MLPHandler()


def handle(data, context):
    if _service.model is None:
        _service.initialize(context)
    if data is None:
        return None
    return _service.handle(data, context)
