#!/usr/bin/python3
"""Writes the demo model repository (Triton layout) used by tests and benchmarks.

    /usr/bin/python3 scripts/make_models.py --output model_repository [--force]

Run it with Debian's /usr/bin/python3 so the TorchScript files come from the
same torch (1.13) as the libtorch the server's backend links. Seeds are fixed,
so every run writes the same weights (kjv_lm, trained for a time budget, comes
close but not bit for bit). A model whose files all exist is left alone unless
--force is given; kjv_lm is also rebuilt when scripts/train_lm.py changed since
it was trained. Every file is written to a temporary name and renamed, so an
interrupted run never leaves a half-written model behind.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from torch import nn

SEED = 0
UMASK = os.umask(0)
os.umask(UMASK)


# ---------------------------------------------------------------- writing ---


def write_atomically(path: Path, write) -> None:
    """Calls write(temp_path), then renames the temporary file onto path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        write(temp)
        # mkstemp creates the file 0600; give it the mode a plain open() would.
        os.chmod(temp, 0o666 & ~UMASK)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise


def write_text(path: Path, text: str) -> None:
    def write(temp):
        with open(temp, "w") as f:
            f.write(text)

    write_atomically(path, write)


def save_module(module: nn.Module, path: Path) -> None:
    scripted = torch.jit.script(module.eval())
    write_atomically(path, lambda temp: torch.jit.save(scripted, temp))


# ------------------------------------------------------------- config.pbtxt ---


def tensor_block(kind: str, tensors) -> str:
    """tensors: (name, data_type, dims) tuples; data_type as in Triton (TYPE_FP32)."""
    entries = []
    for name, data_type, dims in tensors:
        entries.append(
            "  {\n"
            f'    name: "{name}"\n'
            f"    data_type: {data_type}\n"
            f"    dims: [ {', '.join(str(d) for d in dims)} ]\n"
            "  }"
        )
    return f"{kind} [\n" + ",\n".join(entries) + "\n]\n"


def config_pbtxt(
    name: str,
    backend: str,
    max_batch_size: int,
    inputs,
    outputs,
    instance_count: int = 1,
    dynamic_batching: dict | None = None,
    parameters: dict | None = None,
) -> str:
    """Renders a config.pbtxt with Triton's field names.

    dynamic_batching: None for no dynamic batching, else a dict with optional
    preferred_batch_size (list), max_queue_delay_microseconds and
    max_queue_size (placed in default_queue_policy, where Triton has it).
    """
    text = f'name: "{name}"\nbackend: "{backend}"\nmax_batch_size: {max_batch_size}\n'
    text += tensor_block("input", inputs)
    text += tensor_block("output", outputs)
    text += f"instance_group [\n  {{\n    count: {instance_count}\n    kind: KIND_CPU\n  }}\n]\n"
    if dynamic_batching is not None:
        lines = []
        if "preferred_batch_size" in dynamic_batching:
            sizes = ", ".join(str(s) for s in dynamic_batching["preferred_batch_size"])
            lines.append(f"  preferred_batch_size: [ {sizes} ]")
        if "max_queue_delay_microseconds" in dynamic_batching:
            lines.append(f"  max_queue_delay_microseconds: {dynamic_batching['max_queue_delay_microseconds']}")
        if "max_queue_size" in dynamic_batching:
            lines.append(f"  default_queue_policy {{\n    max_queue_size: {dynamic_batching['max_queue_size']}\n  }}")
        text += "dynamic_batching {\n" + "".join(line + "\n" for line in lines) + "}\n"
    for key, value in (parameters or {}).items():
        text += f'parameters {{\n  key: "{key}"\n  value {{\n    string_value: "{value}"\n  }}\n}}\n'
    return text


# ------------------------------------------------------------------ models ---


class Classifier(nn.Module):
    """A one-hidden-layer MLP that takes raw features and returns class
    probabilities, so clients send measurements as they are."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, hidden: int, classes: int):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.net = nn.Sequential(nn.Linear(mean.numel(), hidden), nn.ReLU(), nn.Linear(hidden, classes))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(x), dim=1)


class IrisClassifier(Classifier):
    # The argument is named like the config input so the backend binds it by name.
    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(features), dim=1)


class DigitsClassifier(Classifier):
    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(pixels), dim=1)


def train_classifier(model_class, data, hidden: int, epochs: int, lr: float):
    """Trains on a stratified 80% split; returns (model, held-out accuracy)."""
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.2, stratify=data.target, random_state=SEED
    )
    x_train = torch.tensor(x_train, dtype=torch.float32)
    x_test = torch.tensor(x_test, dtype=torch.float32)
    y_train = torch.tensor(y_train, dtype=torch.long)
    y_test = torch.tensor(y_test, dtype=torch.long)

    torch.manual_seed(SEED)
    mean = x_train.mean(dim=0)
    # Constant features (the digits' border pixels) would divide by zero.
    std = x_train.std(dim=0).clamp(min=1e-3)
    classes = int(y_train.max()) + 1
    model = model_class(mean, std, hidden, classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):  # full batch: the data sets are tiny
        optimizer.zero_grad()
        loss = loss_fn(model.logits(x_train), y_train)
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(x_test).argmax(dim=1) == y_test).float().mean().item()
    return model, accuracy


def make_iris(repo: Path) -> str:
    from sklearn.datasets import load_iris

    model, accuracy = train_classifier(IrisClassifier, load_iris(), hidden=16, epochs=300, lr=0.01)
    if accuracy < 0.9:
        raise SystemExit(f"iris: held-out accuracy {accuracy:.3f} is below 0.9")
    save_module(model, repo / "iris" / "1" / "model.pt")
    write_text(repo / "iris" / "accuracy.txt", f"{accuracy:.4f}\n")
    write_text(
        repo / "iris" / "config.pbtxt",
        config_pbtxt(
            "iris",
            "torchscript",
            64,
            [("features", "TYPE_FP32", [4])],
            [("probabilities", "TYPE_FP32", [3])],
            dynamic_batching={"max_queue_delay_microseconds": 500},
        ),
    )
    return f"held-out accuracy {accuracy:.4f}"


def make_digits(repo: Path) -> str:
    from sklearn.datasets import load_digits

    model, accuracy = train_classifier(DigitsClassifier, load_digits(), hidden=64, epochs=300, lr=0.01)
    if accuracy < 0.9:
        print(f"warning: digits held-out accuracy {accuracy:.3f} is below 0.9", file=sys.stderr)
    save_module(model, repo / "digits" / "1" / "model.pt")
    write_text(repo / "digits" / "accuracy.txt", f"{accuracy:.4f}\n")
    write_text(
        repo / "digits" / "config.pbtxt",
        config_pbtxt(
            "digits",
            "torchscript",
            64,
            [("pixels", "TYPE_FP32", [64])],
            [("probabilities", "TYPE_FP32", [10])],
            dynamic_batching={"max_queue_delay_microseconds": 500},
        ),
    )
    return f"held-out accuracy {accuracy:.4f}"


def mlp_module() -> nn.Module:
    """64 -> 256 -> 256 -> 10 with random weights: a fixed compute load for
    benchmarks, not a trained model."""
    torch.manual_seed(SEED)
    return nn.Sequential(
        nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
    )


def make_mlp(repo: Path) -> str:
    save_module(mlp_module(), repo / "mlp" / "1" / "model.pt")
    write_text(
        repo / "mlp" / "config.pbtxt",
        config_pbtxt(
            "mlp",
            "torchscript",
            64,
            [("input", "TYPE_FP32", [64])],
            [("output", "TYPE_FP32", [10])],
            instance_count=1,
            dynamic_batching={"preferred_batch_size": [64], "max_queue_delay_microseconds": 2000},
            parameters={"intra_op_threads": "1"},
        ),
    )
    return "random weights (seed 0)"


def make_mlp_nobatch(repo: Path) -> str:
    # Same weights as mlp; the server sends one [1, 64] request per execute.
    save_module(mlp_module(), repo / "mlp_nobatch" / "1" / "model.pt")
    write_text(
        repo / "mlp_nobatch" / "config.pbtxt",
        config_pbtxt(
            "mlp_nobatch",
            "torchscript",
            0,
            [("input", "TYPE_FP32", [1, 64])],
            [("output", "TYPE_FP32", [1, 10])],
            instance_count=1,
            parameters={"intra_op_threads": "1"},
        ),
    )
    return "random weights (seed 0), same as mlp"


def make_resnet18(repo: Path) -> str:
    import torchvision

    torch.manual_seed(SEED)
    save_module(torchvision.models.resnet18(weights=None), repo / "resnet18" / "1" / "model.pt")
    write_text(
        repo / "resnet18" / "config.pbtxt",
        config_pbtxt(
            "resnet18",
            "torchscript",
            8,
            [("image", "TYPE_FP32", [3, 224, 224])],
            [("logits", "TYPE_FP32", [1000])],
            dynamic_batching={"preferred_batch_size": [8], "max_queue_delay_microseconds": 5000},
        ),
    )
    return "random weights (seed 0)"


def make_identity_fp32(repo: Path) -> str:
    # The identity backend reads no file, but the repository layout still
    # needs a version directory.
    (repo / "identity_fp32" / "1").mkdir(parents=True, exist_ok=True)
    write_text(
        repo / "identity_fp32" / "config.pbtxt",
        config_pbtxt(
            "identity_fp32",
            "identity",
            64,
            [("INPUT0", "TYPE_FP32", [-1])],
            [("OUTPUT0", "TYPE_FP32", [-1])],
            instance_count=2,
            dynamic_batching={},
        ),
    )
    return "no weights"


def make_kjv_lm(repo: Path) -> str:
    # A language model trained for a few minutes (scripts/train_lm.py).
    import train_lm

    return train_lm.build(repo / "kjv_lm")


def kjv_lm_is_current(model_dir: Path) -> bool:
    import train_lm

    return train_lm.is_current(model_dir)


# Each model: the files whose presence means it is complete, and its maker.
MODELS = {
    "iris": (["config.pbtxt", "1/model.pt", "accuracy.txt"], make_iris),
    "digits": (["config.pbtxt", "1/model.pt", "accuracy.txt"], make_digits),
    "mlp": (["config.pbtxt", "1/model.pt"], make_mlp),
    "mlp_nobatch": (["config.pbtxt", "1/model.pt"], make_mlp_nobatch),
    "resnet18": (["config.pbtxt", "1/model.pt"], make_resnet18),
    "identity_fp32": (["config.pbtxt", "1"], make_identity_fp32),
    "kjv_lm": (["config.pbtxt", "1/model.pt", "1/tokenizer.model", "1/greedy_reference.json"], make_kjv_lm),
}

# Models whose files can exist yet be stale: rebuilt when the check says so.
# kjv_lm takes minutes to train, so only a change to its script retrains it.
IS_CURRENT = {"kjv_lm": kjv_lm_is_current}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", required=True, type=Path, help="model repository directory to write")
    parser.add_argument("--force", action="store_true", help="rewrite models whose files already exist")
    parser.add_argument("--only", nargs="+", choices=sorted(MODELS), help="write only these models")
    args = parser.parse_args()

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    start = time.monotonic()
    for name in args.only or MODELS:
        files, make = MODELS[name]
        model_dir = args.output / name
        current = IS_CURRENT.get(name, lambda _: True)
        if not args.force and all((model_dir / f).exists() for f in files) and current(model_dir):
            print(f"{name}: exists, skipped (--force rewrites it)")
            continue
        began = time.monotonic()
        summary = make(args.output)
        print(f"{name}: {summary} ({time.monotonic() - began:.1f} s)")
    print(f"done in {time.monotonic() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
