#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/<target>/: requests as the
end-to-end tests send them, the demo models' configs, and Redis replies as
the gateway and workers read them. Run it with the project virtualenv's
Python (.venv/bin/python: tritonclient's protobuf classes make the gRPC
seeds) when a wire format changes; the files are committed."""

import json
import pathlib
import struct
import sys

root = pathlib.Path(__file__).resolve().parents[2]
corpus = root / "tests" / "fuzz" / "corpus"


def write(target, name, data):
    folder = corpus / target
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (folder / name).write_bytes(data)


def fp32(values):
    return struct.pack("<%df" % len(values), *values)


def bytes_elements(items):
    return b"".join(struct.pack("<I", len(i)) + i for i in items)


# ---- KServe v2 bodies: (name, JSON header, binary section) ----
json_rows = {
    "inputs": [{"name": "INPUT0", "shape": [2, 3], "datatype": "FP32",
                "data": [[1.5, -2.25, 3.0], [4.0, 5.125, -6.0]]}],
}
iris = {
    "id": "iris-1",
    "inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}],
    "outputs": [{"name": "label"}, {"name": "probabilities", "parameters": {"binary_data": True}}],
    "parameters": {"priority": 1, "timeout": 100000, "binary_data_output": False, "user": "x", "flag": True},
}
typed = {
    "inputs": [
        {"name": "b", "shape": [2], "datatype": "BOOL", "data": [True, False]},
        {"name": "u8", "shape": [3], "datatype": "UINT8", "data": [0, 1, 255]},
        {"name": "i64", "shape": [2], "datatype": "INT64", "data": [-9007199254740993, 7]},
        {"name": "f16", "shape": [2], "datatype": "FP16", "data": [0.5, -1.0]},
        {"name": "bf16", "shape": [1], "datatype": "BF16", "data": [2.0]},
        {"name": "f64", "shape": [1], "datatype": "FP64", "data": [1e-308]},
        {"name": "text", "shape": [2], "datatype": "BYTES", "data": ["hello", "w\u00f6rld"]},
    ]
}
binary_values = fp32([-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5])
binary_header = {
    "inputs": [{"name": "INPUT0", "shape": [2, 5], "datatype": "FP32",
                "parameters": {"binary_data_size": len(binary_values)}}],
    "outputs": [{"name": "OUTPUT0", "parameters": {"binary_data": True}}],
}
strings = bytes_elements([b"abc", b"", b"\x00\xff"])
binary_bytes = {
    "inputs": [{"name": "text_input", "shape": [3], "datatype": "BYTES",
                "parameters": {"binary_data_size": len(strings)}},
               {"name": "n", "shape": [1], "datatype": "INT32", "data": [3]}],
}
response = {
    "model_name": "identity_fp32", "model_version": "1", "id": "r1",
    "outputs": [{"name": "OUTPUT0", "shape": [2, 5], "datatype": "FP32",
                 "parameters": {"binary_data_size": len(binary_values)}}],
}
json_response = {
    "model_name": "iris", "model_version": "1",
    "outputs": [{"name": "label", "shape": [1], "datatype": "BYTES", "data": ["setosa"]}],
}
bodies = [
    ("json_rows", json.dumps(json_rows).encode(), b""),
    ("iris", json.dumps(iris).encode(), b""),
    ("typed", json.dumps(typed).encode(), b""),
    ("binary_fp32", json.dumps(binary_header).encode(), binary_values),
    ("binary_bytes", json.dumps(binary_bytes).encode(), strings),
    ("response_binary", json.dumps(response).encode(), binary_values),
    ("response_json", json.dumps(json_response).encode(), b""),
]
for name, header, section in bodies:
    if section:
        write("kserve_request", name, b"%d\n" % len(header) + header + section)
    else:
        write("kserve_request", name, header)

# ---- OpenAI bodies ----
openai = {
    "completion": {"model": "echo_lm", "prompt": "abcd", "max_tokens": 10, "temperature": 0},
    "completion_stop": {"model": "echo_lm", "prompt": ["xyz"], "stop": ["cda"], "top_p": 0.9, "top_k": -1,
                        "seed": 7, "stream": True, "stream_options": {"include_usage": True}},
    "chat": {"model": "echo_lm", "messages": [{"role": "system", "content": "be brief"},
                                               {"role": "user", "content": [{"type": "text", "text": "hi"}]}],
             "max_completion_tokens": 5, "n": 1, "logprobs": False, "priority": 1, "user": "u"},
    "refused": {"model": "echo_lm", "prompt": "x", "n": 2, "tools": []},
}
for name, body in openai.items():
    write("openai_request", name, json.dumps(body))

# ---- HTTP requests as clients send them (one connection each) ----
def http(method, target, body=b"", headers=()):
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1:8000", *headers]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


infer_json = json.dumps(json_rows).encode()
binary_body = json.dumps(binary_header).encode()
http_seeds = {
    "server": http("GET", "/v2"),
    "health": http("GET", "/v2/health/live") + http("GET", "/v2/health/ready"),
    "index_stats": http("POST", "/v2/repository/index", b"{}") + http("GET", "/v2/models/stats"),
    "metadata": http("GET", "/v2/models/broken") + http("GET", "/v2/models/broken/versions/1/ready"),
    "config": http("GET", "/v2/models/broken/config", headers=["Connection: close"]),
    "infer_json": http("POST", "/v2/models/identity_fp32/infer", infer_json,
                       ["Content-Type: application/json", "traceparent: 00-0af7651916cd43dd8448eb211c80319c-"
                        "b7ad6b7169203331-01"]),
    "infer_binary": http("POST", "/v2/models/broken/versions/1/infer", binary_body + binary_values,
                         ["Content-Type: application/octet-stream",
                          f"Inference-Header-Content-Length: {len(binary_body)}"]),
    "chunked": (b"POST /v2/models/broken/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5\r\n{\"inp\r\n0\r\n\r\n"),
    "generate": http("POST", "/v2/models/kjv_lm/generate_stream",
                     json.dumps({"text_input": "In the beginning", "max_tokens": 8}).encode()),
    "openai_models": http("GET", "/v1/models") + http("GET", "/v1/models/echo_lm"),
    "openai_chat": http("POST", "/v1/chat/completions", json.dumps(openai["chat"]).encode()),
    "openai_completion": http("POST", "/v1/completions?x=1", json.dumps(openai["completion"]).encode()),
    "http10": b"GET /v2/health/live HTTP/1.0\r\n\r\n",
}
for name, data in http_seeds.items():
    write("http_request", name, data)

# ---- model configs: the demo repository's, and a few that exercise more sections ----
for config in sorted((root / "model_repository").glob("*/config.pbtxt")):
    write("model_config", config.parent.name, config.read_bytes())
for config in sorted((root / "tests" / "unit" / "data").rglob("config.pbtxt")):
    write("model_config", "unit_" + config.parent.name, config.read_bytes())

# ---- RESP replies ----
def resp(value):
    if value is None:
        return b"$-1\r\n"
    if isinstance(value, int):
        return b":%d\r\n" % value
    if isinstance(value, bytes):
        return b"$%d\r\n%s\r\n" % (len(value), value)
    if isinstance(value, str):
        return b"+" + value.encode() + b"\r\n"
    if isinstance(value, Exception):
        return b"-" + str(value).encode() + b"\r\n"
    return b"*%d\r\n" % len(value) + b"".join(resp(v) for v in value)


request_fields = [b"id", b"7", b"reply_to", b"surge:replies:g1", b"model", b"identity_fp32", b"version", b"1",
                  b"deadline", b"1767225600000", b"priority", b"2", b"traceparent", b"00-ab-cd-01",
                  b"header_length", b"%d" % len(binary_body), b"body", binary_body + binary_values]
reply_fields = [b"id", b"7", b"status", b"200", b"header_length", b"%d" % len(json.dumps(response)),
                b"body", json.dumps(response).encode() + binary_values, b"worker", b"w1"]
error_fields = [b"id", b"8", b"status", b"503", b"error", b"model 'x' is not ready"]
xread = [[b"surge:requests", [[b"1700000000000-0", request_fields], [b"1700000000000-1", [b"id", b"9"]]]]]
xread_replies = [[b"surge:replies:g1", [[b"5-0", reply_fields], [b"5-1", error_fields]]]]
xautoclaim = [b"0-0", [[b"3-0", request_fields], [b"3-1", None]], [b"2-0"]]
write("stream_entries", "xreadgroup", resp(xread))
write("stream_entries", "xread_replies", resp(xread_replies))
write("stream_entries", "xautoclaim", resp(xautoclaim))
write("stream_entries", "nil", resp(None))

resp_seeds = {
    "status": resp("OK"),
    "error": resp(Exception("ERR unknown command 'FOO'")),
    "integer": resp(-42),
    "bulk": resp(b"hello\r\nworld"),
    "nil_array": b"*-1\r\n",
    "nested": resp([b"a", [1, None, [b"b", "PONG"]], Exception("WRONGTYPE x")]),
    "pipeline": resp("OK") + resp(3) + resp(xread),
    "xautoclaim": resp(xautoclaim),
}
for name, data in resp_seeds.items():
    write("resp_reader", name, b"\x03" + data)  # first byte: the size of the pieces fed

# ---- gRPC ModelInferRequest messages ----
try:
    from tritonclient.grpc import service_pb2
except ImportError:
    sys.exit("make_corpus.py: run with .venv/bin/python (tritonclient) for the gRPC seeds")


def infer_request(name, version, inputs, raw=(), outputs=(), parameters=None, rid=""):
    message = service_pb2.ModelInferRequest(model_name=name, model_version=version, id=rid)
    for tensor in inputs:
        message.inputs.append(tensor)
    message.raw_input_contents.extend(raw)
    for output in outputs:
        message.outputs.append(service_pb2.ModelInferRequest.InferRequestedOutputTensor(name=output))
    for key, value in (parameters or {}).items():
        p = message.parameters[key]
        if isinstance(value, bool):
            p.bool_param = value
        elif isinstance(value, int):
            p.int64_param = value
        elif isinstance(value, float):
            p.double_param = value
        else:
            p.string_param = value
    return message.SerializeToString()


Input = service_pb2.ModelInferRequest.InferInputTensor
Contents = service_pb2.InferTensorContents
write("grpc_infer", "raw_fp32", infer_request(
    "identity_fp32", "", [Input(name="INPUT0", datatype="FP32", shape=[2, 5])], [binary_values], ["OUTPUT0"]))
write("grpc_infer", "typed_contents", infer_request(
    "iris", "1", [Input(name="input", datatype="FP32", shape=[1, 4],
                        contents=Contents(fp32_contents=[5.1, 3.5, 1.4, 0.2]))],
    outputs=["label"], parameters={"priority": 1, "timeout": 1000, "user": "x"}, rid="g1"))
write("grpc_infer", "bytes_contents", infer_request(
    "kjv_lm", "", [Input(name="text_input", datatype="BYTES", shape=[1],
                         contents=Contents(bytes_contents=[b"In the beginning"]))],
    parameters={"max_tokens": 8, "temperature": 0.5, "top_k": 3, "seed": 1, "stop": "\n",
                "triton_enable_empty_final_response": True}))
write("grpc_infer", "raw_bytes", infer_request(
    "x", "2", [Input(name="s", datatype="BYTES", shape=[3]), Input(name="n", datatype="INT64", shape=[1])],
    [strings, struct.pack("<q", -1)]))
write("grpc_infer", "mixed_types", infer_request(
    "x", "", [Input(name="b", datatype="BOOL", shape=[2], contents=Contents(bool_contents=[True, False])),
              Input(name="u", datatype="UINT16", shape=[2], contents=Contents(uint_contents=[1, 65535])),
              Input(name="h", datatype="FP16", shape=[1])], [b"", b"", b"\x00\x3c"]))

# ---- image_decode: the first byte picks the options, the rest is the image ----
import io  # noqa: E402

from PIL import Image  # noqa: E402


def picture(width, height, mode):
    image = Image.new("RGB", (width, height))
    image.putdata([(x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), (x + y) % 2 * 255)
                   for y in range(height) for x in range(width)])
    return image.convert(mode)


def encoded(image, format, **options):
    out = io.BytesIO()
    image.save(out, format=format, **options)
    return out.getvalue()


exif = Image.Exif()
exif[0x0112] = 6
images = {
    "png_rgb": encoded(picture(24, 16, "RGB"), "PNG"),
    "png_grey": encoded(picture(9, 7, "L"), "PNG"),
    "png_palette": encoded(picture(8, 8, "P"), "PNG"),
    "jpeg_rgb": encoded(picture(40, 24, "RGB"), "JPEG", quality=80),
    "jpeg_grey_progressive": encoded(picture(20, 20, "L"), "JPEG", quality=70, progressive=True),
    "jpeg_exif_rotated": encoded(picture(16, 32, "RGB"), "JPEG", quality=75, exif=exif.tobytes()),
    "webp_lossless": encoded(picture(12, 12, "RGB"), "WEBP", lossless=True),
    "webp_lossy": encoded(picture(30, 18, "RGB"), "WEBP", quality=60),
}
for index, (name, data) in enumerate(images.items()):
    write("image_decode", name, bytes([index * 37 % 256]) + data)
write("image_decode", "not_an_image", b"\x00hello")


def png_chunk(body):
    import zlib

    return struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))


# A decompression bomb's header: 100000 x 100000 declared, a few bytes of data.
write("image_decode", "png_bomb", b"\x00\x89PNG\r\n\x1a\n"
      + png_chunk(b"IHDR" + struct.pack(">II", 100000, 100000) + bytes([8, 2, 0, 0, 0]))
      + png_chunk(b"IDAT" + bytes(16)) + png_chunk(b"IEND"))
