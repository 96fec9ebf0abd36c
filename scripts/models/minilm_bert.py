"""all-MiniLM-L6-v2 as a torch module, built from its safetensors weights.

The weights are read with numpy (a safetensors file is an 8-byte little-endian
header length, a JSON header naming each tensor's dtype, shape and byte range,
then the raw tensors), so no safetensors or transformers release has to be
found that still runs on Debian's torch 1.13. The forward is BERT's (post-norm
layers, GELU, absolute positions), followed by sentence-transformers' mean
pooling over the attention mask and an L2 normalisation: the sentence
embedding the model was trained to produce.
"""

import json
import math
import struct
from pathlib import Path

import numpy as np
import torch
from torch import nn

SAFETENSORS_DTYPES = {"F32": np.float32, "I64": np.int64}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    data = path.read_bytes()
    (header_length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_length])
    base = 8 + header_length
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        dtype = SAFETENSORS_DTYPES[entry["dtype"]]
        tensors[name] = np.frombuffer(data[base + begin : base + end], dtype=dtype).reshape(entry["shape"]).copy()
    return tensors


class Layer(nn.Module):
    def __init__(self, hidden: int, heads: int, intermediate: int, eps: float):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.attention_out = nn.Linear(hidden, hidden)
        self.attention_norm = nn.LayerNorm(hidden, eps=eps)
        self.intermediate = nn.Linear(hidden, intermediate)
        self.output = nn.Linear(intermediate, hidden)
        self.output_norm = nn.LayerNorm(hidden, eps=eps)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, hidden = x.shape
        return x.view(batch, seq, self.heads, hidden // self.heads).transpose(1, 2)

    def forward(self, x: torch.Tensor, mask_bias: torch.Tensor) -> torch.Tensor:
        batch, seq, hidden = x.shape
        q, k, v = self.split_heads(self.query(x)), self.split_heads(self.key(x)), self.split_heads(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(hidden // self.heads) + mask_bias
        context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, seq, hidden)
        x = self.attention_norm(x + self.attention_out(context))
        return self.output_norm(x + self.output(nn.functional.gelu(self.intermediate(x))))


class SentenceEncoder(nn.Module):
    """(input_ids, attention_mask, token_type_ids) INT64 [batch, seq] -> unit-length embedding [batch, hidden]."""

    def __init__(self, config: dict):
        super().__init__()
        hidden, eps = config["hidden_size"], config["layer_norm_eps"]
        self.word = nn.Embedding(config["vocab_size"], hidden)
        self.position = nn.Embedding(config["max_position_embeddings"], hidden)
        self.token_type = nn.Embedding(config["type_vocab_size"], hidden)
        self.embedding_norm = nn.LayerNorm(hidden, eps=eps)
        self.layers = nn.ModuleList(
            Layer(hidden, config["num_attention_heads"], config["intermediate_size"], eps)
            for _ in range(config["num_hidden_layers"])
        )

    def forward(self, input_ids, attention_mask, token_type_ids):
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        x = self.embedding_norm(self.word(input_ids) + self.position(positions) + self.token_type(token_type_ids))
        mask = attention_mask.to(x.dtype)
        # Padded keys get a large negative score, so a row's result does not
        # depend on how far its batch was padded.
        mask_bias = (1.0 - mask)[:, None, None, :] * -10000.0
        for layer in self.layers:
            x = layer(x, mask_bias)
        pooled = (x * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1e-9)
        return nn.functional.normalize(pooled, p=2.0, dim=1)


def load_encoder(model_dir: Path) -> SentenceEncoder:
    config = json.loads((model_dir / "config.json").read_text())
    if config.get("model_type") != "bert" or config.get("position_embedding_type", "absolute") != "absolute":
        raise SystemExit(f"minilm: {model_dir}/config.json is not an absolute-position BERT")
    weights = read_safetensors(model_dir / "model.safetensors")
    encoder = SentenceEncoder(config)
    state = {
        "word.weight": "embeddings.word_embeddings.weight",
        "position.weight": "embeddings.position_embeddings.weight",
        "token_type.weight": "embeddings.token_type_embeddings.weight",
        "embedding_norm.weight": "embeddings.LayerNorm.weight",
        "embedding_norm.bias": "embeddings.LayerNorm.bias",
    }
    parts = {
        "query": "attention.self.query",
        "key": "attention.self.key",
        "value": "attention.self.value",
        "attention_out": "attention.output.dense",
        "attention_norm": "attention.output.LayerNorm",
        "intermediate": "intermediate.dense",
        "output": "output.dense",
        "output_norm": "output.LayerNorm",
    }
    for i in range(config["num_hidden_layers"]):
        for ours, theirs in parts.items():
            for p in ("weight", "bias"):
                state[f"layers.{i}.{ours}.{p}"] = f"encoder.layer.{i}.{theirs}.{p}"
    # strict: every parameter of the module comes from the file.
    encoder.load_state_dict({ours: torch.from_numpy(weights[theirs]) for ours, theirs in state.items()}, strict=True)
    return encoder.eval()


class Classifier(nn.Module):
    """The encoder, then an RBF-kernel SVM head (scikit-learn's SVC, exported as
    its support vectors): `probabilities` [batch, 2], the logistic of the SVM's
    decision value for class 1 (monotone in it, so the class is the SVM's)."""

    def __init__(self, encoder: SentenceEncoder, support_vectors: np.ndarray, dual_coef: np.ndarray, intercept: float,
                 gamma: float):
        super().__init__()
        self.encoder = encoder
        self.register_buffer("support_vectors", torch.from_numpy(support_vectors.astype(np.float32)))
        self.register_buffer("support_norms", torch.from_numpy((support_vectors**2).sum(1).astype(np.float32)))
        self.register_buffer("dual_coef", torch.from_numpy(dual_coef.reshape(-1).astype(np.float32)))
        self.intercept = float(intercept)
        self.gamma = float(gamma)

    def forward(self, input_ids, attention_mask, token_type_ids):
        x = self.encoder(input_ids, attention_mask, token_type_ids)
        squared = (x * x).sum(1, keepdim=True) + self.support_norms[None, :] - 2.0 * (x @ self.support_vectors.t())
        decision = torch.exp(-self.gamma * squared.clamp(min=0.0)) @ self.dual_coef + self.intercept
        return torch.stack([-decision, decision], dim=1).mul(0.5).softmax(-1)
