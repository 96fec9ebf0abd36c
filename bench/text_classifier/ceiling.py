"""The machine's ceiling for the text classifier: a bare ONNX Runtime loop in
Python on the file surge serves (model_repository/minilm_kjv/1/model.onnx),
tokenizing with the same tokenizer.json, the same sentence mix, the same
intra-op threads as surge's minilm_kjv config, no server, no network. Each
batch size is timed over the same sentences, tokenization included; the best
is the ceiling in sentences per second.

    .venv/bin/python bench/text_classifier/ceiling.py [--repository model_repository] \
        [--sentences 4096] [--threads 2] [--batch-sizes 1 8 16 32 64]
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sentences import verses  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--sentences", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 16, 32, 64])
    args = parser.parse_args()

    tokenizer = Tokenizer.from_file(str(args.repository / "minilm_tokenizer" / "1" / "tokenizer.json"))
    tokenizer.enable_truncation(128)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    model = args.repository / "minilm_kjv" / "1" / "model.onnx"
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    mix = verses(args.sentences)

    def run(texts):
        encodings = tokenizer.encode_batch(texts)
        feed = {
            "input_ids": np.asarray([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.asarray([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.asarray([e.type_ids for e in encodings], dtype=np.int64),
        }
        return session.run(["probabilities"], feed)[0]

    run(mix[:64])  # warm-up
    results = {}
    for batch in args.batch_sizes:
        began = time.perf_counter()
        for i in range(0, len(mix), batch):
            run(mix[i : i + batch])
        results[batch] = round(len(mix) / (time.perf_counter() - began), 1)
        print(f"batch {batch}: {results[batch]} sentences/s", file=sys.stderr)
    best = max(results, key=results.get)
    print(json.dumps({"model": str(model), "threads": args.threads, "sentences": len(mix),
                      "sentences_per_second_by_batch": results, "best_batch": best,
                      "ceiling_sentences_per_second": results[best], "onnxruntime": ort.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
