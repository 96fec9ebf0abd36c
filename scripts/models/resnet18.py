"""resnet18: torchvision's architecture with random weights, an image-sized load."""

from pathlib import Path

import torch

from . import common
from .common import SEED, config_pbtxt, save_module, write_text
from .spec import DemoModel


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


def versions():
    import torchvision

    yield f"torch {torch.__version__} torchvision {torchvision.__version__}".encode()


MODELS = [
    DemoModel("resnet18", ["config.pbtxt", "1/model.pt"], make_resnet18, [Path(__file__), Path(common.__file__)],
              versions),
]
