"""digits_image, digits_cnn and digits_pipeline: classify encoded pictures of
handwritten digits.

scikit-learn's digits (8x8, values 0..16) are rendered as white-on-black
pictures of 28 to 64 pixels, each with its own scale, offset and rotation,
and saved as PNG or JPEG. digits_cnn is a small CNN trained on [1, 28, 28]
tensors normalised as digits_image makes them ((pixel / 255 - 0.5) / 0.5);
digits_pipeline is the ensemble encoded image -> digits_image (the image
backend: decode, resize to 28x28, normalise) -> digits_cnn -> probabilities
with labels.txt. The held-out fifth of the data set is written, one encoded
file per example, to digits_pipeline/heldout/ with labels.csv, for the
end-to-end test that compares the server's answers with Python's."""

import io
import random
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import common
from .common import SEED, config_pbtxt, save_module, write_atomically, write_text
from .spec import DemoModel

SIZE = 28
MEAN = 0.5
STD = 0.5
RENDERS_PER_TRAINING_EXAMPLE = 3
EPOCHS = 10


class DigitsCnn(nn.Module):
    def __init__(self):
        super().__init__()
        # The renders hold no more detail than their 8x8 originals: averaging
        # 28x28 down to 14x14 first makes training four times cheaper.
        self.features = nn.Sequential(
            nn.AvgPool2d(2),                                              # 14x14
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 7x7
            nn.Conv2d(16, 24, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 3x3
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(24 * 3 * 3, 64), nn.ReLU(), nn.Linear(64, 10))

    def logits(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(pixels))

    # Named like the config input: the backend binds inputs by name.
    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(pixels), dim=1)


def render(digit: np.ndarray, rng: random.Random):
    """One 8x8 digit (0..16) as a grey picture of 28..64 pixels with its own
    scale, offset and rotation."""
    from PIL import Image

    size = rng.randint(SIZE, 64)
    glyph = Image.fromarray((digit * (255.0 / 16.0)).astype(np.uint8), mode="L")
    extent = max(8, int(round(size * rng.uniform(0.6, 0.85))))
    glyph = glyph.resize((extent, extent), Image.BICUBIC).rotate(rng.uniform(-10, 10), Image.BILINEAR, expand=True)
    canvas = Image.new("L", (size, size), 0)
    # Off centre by up to a quarter of the room left around the glyph.
    slack = size - glyph.width
    dx = slack // 2 + rng.randint(-abs(slack) // 4, abs(slack) // 4)
    dy = slack // 2 + rng.randint(-abs(slack) // 4, abs(slack) // 4)
    canvas.paste(glyph, (dx, dy))
    return canvas


def encode(picture, rng: random.Random) -> tuple[bytes, str]:
    """PNG or JPEG (quality 80..95); some JPEGs and PNGs in RGB, the rest grey."""
    if rng.random() < 0.25:
        picture = picture.convert("RGB")
    out = io.BytesIO()
    if rng.random() < 0.5:
        picture.save(out, format="PNG")
        return out.getvalue(), "png"
    picture.save(out, format="JPEG", quality=rng.randint(80, 95))
    return out.getvalue(), "jpg"


def to_tensor(encoded: bytes) -> np.ndarray:
    """Training input: decoded and resized by Pillow (box filter, like the
    image step's area interpolation), normalised like digits_image."""
    from PIL import Image

    picture = Image.open(io.BytesIO(encoded)).convert("L").resize((SIZE, SIZE), Image.BOX)
    pixels = np.asarray(picture, dtype=np.float32) / 255.0
    return ((pixels - MEAN) / STD)[None, :, :]


def data_split():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = digits.images.astype(np.float64)
    return train_test_split(images, digits.target, test_size=0.2, stratify=digits.target, random_state=SEED)


def train(x_train: np.ndarray, y_train: np.ndarray) -> DigitsCnn:
    rng = random.Random(SEED)
    tensors, labels = [], []
    for digit, label in zip(x_train, y_train):
        for _ in range(RENDERS_PER_TRAINING_EXAMPLE):
            encoded, _ = encode(render(digit, rng), rng)
            tensors.append(to_tensor(encoded))
            labels.append(int(label))
    x = torch.tensor(np.stack(tensors))
    y = torch.tensor(labels, dtype=torch.long)

    torch.manual_seed(SEED)
    model = DigitsCnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=4e-3)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(SEED)
    model.train()
    for _ in range(EPOCHS):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), 256):
            batch = order[start : start + 256]
            optimizer.zero_grad()
            loss_fn(model.logits(x[batch]), y[batch]).backward()
            optimizer.step()
    return model.eval()


IMAGE_CONFIG = config_pbtxt(
    "digits_image",
    "image",
    64,
    [("image", "TYPE_STRING", [1])],
    [("pixels", "TYPE_FP32", [1, SIZE, SIZE])],
    instance_count=2,  # the decode pool: one thread per core of the 2-core CI machine
    dynamic_batching={"max_queue_delay_microseconds": 500},
    parameters={"resize_mode": "stretch", "interpolation": "area", "mean": str(MEAN), "std": str(STD)},
)

PIPELINE_CONFIG = """name: "digits_pipeline"
platform: "ensemble"
max_batch_size: 64
input [
  {
    name: "image"
    data_type: TYPE_STRING
    dims: [ 1 ]
  }
]
output [
  {
    name: "probabilities"
    data_type: TYPE_FP32
    dims: [ 10 ]
    label_filename: "labels.txt"
  }
]
ensemble_scheduling {
  step [
    {
      model_name: "digits_image"
      model_version: -1
      input_map { key: "image" value: "image" }
      output_map { key: "pixels" value: "pixels" }
    },
    {
      model_name: "digits_cnn"
      model_version: -1
      input_map { key: "pixels" value: "pixels" }
      output_map { key: "probabilities" value: "probabilities" }
    }
  ]
}
"""


def make_digits_image(repo: Path) -> str:
    (repo / "digits_image" / "1").mkdir(parents=True, exist_ok=True)
    write_text(repo / "digits_image" / "config.pbtxt", IMAGE_CONFIG)
    return f"image step: encoded image -> FP32 [1, {SIZE}, {SIZE}]"


def make_digits_cnn(repo: Path) -> str:
    x_train, x_test, y_train, y_test = data_split()
    model = train(x_train, y_train)
    rng = random.Random(SEED + 1)
    with torch.no_grad():
        held_out = torch.tensor(np.stack([to_tensor(encode(render(d, rng), rng)[0]) for d in x_test]))
        accuracy = (model(held_out).argmax(dim=1).numpy() == y_test).mean()
    save_module(model, repo / "digits_cnn" / "1" / "model.pt")
    write_text(
        repo / "digits_cnn" / "config.pbtxt",
        config_pbtxt(
            "digits_cnn",
            "torchscript",
            64,
            [("pixels", "TYPE_FP32", [1, SIZE, SIZE])],
            [("probabilities", "TYPE_FP32", [10])],
            instance_count=1,
            dynamic_batching={"max_queue_delay_microseconds": 500},
            parameters={"intra_op_threads": "1"},
        ),
    )
    return f"CNN, held-out accuracy {accuracy:.3f} on Pillow-decoded renders ({len(y_test)} examples)"


def make_digits_pipeline(repo: Path) -> str:
    _, x_test, _, y_test = data_split()
    directory = repo / "digits_pipeline"
    (directory / "1").mkdir(parents=True, exist_ok=True)
    heldout = directory / "heldout"
    heldout.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED + 1)  # the same renders digits_cnn measured itself on
    rows = ["file,label"]
    for i, (digit, label) in enumerate(zip(x_test, y_test)):
        encoded, extension = encode(render(digit, rng), rng)
        name = f"{i:04d}.{extension}"

        def write(temp, data=encoded):
            Path(temp).write_bytes(data)

        write_atomically(heldout / name, write)
        rows.append(f"{name},{int(label)}")
    write_text(heldout / "labels.csv", "\n".join(rows) + "\n")
    write_text(directory / "labels.txt", "".join(f"{d}\n" for d in range(10)))
    write_text(directory / "config.pbtxt", PIPELINE_CONFIG)
    return f"ensemble digits_image -> digits_cnn; {len(y_test)} held-out images in heldout/"


def versions():
    import PIL
    import sklearn

    yield f"torch {torch.__version__} sklearn {sklearn.__version__} numpy {np.__version__} pillow {PIL.__version__}".encode()


SOURCES = [Path(__file__), Path(common.__file__)]

MODELS = [
    DemoModel("digits_image", ["config.pbtxt", "1"], make_digits_image, SOURCES),
    DemoModel("digits_cnn", ["config.pbtxt", "1/model.pt"], make_digits_cnn, SOURCES, versions),
    DemoModel(
        "digits_pipeline", ["config.pbtxt", "labels.txt", "1", "heldout/labels.csv"], make_digits_pipeline, SOURCES, versions
    ),
]
