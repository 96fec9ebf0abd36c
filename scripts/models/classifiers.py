"""iris and digits: small MLP classifiers trained on scikit-learn's data sets."""

import sys
from pathlib import Path

import torch
from torch import nn

from . import common
from .common import SEED, config_pbtxt, save_module, write_text
from .spec import DemoModel


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


def with_label_file(config: str, output: str, filename: str) -> str:
    """Adds label_filename to one output of a config_pbtxt() text (for the classification extension)."""
    marker = f'    name: "{output}"\n'
    if marker not in config:
        raise ValueError(f"no output {output!r} in the config")
    return config.replace(marker, marker + f'    label_filename: "{filename}"\n', 1)


def iris_config() -> str:
    return with_label_file(
        config_pbtxt(
            "iris",
            "torchscript",
            64,
            [("features", "TYPE_FP32", [4])],
            [("probabilities", "TYPE_FP32", [3])],
            dynamic_batching={"max_queue_delay_microseconds": 500},
        ),
        "probabilities",
        "labels.txt",
    )


def make_iris(repo: Path) -> str:
    from sklearn.datasets import load_iris

    data = load_iris()
    model, accuracy = train_classifier(IrisClassifier, data, hidden=16, epochs=300, lr=0.01)
    if accuracy < 0.9:
        raise SystemExit(f"iris: held-out accuracy {accuracy:.3f} is below 0.9")
    save_module(model, repo / "iris" / "1" / "model.pt")
    write_text(repo / "iris" / "accuracy.txt", f"{accuracy:.4f}\n")
    # Line i names class i, as the classification extension reads it.
    write_text(repo / "iris" / "labels.txt", "".join(f"{name}\n" for name in data.target_names))
    write_text(repo / "iris" / "config.pbtxt", iris_config())
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


def data_set(loader_name: str):
    """The scikit-learn data set's arrays and the library versions that train on it."""

    def parts():
        import sklearn
        import sklearn.datasets

        data = getattr(sklearn.datasets, loader_name)()
        yield f"torch {torch.__version__} sklearn {sklearn.__version__}".encode()
        for array in (data.data, data.target):
            yield f"{array.dtype} {array.shape}".encode()
            yield array.tobytes()

    return parts


SOURCES = [Path(__file__), Path(common.__file__)]
FILES = ["config.pbtxt", "1/model.pt", "accuracy.txt"]

MODELS = [
    DemoModel("iris", FILES + ["labels.txt"], make_iris, SOURCES, data_set("load_iris")),
    DemoModel("digits", FILES, make_digits, SOURCES, data_set("load_digits")),
]
