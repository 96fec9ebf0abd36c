"""The MiniLM text classifier end to end (scripts/models/minilm_kjv.py).

text_classifier (TEXT -> minilm_tokenizer -> minilm_kjv) answers every
held-out KJV verse over HTTP and gRPC with class_count, and each verse's
class is the one Python computes with the `tokenizers` package and ONNX
Runtime on the same model file, so the accuracy through the server is
Python's; empty text and invalid UTF-8 are a 400 naming the input while the
requests beside them succeed.

minilm_kjv alone: requests of different lengths share a batch (its inputs
allow ragged batching, the backend pads them) and each gets its own verse's
answer.
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import requests
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from surge_e2e import HTTP_TIMEOUT_S, execution_count, inference_count, launch_surge

MAX_LENGTH = 128  # the tokenizer's max_length in minilm_tokenizer/config.pbtxt
TOKEN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# A padded row differs from the row alone only in summation order in fp32;
# with dynamic int8 quantization (what minilm_kjv serves) the activations'
# scale is the whole batch's, so a row's probabilities move with its batch:
# up to 0.1 over 400 held-out verses in batches of 16. A verse farther than
# CLEAR_MARGIN from a tie keeps its class in any batch.
BATCHED_TOLERANCE = 0.15
CLEAR_MARGIN = 0.15


def _model_dir(demo_repository: Path, name: str) -> Path:
    path = demo_repository / name
    if not (path / "config.pbtxt").is_file():
        pytest.skip(f"{path} is absent: run scripts/make_models.py")
    return path


def _heldout(demo_repository: Path) -> dict:
    return json.loads((_model_dir(demo_repository, "minilm_kjv") / "heldout.json").read_text())


def _tokenizer(demo_repository: Path):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(_model_dir(demo_repository, "minilm_tokenizer") / "1" / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_LENGTH)
    return tokenizer


def _tokens(demo_repository: Path, verses: list[str]) -> list[dict[str, np.ndarray]]:
    """Each verse's token tensors, [1, its length]: what the tokenizer backend gives a one-verse request."""
    out = []
    for encoding in _tokenizer(demo_repository).encode_batch(verses):
        out.append(
            {
                "input_ids": np.asarray([encoding.ids], dtype=np.int64),
                "attention_mask": np.asarray([encoding.attention_mask], dtype=np.int64),
                "token_type_ids": np.asarray([encoding.type_ids], dtype=np.int64),
            }
        )
    return out


def _python_probabilities(demo_repository: Path, tokens: list[dict[str, np.ndarray]]) -> np.ndarray:
    """ONNX Runtime in Python on the served model file, one verse at a time."""
    import onnxruntime as ort

    model = _model_dir(demo_repository, "minilm_kjv") / "1" / "model.onnx"
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    return np.concatenate([session.run(["probabilities"], feed)[0] for feed in tokens])


@pytest.fixture(scope="module")
def reference(demo_repository):
    heldout = _heldout(demo_repository)
    tokens = _tokens(demo_repository, heldout["verses"])
    probabilities = _python_probabilities(demo_repository, tokens)
    truth = np.asarray(heldout["truth"])
    return {
        "verses": heldout["verses"],
        "labels": heldout["labels"],
        "truth": truth,
        "tokens": tokens,
        "probabilities": probabilities,
        "classes": probabilities.argmax(axis=1),
    }


@pytest.fixture
def classifier(surge):
    # Without a tokenizer backend in this build, minilm_tokenizer (and so
    # text_classifier) cannot load; any other reason is a failure.
    index = requests.post(surge.url("/v2/repository/index"), json={}, timeout=HTTP_TIMEOUT_S).json()
    states = {entry["name"]: entry for entry in index}
    tokenizer = states.get("minilm_tokenizer", {})
    if tokenizer.get("state") != "READY" and "backend 'tokenizer' not found" in tokenizer.get("reason", ""):
        pytest.skip(f"this build has no tokenizer backend: {tokenizer['reason']}")
    assert states.get("text_classifier", {}).get("state") == "READY", states.get("text_classifier")
    return surge


def _class_of(top: bytes | str, labels: list[str]) -> int:
    # class_count's "score:index:label".
    score, index, label = (top.decode() if isinstance(top, bytes) else top).split(":", 2)
    assert labels[int(index)] == label and 0.0 <= float(score) <= 1.0, top
    return int(index)


def _http_classify(server, verse: str, labels: list[str]) -> int:
    with httpclient.InferenceServerClient(server.http_address) as client:
        text = httpclient.InferInput("TEXT", [1, 1], "BYTES")
        text.set_data_from_numpy(np.asarray([[verse.encode()]], dtype=object))
        output = httpclient.InferRequestedOutput("probabilities", class_count=1)
        return _class_of(client.infer("text_classifier", [text], outputs=[output]).as_numpy("probabilities")[0][0], labels)


def _grpc_classify(server, verse: str, labels: list[str]) -> int:
    client = grpcclient.InferenceServerClient(server.grpc_url)
    try:
        text = grpcclient.InferInput("TEXT", [1, 1], "BYTES")
        text.set_data_from_numpy(np.asarray([[verse.encode()]], dtype=object))
        output = grpcclient.InferRequestedOutput("probabilities", class_count=1)
        return _class_of(client.infer("text_classifier", [text], outputs=[output]).as_numpy("probabilities")[0][0], labels)
    finally:
        client.close()


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_every_heldout_verse_gets_the_class_python_computes(classifier, reference, protocol):
    classify = _http_classify if protocol == "http" else _grpc_classify
    labels = reference["labels"]
    # One verse per request, one request at a time: each runs as Python ran it,
    # alone and unpadded, so even the int8 model's classes must agree exactly.
    classes = np.asarray([classify(classifier, verse, labels) for verse in reference["verses"]])
    mismatched = np.flatnonzero(classes != reference["classes"])
    assert mismatched.size == 0, [(reference["verses"][i], int(classes[i])) for i in mismatched[:5]]
    server_accuracy = float((classes == reference["truth"]).mean())
    python_accuracy = float((reference["classes"] == reference["truth"]).mean())
    assert server_accuracy == python_accuracy
    assert server_accuracy >= 0.9


def test_concurrent_verses_batch_and_keep_their_classes(classifier, reference):
    verses = reference["verses"][:256]
    labels = reference["labels"]
    before = classifier.stats("minilm_kjv")
    with ThreadPoolExecutor(max_workers=16) as pool:
        classes = np.asarray(list(pool.map(lambda v: _http_classify(classifier, v, labels), verses)))
    after = classifier.stats("minilm_kjv")
    ran = inference_count(after) - inference_count(before)
    batches = execution_count(after) - execution_count(before)
    assert ran == len(verses) and batches < ran, (ran, batches)
    _assert_classes_agree(classes, reference, len(verses))


def _assert_classes_agree(classes: np.ndarray, reference: dict, count: int) -> None:
    # Batched with others, a verse near a tie may fall either way; every other must agree.
    margin = np.abs(reference["probabilities"][:count, 1] - 0.5)
    clear = margin > CLEAR_MARGIN
    assert clear.sum() > count / 2, "too few clear verses to compare"
    assert (classes[clear] == reference["classes"][:count][clear]).all()


def test_empty_and_invalid_utf8_text_are_400_naming_the_input_beside_good_requests(classifier, reference):
    verse = reference["verses"][0]

    def post(payload: bytes) -> requests.Response:
        body = json.dumps(
            {"inputs": [{"name": "TEXT", "shape": [1, 1], "datatype": "BYTES", "parameters": {"binary_data_size": len(payload) + 4}}]}
        ).encode()
        data = body + len(payload).to_bytes(4, "little") + payload
        return requests.post(
            classifier.url("/v2/models/text_classifier/infer"),
            data=data,
            headers={"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(body))},
            timeout=HTTP_TIMEOUT_S,
        )

    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(post, p) for p in (verse.encode(), b"", b"\xff\xfe bad", verse.encode())]
        good, empty, invalid, good_again = (f.result() for f in futures)
    for response in (good, good_again):
        assert response.status_code == 200, response.text[:500]
    for response in (empty, invalid):
        assert response.status_code == 400, response.text[:500]
        assert "TEXT" in response.json()["error"], response.text[:500]


def test_recorded_accuracy_is_what_the_served_file_gives(demo_repository, reference):
    metrics = json.loads((_model_dir(demo_repository, "minilm_kjv") / "metrics.json").read_text())
    python_accuracy = float((reference["classes"] == reference["truth"]).mean())
    assert python_accuracy == pytest.approx(metrics[f"accuracy_onnx_{metrics['served']}"], abs=1e-9)
    assert python_accuracy >= 0.9 and len(reference["truth"]) >= 1000


# ---- minilm_kjv alone, with token tensors from Python's tokenizer ----------


@pytest.fixture(scope="module")
def encoder_server(demo_repository, tmp_path_factory):
    """A server of minilm_kjv alone, which needs no tokenizer backend."""
    source = _model_dir(demo_repository, "minilm_kjv")
    repository = tmp_path_factory.mktemp("minilm-repo")
    target = repository / "minilm_kjv"
    (target / "1").mkdir(parents=True)
    for name in ("config.pbtxt", "labels.txt"):
        shutil.copyfile(source / name, target / name)
    (target / "1" / "model.onnx").symlink_to(source / "1" / "model.onnx")
    server = launch_surge(repository, tmp_path_factory.mktemp("minilm-logs"))
    try:
        server.wait_ready()
        yield server
    finally:
        running = server.process.poll() is None
        status = server.stop()
    assert not running or status == 0, f"surge exited {status} after SIGTERM\n{server.describe()}"


def _grpc_tokens(server, feed: dict[str, np.ndarray]) -> np.ndarray:
    client = grpcclient.InferenceServerClient(server.grpc_url)
    try:
        inputs = []
        for name in TOKEN_INPUTS:
            tensor = grpcclient.InferInput(name, list(feed[name].shape), "INT64")
            tensor.set_data_from_numpy(feed[name])
            inputs.append(tensor)
        return client.infer("minilm_kjv", inputs).as_numpy("probabilities")
    finally:
        client.close()


def _http_tokens(server, feed: dict[str, np.ndarray]) -> np.ndarray:
    with httpclient.InferenceServerClient(server.http_address) as client:
        inputs = []
        for name in TOKEN_INPUTS:
            tensor = httpclient.InferInput(name, list(feed[name].shape), "INT64")
            tensor.set_data_from_numpy(feed[name], binary_data=True)
            inputs.append(tensor)
        return client.infer("minilm_kjv", inputs).as_numpy("probabilities")


def test_encoder_alone_answers_each_verse_as_python_does(encoder_server, reference):
    count = 300
    probabilities = np.concatenate([_http_tokens(encoder_server, feed) for feed in reference["tokens"][:count]])
    assert probabilities.shape == (count, 2)
    assert (probabilities.argmax(axis=1) == reference["classes"][:count]).all()
    np.testing.assert_allclose(probabilities, reference["probabilities"][:count], atol=1e-4)


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_requests_of_different_lengths_share_padded_batches(encoder_server, reference, protocol):
    infer = _http_tokens if protocol == "http" else _grpc_tokens
    count = 400
    feeds = reference["tokens"][:count]
    lengths = {feed["input_ids"].shape[1] for feed in feeds}
    assert len(lengths) > 10, lengths
    before = encoder_server.stats("minilm_kjv")
    with ThreadPoolExecutor(max_workers=16) as pool:
        probabilities = np.concatenate(list(pool.map(lambda feed: infer(encoder_server, feed), feeds)))
    after = encoder_server.stats("minilm_kjv")
    ran = inference_count(after) - inference_count(before)
    batches = execution_count(after) - execution_count(before)
    # 400 requests of more than 10 lengths ran in fewer batches than requests:
    # lengths were mixed within batches.
    assert ran == count and batches < count / 2, (ran, batches)
    np.testing.assert_allclose(probabilities, reference["probabilities"][:count], atol=BATCHED_TOLERANCE)
    _assert_classes_agree(probabilities.argmax(axis=1), reference, count)


def test_a_request_of_several_rows_is_padded_with_the_batch(encoder_server, reference):
    # Two verses of different lengths in one request, padded by the client as
    # the tokenizer backend pads a request, beside single-verse requests.
    first, second = reference["tokens"][0], reference["tokens"][1]
    width = max(first["input_ids"].shape[1], second["input_ids"].shape[1])
    pair = {}
    for name in TOKEN_INPUTS:
        rows = np.zeros((2, width), dtype=np.int64)
        rows[0, : first[name].shape[1]] = first[name][0]
        rows[1, : second[name].shape[1]] = second[name][0]
        pair[name] = rows
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(_http_tokens, encoder_server, f) for f in (pair, reference["tokens"][5], reference["tokens"][9])]
        answers = [f.result() for f in futures]
    assert answers[0].shape == (2, 2)
    np.testing.assert_allclose(answers[0], reference["probabilities"][:2], atol=BATCHED_TOLERANCE)
    np.testing.assert_allclose(answers[1][0], reference["probabilities"][5], atol=BATCHED_TOLERANCE)


def test_token_inputs_of_another_rank_are_refused_naming_the_input(encoder_server, reference):
    feed = dict(reference["tokens"][0])
    feed["attention_mask"] = feed["attention_mask"].reshape(1, 1, -1)
    with pytest.raises(InferenceServerException) as raised:
        _http_tokens(encoder_server, feed)
    assert "attention_mask" in str(raised.value)
