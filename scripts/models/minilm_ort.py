"""The steps of minilm_kjv that need the project virtualenv (.venv/bin/python):
tokenizing with the `tokenizers` package, int8 quantization with
onnxruntime.quantization, and scoring the exported graphs with ONNX Runtime.
scripts/models/minilm_kjv.py (on /usr/bin/python3, which has torch but
neither of those) runs it as a child process:

    .venv/bin/python minilm_ort.py tokenize TOKENIZER_JSON TEXTS_JSON OUT_NPZ
    .venv/bin/python minilm_ort.py embed ENCODER_ONNX TOKENS_NPZ OUT_NPY
    .venv/bin/python minilm_ort.py finish WORK_DIR

Tokens are stored ragged: `ids`, `types` concatenated, `lengths` per text.
The serving tokenizer (backends/tokenizer) truncates to max_length 128 and
pads each request to its longest row, so this does the same: truncation on,
the file's fixed padding off.
"""

import json
import sys
from pathlib import Path

import numpy as np

MAX_LENGTH = 128
BATCH = 64


def tokenizer_from(path: str):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(path)
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_LENGTH)
    return tokenizer


def tokenize(tokenizer_json: str, texts_json: str, out_npz: str) -> None:
    texts = json.loads(Path(texts_json).read_text())
    encodings = tokenizer_from(tokenizer_json).encode_batch(texts)
    np.savez(
        out_npz,
        ids=np.concatenate([np.array(e.ids, dtype=np.int64) for e in encodings]),
        types=np.concatenate([np.array(e.type_ids, dtype=np.int64) for e in encodings]),
        lengths=np.array([len(e.ids) for e in encodings], dtype=np.int64),
    )


def batches(tokens, batch: int = BATCH):
    """(indices, feed) per batch of texts of similar length, each padded to its longest with zeros."""
    lengths = tokens["lengths"]
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    order = np.argsort(lengths, kind="stable")
    for begin in range(0, len(order), batch):
        indices = order[begin : begin + batch]
        width = int(lengths[indices].max())
        ids = np.zeros((len(indices), width), dtype=np.int64)
        types = np.zeros_like(ids)
        mask = np.zeros_like(ids)
        for row, i in enumerate(indices):
            n = int(lengths[i])
            ids[row, :n] = tokens["ids"][starts[i] : starts[i] + n]
            types[row, :n] = tokens["types"][starts[i] : starts[i] + n]
            mask[row, :n] = 1
        yield indices, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def run(model_path: Path, tokens, output: str, width: int, batch: int = BATCH) -> np.ndarray:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    out = np.zeros((len(tokens["lengths"]), width), dtype=np.float32)
    for indices, feed in batches(tokens, batch):
        out[indices] = session.run([output], feed)[0]
    return out


def probabilities(model_path: Path, tokens) -> np.ndarray:
    # One verse at a time, unpadded, as a one-verse request runs alone: with
    # dynamic int8 quantization the activations' scale is the whole batch's,
    # so a verse's probabilities depend a little on what it is batched with.
    return run(model_path, tokens, "probabilities", 2, batch=1)


def embed(encoder_onnx: str, tokens_npz: str, out_npy: str) -> None:
    tokens = dict(np.load(tokens_npz))
    np.save(out_npy, run(Path(encoder_onnx), tokens, "embedding", 384))


def finish(work: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(work / "model_fp32.onnx"), str(work / "model_int8.onnx"), weight_type=QuantType.QInt8)
    tokens = dict(np.load(work / "heldout_tokens.npz"))
    reference = np.load(work / "heldout_torch.npz")
    truth = reference["truth"]
    fp32 = probabilities(work / "model_fp32.onnx", tokens)
    int8 = probabilities(work / "model_int8.onnx", tokens)
    torch_probabilities = reference["probabilities"]
    metrics = {
        "heldout_examples": int(len(truth)),
        "accuracy_torch_fp32": float((torch_probabilities.argmax(1) == truth).mean()),
        "accuracy_onnx_fp32": float((fp32.argmax(1) == truth).mean()),
        "accuracy_onnx_int8": float((int8.argmax(1) == truth).mean()),
        # The exported graph against the torch module it came from.
        "onnx_fp32_vs_torch_max_abs_difference": float(np.abs(fp32 - torch_probabilities).max()),
        "onnx_int8_vs_fp32_class_agreement": float((int8.argmax(1) == fp32.argmax(1)).mean()),
    }
    np.savez(work / "heldout_onnx.npz", fp32=fp32, int8=int8)
    (work / "onnx_metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "tokenize":
        tokenize(*args)
    elif command == "embed":
        embed(*args)
    elif command == "finish":
        finish(Path(args[0]))
    else:
        raise SystemExit(f"minilm_ort: unknown command {command!r}")
