"""mlp and mlp_nobatch: a fixed compute load for benchmarks."""

from pathlib import Path

import torch
from torch import nn

from . import common
from .common import SEED, config_pbtxt, save_module, write_text
from .spec import DemoModel


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


def versions():
    yield f"torch {torch.__version__}".encode()


SOURCES = [Path(__file__), Path(common.__file__)]
FILES = ["config.pbtxt", "1/model.pt"]

MODELS = [
    DemoModel("mlp", FILES, make_mlp, SOURCES, versions),
    DemoModel("mlp_nobatch", FILES, make_mlp_nobatch, SOURCES, versions),
]
