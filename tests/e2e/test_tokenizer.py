"""The tokenizer backend end to end: a model repository of one `tokenizer`
model on all-MiniLM-L6-v2's tokenizer.json (scripts/install-deps puts it in
.deps/minilm), thousands of texts sent through tritonclient in concurrent
multi-row requests over HTTP and gRPC, each request's ids, masks and type ids
checked token for token against Python tokenizers (Tokenizer.from_file, the
same truncation) padded to that request's longest row. The texts: every
tenth KJV verse from Debian's bible-kjv, Unicode of many scripts, whitespace
oddities and texts long enough to be truncated. Empty text and invalid UTF-8
are a 400 naming the input while the requests beside them are served."""

from __future__ import annotations

import random
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tokenizers import Tokenizer
from tritonclient.utils import InferenceServerException

from surge_e2e import REPO_ROOT, execution_count, inference_count, write_model

TOKENIZER_JSON = REPO_ROOT / ".deps" / "minilm" / "tokenizer.json"
MODEL = "minilm_tokenizer"
MAX_LENGTH = 64  # below the file's own 128, so the server's truncation is what is tested
OUTPUTS = ("input_ids", "attention_mask", "token_type_ids")
REFERENCE = re.compile(r"^\S+\d+:\d+ ")  # "Ge1:1 " before each verse that `bible -f` prints

CONFIG = f"""
name: "{MODEL}"
backend: "tokenizer"
max_batch_size: 64
input [ {{ name: "TEXT" data_type: TYPE_STRING dims: [ 1 ] }} ]
output [
  {{ name: "input_ids" data_type: TYPE_INT64 dims: [ -1 ] }},
  {{ name: "attention_mask" data_type: TYPE_INT64 dims: [ -1 ] }},
  {{ name: "token_type_ids" data_type: TYPE_INT64 dims: [ -1 ] }}
]
instance_group [ {{ count: 2 kind: KIND_CPU }} ]
dynamic_batching {{ max_queue_delay_microseconds: 1000 }}
parameters {{ key: "max_length" value {{ string_value: "{MAX_LENGTH}" }} }}
"""

UNICODE_TEXTS = [
    "Café crème brûlée à la française, naïve coöperation",
    "東京都は日本の首都です。北京欢迎你！",
    "서울특별시는 대한민국의 수도이다",
    "Emoji 😀🙈🎉👩‍👩‍👧‍👦 and flags 🇫🇷🇯🇵",
    "Combining: e\u0301 a\u0300 o\u0308 n\u0303 \u1e9b\u0323",
    "مرحبا بالعالم — שלום עולם",
    "Ελληνικά και Русский текст, ещё",
    "ｆｕｌｌｗｉｄｔｈ ＡＢＣ１２３ and ligature ﬁ ﬂ",
    "Zero\u200bwidth\u200djoiner\ufeffBOM and soft\u00adhyphen",
    "Math ∑∫√∞ ≠ ≤ ≥ and currency €£¥₹",
    "Control\u0007bell and \u0000nul inside",
    "Tamil தமிழ் and Hindi हिन्दी and Thai ภาษาไทย",
]

WHITESPACE_TEXTS = [
    " ",
    "\t\n\r",
    "   leading and trailing   ",
    "many     spaces\t\ttabs\n\nnewlines",
    "\u00a0no-break\u2003em\u3000ideographic space",
    "x",
    ".",
]


def _verses() -> list[str]:
    try:
        text = subprocess.run(
            ["bible", "-f", "Gen1:1-Rev22:21"], check=True, capture_output=True, text=True, timeout=60
        ).stdout
    except FileNotFoundError:
        pytest.fail("the 'bible' command is missing: scripts/install-deps installs bible-kjv", pytrace=False)
    verses = [line[m.end() :].strip() for line in text.splitlines() if (m := REFERENCE.match(line))]
    assert len(verses) == 31102, f"expected the 31102 KJV verses, bible printed {len(verses)}"
    return verses[::10]


def _texts() -> list[str]:
    verses = _verses()
    rng = random.Random(7)
    long_texts = [" ".join(rng.sample(verses, 12)) for _ in range(100)]  # hundreds of tokens each
    long_texts.append("supercalifragilisticexpialidocious " * 200)
    long_texts.append("😀" * 1000)
    texts = verses + UNICODE_TEXTS * 5 + WHITESPACE_TEXTS * 5 + long_texts
    rng.shuffle(texts)
    return texts


def _expected(tokenizer: Tokenizer, rows: list[str]) -> dict[str, np.ndarray]:
    encodings = tokenizer.encode_batch(rows)
    width = max(len(e.ids) for e in encodings)
    out = {}
    for name, field in zip(OUTPUTS, ("ids", "attention_mask", "type_ids")):
        array = np.zeros((len(rows), width), dtype=np.int64)
        for r, e in enumerate(encodings):
            values = getattr(e, field)
            array[r, : len(values)] = values
        out[name] = array
    return out


@pytest.fixture(scope="module")
def reference() -> Tokenizer:
    assert TOKENIZER_JSON.exists(), f"{TOKENIZER_JSON} missing: run scripts/install-deps"
    tokenizer = Tokenizer.from_file(str(TOKENIZER_JSON))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=MAX_LENGTH)
    return tokenizer


@pytest.fixture
def server(surge_factory, tmp_path: Path):
    repository = tmp_path / "repository"
    model_dir = write_model(repository, MODEL, CONFIG)
    (model_dir / "1" / "tokenizer.json").write_bytes(TOKENIZER_JSON.read_bytes())
    return surge_factory(repository)


def _text_input(module, rows: list[bytes]):
    tensor = module.InferInput("TEXT", [len(rows), 1], "BYTES")
    array = np.array([[row] for row in rows], dtype=object)
    if module is httpclient:
        tensor.set_data_from_numpy(array, binary_data=True)
    else:
        tensor.set_data_from_numpy(array)
    return tensor


def _chunks(texts: list[str], seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    chunks, at = [], 0
    while at < len(texts):
        size = rng.randint(1, 16)
        chunks.append(texts[at : at + size])
        at += size
    return chunks


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_every_text_is_tokenized_as_python_tokenizers_does(server, reference, protocol):
    texts = _texts()
    assert len(texts) > 3000
    chunks = _chunks(texts, seed=1 if protocol == "http" else 2)
    module = httpclient if protocol == "http" else grpcclient
    address = server.http_address if protocol == "http" else server.grpc_url

    def run(part: list[list[str]]) -> list[tuple[list[str], dict[str, np.ndarray]]]:
        results = []
        # One client per thread: concurrent requests, so the server batches them.
        kwargs = {"connection_timeout": 30.0, "network_timeout": 30.0} if module is httpclient else {}
        with module.InferenceServerClient(address, **kwargs) as client:
            for rows in part:
                answer = client.infer(MODEL, [_text_input(module, [r.encode() for r in rows])])
                results.append((rows, {name: answer.as_numpy(name) for name in OUTPUTS}))
        return results

    with ThreadPoolExecutor(8) as pool:
        answers = [a for part in pool.map(run, [chunks[i::8] for i in range(8)]) for a in part]

    assert len(answers) == len(chunks)
    truncated = 0
    for rows, got in answers:
        expected = _expected(reference, rows)
        for name in OUTPUTS:
            assert got[name].dtype == np.int64, name
            assert got[name].shape == expected[name].shape, (name, rows)
            assert np.array_equal(got[name], expected[name]), (name, rows)
        truncated += int((expected["attention_mask"].sum(axis=1) == MAX_LENGTH).sum())
    assert truncated >= 100, f"only {truncated} texts reached max_length"
    # Eight clients at once: some executions carried several requests, each
    # of which was checked above against its own padding.
    stats = server.stats(MODEL)
    assert inference_count(stats) == len(texts)
    assert execution_count(stats) < len(chunks), stats


@pytest.mark.parametrize("protocol", ["http", "grpc"])
@pytest.mark.parametrize("bad, problem", [(b"caf\xe9", "is not valid UTF-8"), (b"", "is empty")])
def test_bad_text_is_a_400_naming_the_input_and_its_neighbours_are_served(server, reference, protocol, bad, problem):
    module = httpclient if protocol == "http" else grpcclient
    address = server.http_address if protocol == "http" else server.grpc_url
    good = ["In the beginning God created the heaven and the earth.", "東京 😀"]

    def good_request() -> np.ndarray:
        with module.InferenceServerClient(address) as client:
            return client.infer(MODEL, [_text_input(module, [g.encode() for g in good])]).as_numpy("input_ids")

    def bad_request() -> InferenceServerException:
        with module.InferenceServerClient(address) as client:
            with pytest.raises(InferenceServerException) as raised:
                client.infer(MODEL, [_text_input(module, [b"fine", bad])])
            return raised.value

    with ThreadPoolExecutor(6) as pool:
        goods = [pool.submit(good_request) for _ in range(4)]
        bads = [pool.submit(bad_request) for _ in range(2)]
        for future in goods:
            assert np.array_equal(future.result(), _expected(reference, good)["input_ids"])
        for future in bads:
            error = future.result()
            assert error.status() in ("400", "StatusCode.INVALID_ARGUMENT"), error
            assert "input 'TEXT' element 1" in error.message() and problem in error.message(), error.message()


def test_a_broken_tokenizer_file_fails_that_model_naming_the_file(surge_factory, tmp_path: Path):
    repository = tmp_path / "repository"
    write_model(repository, MODEL, CONFIG)
    (repository / MODEL / "1" / "tokenizer.json").write_bytes(TOKENIZER_JSON.read_bytes())
    broken = write_model(repository, "broken_tokenizer", CONFIG.replace(f'name: "{MODEL}"', 'name: "broken_tokenizer"'))
    broken_file = broken / "1" / "tokenizer.json"
    broken_file.write_text('{"version": "1.0", "model": ')
    server = surge_factory(repository)

    with httpclient.InferenceServerClient(server.http_address) as client:
        assert client.is_model_ready(MODEL)
        assert not client.is_model_ready("broken_tokenizer")
        with pytest.raises(InferenceServerException) as raised:
            client.infer("broken_tokenizer", [_text_input(httpclient, [b"hello"])])
    assert str(broken_file) in raised.value.message(), raised.value.message()
