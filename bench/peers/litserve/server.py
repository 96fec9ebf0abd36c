"""LitServe peer: POST /predict, LitServe's own dynamic batching.

    .bench-venvs/litserve/bin/python bench/peers/litserve/server.py --port 8000

Batching as LitServe documents it: LitAPI(max_batch_size=64, batch_timeout=0.002);
decode_request runs per request, predict once per batch, encode_response per
request. One inference worker (workers_per_device=1 on the CPU) and one API
server process.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import litserve as ls  # noqa: E402

import common  # noqa: E402


class MLPAPI(ls.LitAPI):
    def setup(self, device):
        self.model = common.load_model()

    def decode_request(self, request):
        return common.decode(request)

    def batch(self, inputs):
        # Requests may carry several rows; keep them apart, infer_batch concatenates.
        return list(inputs)

    def predict(self, tensors):
        return common.infer_batch(self.model, tensors)

    def unbatch(self, outputs):
        return outputs

    def encode_response(self, output):
        return common.encode(output)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    api = MLPAPI(max_batch_size=common.MAX_BATCH_SIZE, batch_timeout=common.MAX_WAIT_S, api_path="/predict")
    server = ls.LitServer(api, accelerator="cpu", devices=1, workers_per_device=1)
    server.run(host=args.host, port=args.port, num_api_servers=1, generate_client_file=False, log_level="warning")


if __name__ == "__main__":
    main()
