"""Encoded images through the server: digits_pipeline (encoded image ->
digits_image, the image backend -> digits_cnn) classifies the held-out
digit pictures over HTTP and gRPC with class_count=1; its answers match
Python's per example, computed with torch on the tensors the server's image
step produced; bad images (corrupt, not an image, truncated, a
decompression bomb) are answered 400 naming the step and the input while
the other requests go on; and PNG, JPEG, WebP and an EXIF-rotated JPEG decode
as Pillow decodes them."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from PIL import Image, ImageOps
from tritonclient.utils import InferenceServerException

from surge_e2e import REPO_ROOT, write_model

BATCH = 64


@pytest.fixture(scope="module")
def heldout(demo_repository: Path) -> list[tuple[bytes, int]]:
    directory = demo_repository / "digits_pipeline" / "heldout"
    if not (directory / "labels.csv").is_file():
        pytest.fail(
            f"{directory} is missing: run /usr/bin/python3 scripts/make_models.py --output {demo_repository}",
            pytrace=False,
        )
    with open(directory / "labels.csv") as f:
        return [((directory / row["file"]).read_bytes(), int(row["label"])) for row in csv.DictReader(f)]


def images_input(module, images: list[bytes]):
    tensor = module.InferInput("image", [len(images), 1], "BYTES")
    tensor.set_data_from_numpy(np.asarray(images, dtype=object).reshape(-1, 1))
    return tensor


def http_classes(server, images: list[bytes]) -> list[int]:
    """Top-1 class index of each image through digits_pipeline (class_count=1)."""
    out = []
    with server.client() as client:
        for start in range(0, len(images), BATCH):
            chunk = images[start : start + BATCH]
            output = httpclient.InferRequestedOutput("probabilities", binary_data=True, class_count=1)
            result = client.infer("digits_pipeline", [images_input(httpclient, chunk)], outputs=[output])
            out += [class_of(row[0]) for row in result.as_numpy("probabilities")]
    return out


def grpc_classes(server, images: list[bytes]) -> list[int]:
    client = grpcclient.InferenceServerClient(server.grpc_url)
    try:
        out = []
        for start in range(0, len(images), BATCH):
            chunk = images[start : start + BATCH]
            output = grpcclient.InferRequestedOutput("probabilities", class_count=1)
            result = client.infer("digits_pipeline", [images_input(grpcclient, chunk)], outputs=[output])
            out += [class_of(row[0]) for row in result.as_numpy("probabilities")]
        return out
    finally:
        client.close()


def class_of(entry) -> int:
    """ "score:index:label" -> index, checking the label is labels.txt's for it."""
    text = entry.decode() if isinstance(entry, bytes) else entry
    score, index, label = text.split(":")
    assert label == index and 0.0 <= float(score) <= 1.0, text
    return int(index)


def image_step_tensors(server, images: list[bytes]) -> np.ndarray:
    with server.client() as client:
        parts = []
        for start in range(0, len(images), BATCH):
            result = client.infer("digits_image", [images_input(httpclient, images[start : start + BATCH])])
            parts.append(result.as_numpy("pixels"))
    return np.concatenate(parts)


PYTHON_SIDE = """
import sys, numpy as np, torch
torch.set_num_threads(1)
model = torch.jit.load(sys.argv[1]).eval()
with torch.no_grad():
    p = model(torch.from_numpy(np.load(sys.argv[2])))
print(" ".join(str(int(i)) for i in p.argmax(dim=1)))
"""


def python_classes(model_file: Path, tensors: np.ndarray, tmp_path: Path) -> list[int]:
    """The same TorchScript model run by torch in Python (Debian's, as make_models uses)."""
    path = tmp_path / "pixels.npy"
    np.save(path, tensors)
    done = subprocess.run(
        ["/usr/bin/python3", "-c", PYTHON_SIDE, str(model_file), str(path)],
        capture_output=True, text=True, timeout=300, check=True,
    )
    return [int(v) for v in done.stdout.split()]


def test_server_and_python_agree_on_every_heldout_image(surge, heldout, demo_repository, tmp_path):
    images = [image for image, _ in heldout]
    labels = [label for _, label in heldout]
    over_http = http_classes(surge, images)
    over_grpc = grpc_classes(surge, images)
    in_python = python_classes(demo_repository / "digits_cnn" / "1" / "model.pt", image_step_tensors(surge, images), tmp_path)

    accuracy = np.mean(np.asarray(over_http) == np.asarray(labels))
    python_accuracy = np.mean(np.asarray(in_python) == np.asarray(labels))
    print(f"held-out top-1: server {accuracy:.4f}, Python {python_accuracy:.4f} ({len(labels)} images)")
    assert over_http == over_grpc
    assert over_http == in_python
    assert accuracy >= 0.95


def image_kind(image: bytes) -> str:
    colour = Image.open(io.BytesIO(image)).mode
    return ("png " if image[:4] == b"\x89PNG" else "jpeg ") + colour


def test_single_images_get_their_label_over_http_and_grpc(surge, heldout):
    # Ten images of each kind (PNG and JPEG, grey and RGB), one request each.
    by_kind: dict[str, list[tuple[bytes, int]]] = {}
    for image, label in heldout:
        by_kind.setdefault(image_kind(image), [])
        if len(by_kind[image_kind(image)]) < 10:
            by_kind[image_kind(image)].append((image, label))
    assert set(by_kind) == {"png L", "png RGB", "jpeg L", "jpeg RGB"}
    for kind, examples in by_kind.items():
        http_answers = [http_classes(surge, [image])[0] for image, _ in examples]
        grpc_answers = [grpc_classes(surge, [image])[0] for image, _ in examples]
        labels = [label for _, label in examples]
        assert http_answers == grpc_answers, kind
        right = sum(a == b for a, b in zip(http_answers, labels))
        assert right >= len(examples) - 1, (kind, http_answers, labels)


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    ihdr = b"IHDR" + width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    idat = b"IDAT" + zlib.compress(b"\0" * 1024)
    chunk = lambda body: (len(body) - 4).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")
    return b"\x89PNG\r\n\x1a\n" + chunk(ihdr) + chunk(idat) + chunk(b"IEND")


def bad_images(heldout) -> dict[str, tuple[bytes, str]]:
    jpeg = next(image for image, _ in heldout if image[:2] == b"\xff\xd8")
    png = next(image for image, _ in heldout if image[:4] == b"\x89PNG")
    corrupt = png[:40] + bytes(b ^ 0x5A for b in png[40:])
    return {
        "corrupt": (corrupt, "truncated or corrupt PNG"),
        "not an image": (b"just some text, not a picture", "not an image"),
        "truncated": (jpeg[: len(jpeg) // 2], "truncated or corrupt JPEG"),
        "bomb": (bomb_png(), "image too large: 100000x100000 pixels (max_pixels 40000000)"),
    }


def test_bad_images_are_refused_naming_the_step_and_input(surge, heldout):
    good = [image for image, _ in heldout[:32]]
    bad = bad_images(heldout)

    def send_bad(item):
        name, (image, reason) = item
        with surge.client() as client:
            with pytest.raises(InferenceServerException) as refused:
                client.infer("digits_pipeline", [images_input(httpclient, [image])])
        return name, refused.value, reason

    def send_good(image):
        return http_classes(surge, [image])[0]

    with ThreadPoolExecutor(8) as pool:
        good_results = pool.map(send_good, good)
        bad_results = list(pool.map(send_bad, bad.items()))
        good_classes = list(good_results)
    assert good_classes == http_classes(surge, good)
    for name, error, reason in bad_results:
        message = error.message()
        assert error.status() == "400", (name, error.status(), message)
        assert "ensemble 'digits_pipeline' step 1 ('digits_image')" in message, (name, message)
        assert "input 'image'" in message and reason in message, (name, message)

    client = grpcclient.InferenceServerClient(surge.grpc_url)
    try:
        with pytest.raises(InferenceServerException) as refused:
            client.infer("digits_pipeline", [images_input(grpcclient, [bad["bomb"][0]])])
        assert refused.value.status() == "StatusCode.INVALID_ARGUMENT"
        assert "('digits_image')" in refused.value.message() and "image too large" in refused.value.message()
    finally:
        client.close()


# ---- decoding compared with Pillow ------------------------------------------

RAW_CONFIG = """name: "raw_rgb"
backend: "image"
max_batch_size: 8
input [ { name: "image" data_type: TYPE_STRING dims: [ 1 ] } ]
output [ { name: "pixels" data_type: TYPE_UINT8 dims: [ 40, 60, 3 ] } ]
parameters { key: "layout" value { string_value: "NHWC" } }
"""


def picture(width: int = 60, height: int = 40) -> Image.Image:
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // (width - 1), y * 255 // (height - 1), ((x // 6 + y // 6) % 2) * 180 + 40], axis=-1)
    return Image.fromarray(rgb.astype(np.uint8), mode="RGB")


def encoded(image: Image.Image, format: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=format, **options)
    return out.getvalue()


@pytest.fixture
def raw_server(tmp_path, surge_factory):
    repository = tmp_path / "repository"
    write_model(repository, "raw_rgb", RAW_CONFIG)
    return surge_factory(repository)


def decoded_by_server(server, image: bytes) -> np.ndarray:
    with server.client() as client:
        return client.infer("raw_rgb", [images_input(httpclient, [image])]).as_numpy("pixels")[0]


def test_png_jpeg_webp_and_exif_rotated_jpeg_decode_like_pillow(raw_server):
    source = picture()
    cases = {
        "png": (encoded(source, "PNG"), 0),
        "webp lossless": (encoded(source, "WEBP", lossless=True), 0),
        "jpeg q95": (encoded(source, "JPEG", quality=95), 3),
        "webp lossy": (encoded(source, "WEBP", quality=90), 3),
    }
    for name, (image, tolerance) in cases.items():
        expected = np.asarray(Image.open(io.BytesIO(image)).convert("RGB"), dtype=np.int16)
        got = decoded_by_server(raw_server, image).astype(np.int16)
        assert got.shape == expected.shape, name
        assert np.abs(got - expected).max() <= tolerance, (name, np.abs(got - expected).max())

    # Stored 40 wide and 60 high, EXIF orientation 6: upright it is 60x40.
    stored = source.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = encoded(stored, "JPEG", quality=95, exif=exif.tobytes())
    upright = ImageOps.exif_transpose(Image.open(io.BytesIO(rotated))).convert("RGB")
    assert upright.size == (60, 40)
    got = decoded_by_server(raw_server, rotated).astype(np.int16)
    assert np.abs(got - np.asarray(upright, dtype=np.int16)).max() <= 3


def test_digits_image_step_is_close_to_pillow_resize(surge, heldout):
    images = [image for image, _ in heldout[:64]]
    tensors = image_step_tensors(surge, images)
    differences = {"png": [], "jpeg": []}
    for image, tensor in zip(images, tensors):
        pillow = Image.open(io.BytesIO(image)).convert("L").resize((28, 28), Image.BOX)
        expected = (np.asarray(pillow, dtype=np.float32) / 255.0 - 0.5) / 0.5
        kind = "png" if image[:4] == b"\x89PNG" else "jpeg"
        differences[kind].append(float(np.abs(tensor[0] - expected).mean()))
    # Mean absolute difference per image, in normalised units (2.0 is the
    # whole range). OpenCV's area filter and Pillow's box filter weigh the
    # edges of a non-integer ratio differently; a JPEG is also decoded at a
    # reduced DCT scale (7/8, 1/2, ...) where Pillow decodes in full.
    assert differences["png"] and differences["jpeg"]
    assert max(differences["png"]) < 0.06, differences["png"]
    assert max(differences["jpeg"]) < 0.12, differences["jpeg"]
    assert np.mean(differences["png"] + differences["jpeg"]) < 0.05
