#!/usr/bin/python3
"""Trains the demo language model kjv_lm and writes it as a surge model.

    /usr/bin/python3 scripts/train_lm.py --output model_repository/kjv_lm [--train-seconds 240]

The corpus is the King James Bible from Debian's bible-kjv package (public
domain), one verse per line; every 20th verse is held out for evaluation. A
SentencePiece unigram tokenizer (2000 pieces) is trained on the other verses,
then a small decoder-only transformer is trained on the CPU for a bounded time
(--train-seconds: seconds of 2 cores, counted in CPU time).
Each verse is fed as BOS, its pieces, EOS, so generations end with the verse.

The model is exported with torch.jit.script and serves through the
torchscript_lm backend, whose key/value cache lives in tensors the backend
allocates and passes in:

    prefill(tokens: int64[T], slot, k_cache, v_cache) -> float32[V]
    step(tokens: int64[B], positions: int64[B], slots: int64[B], k_cache, v_cache) -> float32[B, V]
    dimensions() -> Dict[str, int]

k_cache and v_cache are float32[layers, slots, heads, max_context, head_dim].
Run it with Debian's /usr/bin/python3 so the TorchScript file comes from the
same torch (1.13) as the libtorch the backend links.
"""

import argparse
import hashlib
import io
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import torch
from torch import nn

SEED = 0
VOCAB_SIZE = 2000
MAX_CONTEXT = 256
# Sized for the budget: in 240 s of 2 cores, 3 layers of 192 reached a lower
# held-out perplexity than 4 of 256, which sees too few tokens (docs/generation.md).
LAYERS = 3
D_MODEL = 192
HEADS = 3
HELD_OUT_EVERY = 20  # verse i is held out when i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1
BATCH_SIZE = 8  # windows of MAX_CONTEXT tokens per step
PEAK_LR = 3e-3
WARMUP_STEPS = 50
THREADS = 2
GREEDY_TOKENS = 32

# The repository file that tells make_models.py which script built a model.
HASH_FILE = "train_lm.sha256"
UMASK = os.umask(0)
os.umask(UMASK)


def script_hash() -> str:
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def is_current(model_dir: Path) -> bool:
    """True when model_dir was completely written by this version of the script."""
    stamp = model_dir / HASH_FILE
    return stamp.is_file() and stamp.read_text().strip() == script_hash()


# ------------------------------------------------------------------ corpus ---

REFERENCE = re.compile(r"^\S+\d+:\d+ ")


def load_verses() -> List[str]:
    """Every verse of the KJV in canonical order, without its reference."""
    try:
        text = subprocess.run(
            ["bible", "-f", "Gen1:1-Rev22:21"], check=True, capture_output=True, text=True
        ).stdout
    except FileNotFoundError:
        raise SystemExit("train_lm: the 'bible' command is missing; install Debian's bible-kjv package")
    verses = []
    for line in text.splitlines():
        match = REFERENCE.match(line)
        if match:
            verses.append(line[match.end():].strip())
    if len(verses) != 31102:
        raise SystemExit(f"train_lm: expected the 31102 verses of the KJV, bible printed {len(verses)}")
    return verses


def split(verses: List[str]):
    train = [v for i, v in enumerate(verses) if i % HELD_OUT_EVERY != HELD_OUT_EVERY - 1]
    held_out = [v for i, v in enumerate(verses) if i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1]
    return train, held_out


def train_tokenizer(train: List[str]) -> bytes:
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(train),
        model_writer=model,
        vocab_size=VOCAB_SIZE,
        model_type="unigram",
        character_coverage=1.0,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        num_threads=1,  # one thread keeps the training order, and so the pieces, reproducible
        minloglevel=2,
    )
    return model.getvalue()


def load_tokenizer(model_bytes: bytes):
    import sentencepiece as spm

    return spm.SentencePieceProcessor(model_proto=model_bytes)


# ------------------------------------------------------------------- model ---


class Block(nn.Module):
    """Pre-norm transformer block. Its attention can run over a whole sequence
    (training, prefill) or one new token per sequence against a cache (step)."""

    layer: int
    heads: int
    head_dim: int

    def __init__(self, layer: int, d_model: int, heads: int):
        super().__init__()
        self.layer = layer
        self.heads = heads
        self.head_dim = d_model // heads
        self.norm1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

    def split_heads(self, x: torch.Tensor):
        # [..., T, d] -> three contiguous [..., heads, T, head_dim] (matmul on
        # transposed views copies them anyway, once per use).
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        shape = x.shape[:-1] + (self.heads, self.head_dim)
        return (
            q.reshape(shape).transpose(-3, -2).contiguous(),
            k.reshape(shape).transpose(-3, -2).contiguous(),
            v.reshape(shape).transpose(-3, -2).contiguous(),
        )

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        """allowed broadcasts to the scores [..., heads, Tq, Tk]; False masks a key out."""
        scores = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))
        scores = scores.masked_fill(allowed.logical_not(), float("-inf"))
        out = torch.matmul(torch.softmax(scores, dim=-1), v)  # [..., heads, Tq, head_dim]
        out = out.transpose(-3, -2)
        return out.reshape(out.shape[:-2] + (self.heads * self.head_dim,))

    def forward(self, x: torch.Tensor, causal: torch.Tensor) -> torch.Tensor:
        """x: [B, T, d], each row a sequence from position 0; causal: bool[T, T]."""
        q, k, v = self.split_heads(self.norm1(x))
        x = x + self.proj(self.attend(q, k, v, causal))
        return x + self.mlp(self.norm2(x))

    def prefill(self, x: torch.Tensor, slot: int, k_cache: torch.Tensor, v_cache: torch.Tensor) -> torch.Tensor:
        """x: [T, d], a sequence starting at position 0; stores its keys and values in `slot`."""
        q, k, v = self.split_heads(self.norm1(x))  # [heads, T, head_dim]
        t = x.shape[0]
        k_cache[self.layer, slot, :, :t] = k
        v_cache[self.layer, slot, :, :t] = v
        causal = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        x = x + self.proj(self.attend(q, k, v, causal))
        return x + self.mlp(self.norm2(x))

    def step(
        self,
        x: torch.Tensor,
        positions: torch.Tensor,
        slots: torch.Tensor,
        k_cache: torch.Tensor,
        v_cache: torch.Tensor,
    ) -> torch.Tensor:
        """x: [B, d], one token per sequence at positions[i] of slot slots[i]."""
        q, k, v = self.split_heads(self.norm1(x).unsqueeze(1))  # [B, heads, 1, head_dim]
        k_layer = k_cache[self.layer]
        v_layer = v_cache[self.layer]
        # Advanced indices around a slice: the indexed view is [B, heads, head_dim].
        k_layer[slots, :, positions] = k.squeeze(2)
        v_layer[slots, :, positions] = v.squeeze(2)
        # Only the longest sequence's positions matter; later ones are masked anyway.
        length = int(positions.max()) + 1
        keys = k_layer[slots, :, :length]  # [B, heads, length, head_dim]
        values = v_layer[slots, :, :length]
        allowed = torch.arange(length, device=x.device).unsqueeze(0) <= positions.unsqueeze(1)  # [B, length]
        out = self.attend(q, keys, values, allowed.unsqueeze(1).unsqueeze(1))  # [B, 1, d]
        x = x + self.proj(out.squeeze(1))
        return x + self.mlp(self.norm2(x))


class LanguageModel(nn.Module):
    vocab_size: int
    max_context: int
    layers: int
    heads: int
    head_dim: int
    d_model: int

    def __init__(self, vocab_size: int, max_context: int, layers: int, d_model: int, heads: int):
        super().__init__()
        self.vocab_size = vocab_size
        self.max_context = max_context
        self.layers = layers
        self.heads = heads
        self.head_dim = d_model // heads
        self.d_model = d_model
        self.embed = nn.Embedding(vocab_size, d_model)
        self.position = nn.Embedding(max_context, d_model)
        self.blocks = nn.ModuleList([Block(i, d_model, heads) for i in range(layers)])
        self.norm = nn.LayerNorm(d_model)
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        # The output projection is the token embedding (tied weights).
        return torch.matmul(self.norm(x), self.embed.weight.t())

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens: int64[B, T] starting at position 0 -> logits float32[B, T, V]."""
        t = tokens.shape[1]
        x = self.embed(tokens) + self.position(torch.arange(t, device=tokens.device))
        causal = torch.ones(t, t, dtype=torch.bool, device=tokens.device).tril()
        for block in self.blocks:
            x = block(x, causal)
        return self.logits(x)

    @torch.jit.export
    def dimensions(self) -> Dict[str, int]:
        return {
            "vocab_size": self.vocab_size,
            "max_context": self.max_context,
            "layers": self.layers,
            "heads": self.heads,
            "head_dim": self.head_dim,
        }

    @torch.jit.export
    def prefill(self, tokens: torch.Tensor, slot: int, k_cache: torch.Tensor, v_cache: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(tokens.shape[0], device=tokens.device)
        x = self.embed(tokens) + self.position(positions)
        for block in self.blocks:
            x = block.prefill(x, slot, k_cache, v_cache)
        return self.logits(x[-1])

    @torch.jit.export
    def step(
        self,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        slots: torch.Tensor,
        k_cache: torch.Tensor,
        v_cache: torch.Tensor,
    ) -> torch.Tensor:
        x = self.embed(tokens) + self.position(positions)
        for block in self.blocks:
            x = block.step(x, positions, slots, k_cache, v_cache)
        return self.logits(x)


def empty_cache(model, slots: int):
    d = model.dimensions()
    shape = (d["layers"], slots, d["heads"], d["max_context"], d["head_dim"])
    return torch.zeros(shape), torch.zeros(shape)


# ---------------------------------------------------------------- training ---


def encode_verses(sp, verses: List[str]) -> List[List[int]]:
    return [[sp.bos_id()] + ids + [sp.eos_id()] for ids in sp.encode(verses)]


def training_windows(encoded: List[List[int]]):
    """The training stream (verses back to back) and the offset where each verse
    starts. A window always starts at a verse's BOS, at position 0, as a prompt does."""
    stream, starts = [], []
    for ids in encoded:
        starts.append(len(stream))
        stream.extend(ids)
    stream = torch.tensor(stream, dtype=torch.long)
    starts = torch.tensor([s for s in starts if s + MAX_CONTEXT + 1 <= len(stream)], dtype=torch.long)
    return stream, starts


def learning_rate(step: int, progress: float) -> float:
    """Linear warm-up over WARMUP_STEPS, then cosine decay to a tenth of the
    peak as progress (the share of the budget spent) goes from 0 to 1."""
    if step < WARMUP_STEPS:
        return PEAK_LR * (step + 1) / WARMUP_STEPS
    return PEAK_LR * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def train(model: LanguageModel, stream, starts, seconds: float, max_steps: int | None) -> dict:
    """Trains for `seconds` of THREADS cores (process CPU time / THREADS, so a
    machine shared with other work takes longer on the clock but trains about
    as much), or exactly max_steps steps when given."""
    generator = torch.Generator().manual_seed(SEED)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=PEAK_LR,
        betas=(0.9, 0.95),
    )
    offsets = torch.arange(MAX_CONTEXT + 1)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    began_wall = time.monotonic()
    began_cpu = time.process_time()

    def progress(step: int) -> float:
        if max_steps is not None:
            return step / max_steps
        return (time.process_time() - began_cpu) / THREADS / seconds

    step = 0
    smoothed = 0.0
    while progress(step) < 1.0:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, progress(step))
        pick = starts[torch.randint(len(starts), (BATCH_SIZE,), generator=generator)]
        batch = stream[pick.unsqueeze(1) + offsets]
        logits = model(batch[:, :-1])
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        smoothed = loss.item() if step == 1 else 0.95 * smoothed + 0.05 * loss.item()
        if step % 50 == 0:
            print(
                f"  step {step}: loss {smoothed:.3f}, "
                f"{(time.process_time() - began_cpu) / THREADS:.0f} s of {THREADS} cores, "
                f"{time.monotonic() - began_wall:.0f} s elapsed",
                flush=True,
            )
    model.eval()
    return {
        "steps": step,
        "core_seconds": time.process_time() - began_cpu,
        "wall_seconds": time.monotonic() - began_wall,
        "tokens": step * BATCH_SIZE * MAX_CONTEXT,
        "final_loss": smoothed,
    }


@torch.no_grad()
def held_out_perplexity(model, encoded: List[List[int]], verses: List[str]) -> dict:
    """Each held-out verse scored on its own from BOS: the pieces and the EOS."""
    total_nll = 0.0
    total_tokens = 0
    batch = 64
    for i in range(0, len(encoded), batch):
        chunk = [ids[:MAX_CONTEXT + 1] for ids in encoded[i:i + batch]]
        width = max(len(ids) for ids in chunk)
        tokens = torch.zeros(len(chunk), width, dtype=torch.long)
        mask = torch.zeros(len(chunk), width - 1, dtype=torch.bool)
        for row, ids in enumerate(chunk):
            tokens[row, :len(ids)] = torch.tensor(ids)
            mask[row, :len(ids) - 1] = True
        logits = model(tokens[:, :-1])
        nll = nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1), reduction="none"
        ).reshape(mask.shape)
        total_nll += nll[mask].sum().item()
        total_tokens += int(mask.sum())
    # Characters include one per verse for its end, which the EOS token predicts.
    characters = sum(len(v) + 1 for v in verses)
    return {
        "verses": len(encoded),
        "tokens": total_tokens,
        "characters": characters,
        "perplexity_per_token": math.exp(total_nll / total_tokens),
        "bits_per_character": total_nll / characters / math.log(2),
    }


# ------------------------------------------------------- export and checks ---


def check_cache_consistency(scripted, encoded: List[List[int]]) -> float:
    """Decoding with prefill and step, two sequences in different slots stepped
    together, must reproduce the full-sequence forward logits."""
    a = encoded[0][:48]
    b = encoded[1][:40]
    k_cache, v_cache = empty_cache(scripted, 4)
    with torch.no_grad():
        full_a = scripted(torch.tensor([a]))[0]
        full_b = scripted(torch.tensor([b]))[0]
        worst = 0.0
        # Prompts of different lengths: a's 10 tokens in slot 3, b's 4 in slot 1.
        last_a = scripted.prefill(torch.tensor(a[:10]), 3, k_cache, v_cache)
        last_b = scripted.prefill(torch.tensor(b[:4]), 1, k_cache, v_cache)
        worst = max(worst, (last_a - full_a[9]).abs().max().item(), (last_b - full_b[3]).abs().max().item())
        pos_a, pos_b = 10, 4
        while pos_a < len(a) or pos_b < len(b):
            tokens, positions, slots, rows = [], [], [], []
            if pos_a < len(a):
                tokens.append(a[pos_a]), positions.append(pos_a), slots.append(3), rows.append(full_a[pos_a])
                pos_a += 1
            if pos_b < len(b):
                tokens.append(b[pos_b]), positions.append(pos_b), slots.append(1), rows.append(full_b[pos_b])
                pos_b += 1
            out = scripted.step(
                torch.tensor(tokens), torch.tensor(positions), torch.tensor(slots), k_cache, v_cache
            )
            worst = max(worst, (out - torch.stack(rows)).abs().max().item())
    return worst


def greedy_reference(scripted, sp, prompt: str) -> dict:
    """A prompt and the 32 tokens greedy decoding with prefill and step picks,
    with the margin between the best and second-best logit of each pick."""
    prompt_ids = [sp.bos_id()] + sp.encode(prompt)
    k_cache, v_cache = empty_cache(scripted, 2)
    generated, margins = [], []
    with torch.no_grad():
        logits = scripted.prefill(torch.tensor(prompt_ids), 0, k_cache, v_cache)
        position = len(prompt_ids)
        for _ in range(GREEDY_TOKENS):
            top = torch.topk(logits, 2)
            generated.append(int(top.indices[0]))
            margins.append(float(top.values[0] - top.values[1]))
            if len(generated) == GREEDY_TOKENS:
                break
            logits = scripted.step(
                torch.tensor([generated[-1]]), torch.tensor([position]), torch.tensor([0]), k_cache, v_cache
            )[0]
            position += 1
    return {
        "prompt": prompt,
        "prompt_tokens": prompt_ids,
        "greedy_tokens": generated,
        "min_margin": min(margins),
        "text": sp.decode(generated),
    }


def sample(scripted, sp, prompt: str, max_tokens: int = 64, temperature: float = 0.8, seed: int = SEED) -> str:
    generator = torch.Generator().manual_seed(seed)
    ids = [sp.bos_id()] + sp.encode(prompt)
    k_cache, v_cache = empty_cache(scripted, 1)
    out: List[int] = []
    with torch.no_grad():
        logits = scripted.prefill(torch.tensor(ids), 0, k_cache, v_cache)
        position = len(ids)
        while len(out) < max_tokens and position < MAX_CONTEXT:
            token = int(torch.multinomial(torch.softmax(logits / temperature, -1), 1, generator=generator))
            if token == sp.eos_id():
                break
            out.append(token)
            logits = scripted.step(
                torch.tensor([token]), torch.tensor([position]), torch.tensor([0]), k_cache, v_cache
            )[0]
            position += 1
    return sp.decode(sp.encode(prompt) + out)


# ------------------------------------------------------------------ output ---


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(temp, 0o666 & ~UMASK)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise


CONFIG = """name: "kjv_lm"
backend: "torchscript_lm"
max_batch_size: 0
input [ { name: "text_input" data_type: TYPE_STRING dims: [ 1 ] } ]
output [ { name: "text_output" data_type: TYPE_STRING dims: [ 1 ] } ]
model_transaction_policy { decoupled: true }
generation { max_running_sequences: 64 max_tokens_per_step: 2048 default_max_tokens: 64 }
parameters { key: "kv_slots" value: { string_value: "64" } }
"""

GREEDY_PROMPTS = [
    "In the beginning God",
    "And the LORD said unto Moses,",
    "Blessed are the",
    "The LORD is my",
    "And it came to pass",
    "For God so loved",
    "Now the serpent was",
    "And Jesus answered",
]
SAMPLE_PROMPTS = ["And the LORD said unto Moses,", "Blessed are the", "In the beginning"]


def build(model_dir: Path, train_seconds: float = 240.0, max_steps: int | None = None) -> str:
    """Trains and writes kjv_lm into model_dir; returns a one-line summary."""
    torch.set_num_threads(THREADS)
    torch.manual_seed(SEED)
    began = time.monotonic()

    train_verses, held_out_verses = split(load_verses())
    tokenizer_bytes = train_tokenizer(train_verses)
    sp = load_tokenizer(tokenizer_bytes)
    train_encoded = encode_verses(sp, train_verses)
    held_out_encoded = encode_verses(sp, held_out_verses)
    stream, starts = training_windows(train_encoded)
    print(
        f"kjv_lm: {len(train_verses)} training verses ({len(stream)} tokens), "
        f"{len(held_out_verses)} held out; tokenizer {sp.get_piece_size()} pieces "
        f"({time.monotonic() - began:.0f} s)",
        flush=True,
    )

    model = LanguageModel(sp.get_piece_size(), MAX_CONTEXT, LAYERS, D_MODEL, HEADS)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"kjv_lm: {parameters / 1e6:.2f} M parameters; training for {train_seconds:.0f} s", flush=True)
    trained = train(model, stream, starts, train_seconds, max_steps)
    evaluation = held_out_perplexity(model, held_out_encoded, held_out_verses)
    print(
        f"kjv_lm: {trained['steps']} steps, {trained['tokens'] / 1e6:.2f} M tokens in "
        f"{trained['core_seconds'] / THREADS:.0f} s of {THREADS} cores ({trained['wall_seconds']:.0f} s elapsed); "
        f"held-out perplexity {evaluation['perplexity_per_token']:.2f} per token, "
        f"{evaluation['bits_per_character']:.3f} bits per character",
        flush=True,
    )

    scripted = torch.jit.script(model)
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    # Every check below runs on the module as the backend will load it.
    exported = torch.jit.load(io.BytesIO(buffer.getvalue()))
    worst = check_cache_consistency(exported, held_out_encoded)
    print(f"kjv_lm: prefill/step against full forward: max abs logit difference {worst:.2e}", flush=True)
    if worst > 1e-3:
        raise SystemExit(f"train_lm: cached decoding differs from the full forward by {worst}")

    # The reference whose greedy picks vary most (greedy decoding of a small
    # model falls into loops soon), among those whose every pick wins by a
    # clear margin, so that a C++ run with other thread counts cannot flip a
    # near-tie.
    candidates = [greedy_reference(exported, sp, prompt) for prompt in GREEDY_PROMPTS]
    clear = [c for c in candidates if c["min_margin"] > 0.05] or candidates
    reference = max(clear, key=lambda c: (len(set(c["greedy_tokens"])), c["min_margin"]))
    print(f"kjv_lm: greedy from {reference['prompt']!r}: {reference['text']!r}", flush=True)
    samples = [sample(exported, sp, prompt, seed=i) for i, prompt in enumerate(SAMPLE_PROMPTS)]
    for text in samples:
        print(f"kjv_lm: sample: {text}", flush=True)

    report = {
        "corpus": "bible-kjv, 31102 verses; every 20th held out",
        "tokenizer": {"type": "sentencepiece unigram", "pieces": sp.get_piece_size(), "bos": sp.bos_id(), "eos": sp.eos_id()},
        "model": model.dimensions() | {"parameters": parameters},
        "training": trained | {"batch_size": BATCH_SIZE, "peak_lr": PEAK_LR, "threads": THREADS},
        "held_out": evaluation,
        "max_abs_cache_difference": worst,
        "samples": samples,
    }
    version = model_dir / "1"
    write_atomically(version / "tokenizer.model", tokenizer_bytes)
    write_atomically(version / "model.pt", buffer.getvalue())
    write_atomically(version / "greedy_reference.json", (json.dumps(reference, indent=2) + "\n").encode())
    write_atomically(model_dir / "training.json", (json.dumps(report, indent=2) + "\n").encode())
    write_atomically(model_dir / "config.pbtxt", CONFIG.encode())
    # Last: its presence says every other file is complete and current.
    write_atomically(model_dir / HASH_FILE, (script_hash() + "\n").encode())
    return (
        f"held-out perplexity {evaluation['perplexity_per_token']:.2f} per token "
        f"({evaluation['bits_per_character']:.3f} bits/char), {trained['steps']} steps"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", required=True, type=Path, help="model directory to write (…/kjv_lm)")
    parser.add_argument("--train-seconds", type=float, default=240.0, help="training budget in seconds of 2 cores (process CPU time / 2; default 240)")
    parser.add_argument(
        "--steps", type=int, default=None, help="train exactly this many steps instead (reproducible across machines)"
    )
    args = parser.parse_args()
    print(build(args.output, args.train_seconds, args.steps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
