"""POST /v1/images/preprocess against a real image server of the test's own
(http.server on a free loopback port, allow-listed with --fetch-allow): good
JPEG and PNG pictures come back as tensors equal to Pillow's decode, in the
layout, colour order and normalisation asked; a 404, a download slower than
--fetch-timeout-ms, a body over --fetch-max-body-mib, a text file, a redirect
to a loopback port not allow-listed and a private address each come back as
their own error while the rest succeed; health answers at once meanwhile;
bad bodies are answered 400 naming the field."""

from __future__ import annotations

import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import requests
from PIL import Image

from surge_e2e import launch_surge

SLOW_S = 3.0
TIMEOUT_MS = 700
MAX_BODY_MIB = 1


def picture(width: int, height: int) -> Image.Image:
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), (x + y) % 256], axis=-1)
    return Image.fromarray(pixels.astype(np.uint8), "RGB")


def encoded(image: Image.Image, format: str) -> bytes:
    out = io.BytesIO()
    image.save(out, format=format, **({"quality": 95} if format == "JPEG" else {}))
    return out.getvalue()


GOOD_PNG = encoded(picture(40, 30), "PNG")
GOOD_JPEG = encoded(picture(64, 48), "JPEG")


class ImageServer(BaseHTTPRequestHandler):
    unlisted_port = 0  # a loopback port that is not allow-listed

    def log_message(self, *args) -> None:
        pass

    def send_body(self, status: int, body: bytes, content_type: str = "application/octet-stream") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path
        if path == "/good.png":
            self.send_body(200, GOOD_PNG, "image/png")
        elif path == "/good.jpg":
            self.send_body(200, GOOD_JPEG, "image/jpeg")
        elif path == "/slow.jpg":
            time.sleep(SLOW_S)
            self.send_body(200, GOOD_JPEG, "image/jpeg")
        elif path == "/big.jpg":
            self.send_body(200, GOOD_JPEG + b"\0" * (MAX_BODY_MIB << 20), "image/jpeg")
        elif path == "/text.jpg":
            self.send_body(200, b"this is not a picture\n", "text/plain")
        elif path == "/redirect.jpg":
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{self.unlisted_port}/good.png")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.send_body(404, b"not found", "text/plain")


class Listener(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # http.server's 5 would drop concurrent connects


@pytest.fixture(scope="module")
def image_server():
    server = Listener(("127.0.0.1", 0), ImageServer)
    unlisted = Listener(("127.0.0.1", 0), ImageServer)
    ImageServer.unlisted_port = unlisted.server_address[1]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (server, unlisted)]
    for t in threads:
        t.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    for s in (server, unlisted):
        s.shutdown()
        s.server_close()


@pytest.fixture(scope="module")
def images_surge(image_server: str, tmp_path_factory: pytest.TempPathFactory):
    repository = tmp_path_factory.mktemp("empty-repository")
    args = ("--fetch-allow", image_server, "--fetch-timeout-ms", str(TIMEOUT_MS),
            "--fetch-max-body-mib", str(MAX_BODY_MIB), "--image-threads", "2")
    server = launch_surge(repository, tmp_path_factory.mktemp("surge-images"), args)
    try:
        server.wait_ready()
    except RuntimeError:
        server.stop()
        raise
    yield server
    assert server.stop() == 0, server.describe()


def preprocess(server, body: dict, timeout: float = 30) -> requests.Response:
    return requests.post(server.url("/v1/images/preprocess"), json=body, timeout=timeout)


def tensor(result: dict) -> np.ndarray:
    dtype = np.float32 if result["datatype"] == "FP32" else np.uint8
    return np.asarray(result["data"], dtype=dtype).reshape(result["shape"])


def pillow(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int32)  # H, W, C


def test_every_url_gets_its_own_answer_in_order(images_surge, image_server: str):
    base = f"http://{image_server}"
    urls = [f"{base}/good.png", f"{base}/missing.jpg", f"{base}/slow.jpg", f"{base}/big.jpg",
            f"{base}/text.jpg", f"{base}/redirect.jpg", "http://10.0.0.1/x.jpg", f"{base}/good.jpg"]
    body = {"urls": urls, "size": [30, 40], "dtype": "UINT8", "layout": "NHWC"}
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(preprocess, images_surge, body)
        # The slow download holds the request open; the server goes on answering.
        time.sleep(0.2)
        started = time.monotonic()
        live = requests.get(images_surge.url("/v2/health/live"), timeout=5)
        assert live.status_code == 200
        assert time.monotonic() - started < 1.0
        response = answer.result()
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["url"] for r in results] == urls
    kinds = [r.get("error", {}).get("kind") for r in results]
    assert kinds == [None, "http_status", "total_timeout", "too_large", "not_an_image", "refused_address",
                     "refused_address", None], [r.get("error") for r in results]
    for r in results:
        if "error" in r:
            assert r["error"]["message"], r
    png, jpeg = results[0], results[-1]
    assert png["shape"] == [30, 40, 3] and png["datatype"] == "UINT8"
    assert np.array_equal(tensor(png), pillow(GOOD_PNG))  # lossless, same size: exact
    # 64x48 stretched to 40x30: the values of a picture, in the shape asked.
    assert jpeg["shape"] == [30, 40, 3]
    assert tensor(jpeg).min() >= 0 and tensor(jpeg).max() <= 255


def test_private_address_is_refused_before_connecting(images_surge):
    started = time.monotonic()
    response = preprocess(images_surge, {"urls": ["http://10.0.0.1/x.jpg", "http://192.168.1.1/y.png"]})
    assert time.monotonic() - started < 2.0
    assert response.status_code == 200, response.text
    assert [r["error"]["kind"] for r in response.json()["results"]] == ["refused_address"] * 2


def test_layout_colour_and_normalisation(images_surge, image_server: str):
    url = f"http://{image_server}/good.jpg"
    plain = preprocess(images_surge, {"urls": [url], "size": [48, 64], "dtype": "UINT8", "layout": "NHWC"})
    assert plain.status_code == 200, plain.text
    hwc = tensor(plain.json()["results"][0]).astype(np.int32)
    assert np.abs(hwc - pillow(GOOD_JPEG)).max() <= 3  # same size: the JPEG decode alone
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    asked = {"urls": [url], "size": [48, 64], "mean": mean, "std": std, "layout": "NCHW", "color": "BGR"}
    response = preprocess(images_surge, asked)
    assert response.status_code == 200, response.text
    result = response.json()["results"][0]
    assert result["shape"] == [3, 48, 64] and result["datatype"] == "FP32"
    bgr = hwc[:, :, ::-1].transpose(2, 0, 1) / 255.0
    expected = (bgr - np.asarray(mean).reshape(3, 1, 1)) / np.asarray(std).reshape(3, 1, 1)
    assert np.allclose(tensor(result), expected, atol=1e-4)
    letterbox = preprocess(images_surge, {"urls": [url], "size": [64, 64], "resize": "letterbox"})
    assert letterbox.json()["results"][0]["shape"] == [3, 64, 64]
    crop = preprocess(images_surge, {"urls": [url], "size": [32, 32], "resize": "crop", "layout": "NHWC"})
    assert crop.json()["results"][0]["shape"] == [32, 32, 3]


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "urls"),
        ({"urls": []}, "urls"),
        ({"urls": "http://x/y.jpg"}, "urls"),
        ({"urls": [1]}, "urls[0]"),
        ({"urls": ["http://x/y.jpg"] * 1025}, "urls"),
        ({"urls": ["http://x/y.jpg"], "size": [0, 10]}, "size"),
        ({"urls": ["http://x/y.jpg"], "size": [10]}, "size"),
        ({"urls": ["http://x/y.jpg"], "resize": "zoom"}, "resize"),
        ({"urls": ["http://x/y.jpg"], "mean": [0, 0]}, "mean"),
        ({"urls": ["http://x/y.jpg"], "std": [1, 0, 1]}, "std"),
        ({"urls": ["http://x/y.jpg"], "layout": "CHW"}, "layout"),
        ({"urls": ["http://x/y.jpg"], "dtype": "FP16"}, "dtype"),
        ({"urls": ["http://x/y.jpg"], "color": "GRB"}, "color"),
        ({"urls": ["http://x/y.jpg"], "colour": "RGB"}, "colour"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(images_surge, body: dict, field: str):
    response = preprocess(images_surge, body)
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith(field) or f'"{field}"' in response.json()["error"], response.text


def test_not_json_and_wrong_method(images_surge):
    response = requests.post(images_surge.url("/v1/images/preprocess"), data=b"{nope", timeout=10)
    assert response.status_code == 400 and "JSON" in response.json()["error"]
    assert requests.get(images_surge.url("/v1/images/preprocess"), timeout=10).status_code == 405
    assert requests.post(images_surge.url("/v1/images/other"), json={}, timeout=10).status_code == 404
