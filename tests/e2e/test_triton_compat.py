"""What a Triton client meets when it talks to surge: Triton's words for an
unknown model, UNIMPLEMENTED for the gRPC methods surge does not serve, an
extension list that holds only what is served (checked route by route and
against docs/triton-compatibility.md), refused requests counted as invalid,
and the OpenAI API's answers to what it refuses and what it ignores.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Callable

import httpx
import numpy as np
import openai
import pytest
import requests
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from surge_e2e import REPO_ROOT, HTTP_TIMEOUT_S, SurgeServer, metric_sum, post_infer, wait_until

RPC_TIMEOUT_S = 30.0
LM = "kjv_lm"
UNKNOWN_MODEL = "Request for unknown model: 'nosuch' is not found"
COMPATIBILITY_DOC = REPO_ROOT / "docs" / "triton-compatibility.md"

# Every extension name Triton advertises in its server metadata.
TRITON_EXTENSIONS = {
    "binary_tensor_data",
    "classification",
    "cuda_shared_memory",
    "logging",
    "model_configuration",
    "model_repository",
    "model_repository(unload_dependents)",
    "parameters",
    "schedule_policy",
    "sequence",
    "statistics",
    "system_shared_memory",
    "trace",
}

VALUES = np.arange(1, 17, dtype=np.float32).reshape(1, 16)


def _grpc(server: SurgeServer) -> grpcclient.InferenceServerClient:
    return grpcclient.InferenceServerClient(server.grpc_url)


def _http_input(values: np.ndarray, binary: bool = True) -> httpclient.InferInput:
    tensor = httpclient.InferInput("INPUT0", list(values.shape), "FP32")
    tensor.set_data_from_numpy(values, binary_data=binary)
    return tensor


def _openai(server: SurgeServer) -> openai.OpenAI:
    # No retries, and an HTTP client of the test's own (see test_generation.py).
    return openai.OpenAI(
        base_url=server.url("/v1"), api_key="unused", max_retries=0, http_client=httpx.Client(timeout=HTTP_TIMEOUT_S)
    )


@pytest.fixture
def lm(surge, demo_repository: Path) -> SurgeServer:
    if not (demo_repository / LM).is_dir():
        pytest.skip(f"{demo_repository / LM} is absent: the demo language model is not in this repository")
    return surge


# ---------------------------------------------------------------------------
# Unknown models and methods


def test_an_unknown_model_is_answered_in_tritons_words(surge):
    with pytest.raises(InferenceServerException) as http_error, surge.client() as client:
        client.infer("nosuch", [_http_input(VALUES)])
    assert http_error.value.message().startswith(UNKNOWN_MODEL), http_error.value.message()

    with pytest.raises(InferenceServerException) as metadata_error, surge.client() as client:
        client.get_model_metadata("nosuch")
    assert metadata_error.value.message().startswith(UNKNOWN_MODEL), metadata_error.value.message()

    tensor = grpcclient.InferInput("INPUT0", list(VALUES.shape), "FP32")
    tensor.set_data_from_numpy(VALUES)
    with pytest.raises(InferenceServerException) as grpc_error:
        _grpc(surge).infer("nosuch", [tensor], client_timeout=RPC_TIMEOUT_S)
    assert grpc_error.value.message().startswith(UNKNOWN_MODEL), grpc_error.value.message()

    with pytest.raises(InferenceServerException) as grpc_metadata_error:
        _grpc(surge).get_model_metadata("nosuch", client_timeout=RPC_TIMEOUT_S)
    assert grpc_metadata_error.value.message().startswith(UNKNOWN_MODEL), grpc_metadata_error.value.message()


@pytest.mark.parametrize(
    "call,method",
    [
        (lambda c: c.get_trace_settings(client_timeout=RPC_TIMEOUT_S), "TraceSetting"),
        (lambda c: c.update_trace_settings(settings={"trace_level": ["TIMESTAMPS"]}, client_timeout=RPC_TIMEOUT_S),
         "TraceSetting"),
        (lambda c: c.get_log_settings(client_timeout=RPC_TIMEOUT_S), "LogSettings"),
    ],
    ids=["get-trace", "update-trace", "get-log"],
)
def test_a_grpc_method_surge_does_not_serve_is_unimplemented_by_name(surge, call, method):
    with pytest.raises(InferenceServerException) as raised:
        call(_grpc(surge))
    assert raised.value.status() == "StatusCode.UNIMPLEMENTED", raised.value
    message = raised.value.message()
    assert message and method in message, message
    # The server keeps serving on the same port.
    assert _grpc(surge).is_server_live()


# ---------------------------------------------------------------------------
# Advertised extensions are served


def _probe_binary_tensor_data(server: SurgeServer) -> None:
    with server.client() as client:
        output = httpclient.InferRequestedOutput("OUTPUT0", binary_data=True)
        result = client.infer("identity_fp32", [_http_input(VALUES, binary=True)], outputs=[output])
    assert result.get_output("OUTPUT0")["parameters"]["binary_data_size"] == VALUES.nbytes
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), VALUES)


def _probe_classification(server: SurgeServer) -> None:
    with server.client() as client:
        output = httpclient.InferRequestedOutput("OUTPUT0", binary_data=False, class_count=3)
        classes = client.infer("identity_fp32", [_http_input(VALUES, binary=False)], outputs=[output]).as_numpy("OUTPUT0")
    entries = [c.decode() if isinstance(c, bytes) else str(c) for c in classes.flatten()]
    # "score:index", best first: the largest values are the last ones.
    assert [int(e.split(":")[1]) for e in entries] == [15, 14, 13], entries


def _get_200(path: str) -> Callable[[SurgeServer], None]:
    def probe(server: SurgeServer) -> None:
        response = requests.get(server.url(path), timeout=HTTP_TIMEOUT_S)
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text[:300]}"
        response.json()

    return probe


def _probe_model_repository(server: SurgeServer) -> None:
    response = requests.post(server.url("/v2/repository/index"), json={}, timeout=HTTP_TIMEOUT_S)
    assert response.status_code == 200, response.text[:300]
    assert "identity_fp32" in [entry["name"] for entry in response.json()]


def _probe_sequence(server: SurgeServer) -> None:
    tensor = httpclient.InferInput("INPUT", [1, 1], "INT32")
    tensor.set_data_from_numpy(np.asarray([[41]], dtype=np.int32))
    with server.client() as client:
        result = client.infer(
            "accumulator", [tensor], sequence_id=f"probe-{os.getpid()}", sequence_start=True, sequence_end=True
        )
    assert int(result.as_numpy("OUTPUT").item()) == 41


def _probe_schedule_policy(server: SurgeServer) -> None:
    # A per-request timeout (microseconds), Triton's "timeout" parameter.
    with server.client() as client:
        result = client.infer("identity_fp32", [_http_input(VALUES)], timeout=10_000_000)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), VALUES)


def _probe_parameters(server: SurgeServer) -> None:
    with server.client() as client:
        result = client.infer("identity_fp32", [_http_input(VALUES)], parameters={"surge_e2e_probe": "any value"})
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), VALUES)


EXTENSION_PROBES: dict[str, Callable[[SurgeServer], None]] = {
    "binary_tensor_data": _probe_binary_tensor_data,
    "classification": _probe_classification,
    "statistics": _get_200("/v2/models/stats"),
    "model_configuration": _get_200("/v2/models/identity_fp32/config"),
    "model_repository": _probe_model_repository,
    "system_shared_memory": _get_200("/v2/systemsharedmemory/status"),
    "sequence": _probe_sequence,
    "schedule_policy": _probe_schedule_policy,
    "parameters": _probe_parameters,
}


def _http_extensions(server: SurgeServer) -> list[str]:
    response = requests.get(server.url("/v2"), timeout=HTTP_TIMEOUT_S)
    assert response.status_code == 200, response.text[:300]
    return response.json()["extensions"]


def test_both_protocols_advertise_the_same_extensions(surge):
    http_extensions = _http_extensions(surge)
    grpc_extensions = list(_grpc(surge).get_server_metadata(client_timeout=RPC_TIMEOUT_S).extensions)
    assert sorted(http_extensions) == sorted(grpc_extensions)
    assert len(set(http_extensions)) == len(http_extensions), http_extensions


def test_every_advertised_extension_is_served(surge):
    extensions = _http_extensions(surge)
    unprobed = [e for e in extensions if e not in EXTENSION_PROBES]
    assert not unprobed, f"advertised without a probe in this test: {unprobed}"
    failures = {}
    for extension in extensions:
        try:
            EXTENSION_PROBES[extension](surge)
        except (AssertionError, InferenceServerException, requests.RequestException, ValueError) as e:
            failures[extension] = f"{type(e).__name__}: {e}"
    assert not failures, failures


# ---------------------------------------------------------------------------
# docs/triton-compatibility.md agrees with the server

_STATUSES = ("supported", "partial", "not")


def _compatibility_rows() -> list[tuple[str, str, str]]:
    """(feature, extension name or "", status) for each row of the doc's table."""
    rows = []
    header_seen = False
    for line in COMPATIBILITY_DOC.read_text().splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not header_seen:
            header_seen = True
            assert [c.lower() for c in cells[:3]] == ["feature", "triton extension", "status"], cells
            continue
        if set("".join(cells)) <= set("-: "):
            continue  # the delimiter row
        feature, extension, status = cells[0], cells[1], cells[2].lower().strip("*")
        assert status in _STATUSES, f"row {feature!r}: status {status!r} is not one of {_STATUSES}"
        names = re.findall(r"`([^`]+)`", extension)
        rows.append((feature, names[0] if names else "", status))
    return rows


def test_the_compatibility_doc_matches_the_advertised_extensions(surge):
    rows = _compatibility_rows()
    assert rows, f"no table in {COMPATIBILITY_DOC}"
    advertised = set(_http_extensions(surge))
    named = {extension: status for _, extension, status in rows if extension}
    unknown = sorted(set(named) - TRITON_EXTENSIONS)
    assert not unknown, f"not Triton extension names: {unknown}"

    served = {e for e, status in named.items() if status in ("supported", "partial")}
    refused = {e for e, status in named.items() if status == "not"}
    assert served <= advertised, f"the doc says served, /v2 does not advertise: {sorted(served - advertised)}"
    assert not (refused & advertised), f"the doc says not served, /v2 advertises: {sorted(refused & advertised)}"
    # Whatever the server advertises, the doc has a row for.
    assert advertised <= set(named), f"advertised without a row in the doc: {sorted(advertised - set(named))}"


# ---------------------------------------------------------------------------
# Refused requests count as invalid


def _invalid_count(server: SurgeServer) -> float:
    return metric_sum(server.metrics(), "surge_requests_total", model=LM, outcome="invalid") or 0.0


def _post_json(server: SurgeServer, path: str, body: dict) -> requests.Response:
    return requests.post(server.url(path), json=body, timeout=HTTP_TIMEOUT_S)


def _post_raw(server: SurgeServer, path: str, body: bytes) -> requests.Response:
    return requests.post(
        server.url(path), data=body, headers={"Content-Type": "application/json"}, timeout=HTTP_TIMEOUT_S
    )


# A prompt of ordinary words whose tokens are more than kjv_lm's context of
# 256, in far fewer bytes than the context's byte limit.
LONG_PROMPT = "In the beginning God created the heaven and the earth. " * 40
# Too many bytes for the context whatever the tokenizer makes of them.
HUGE_PROMPT = "a" * (256 * 64 + 1)


def test_refused_requests_are_counted_as_invalid(lm):
    refusals: list[tuple[str, Callable[[], requests.Response]]] = [
        ("temperature", lambda: _post_json(lm, "/v1/completions", {"model": LM, "prompt": "In", "temperature": -1})),
        ("unknown field", lambda: _post_json(lm, "/v1/completions", {"model": LM, "prompt": "In", "frobnicate": 1})),
        ("n=2", lambda: _post_json(lm, "/v1/completions", {"model": LM, "prompt": "In", "n": 2})),
        ("prompt bytes", lambda: _post_json(lm, "/v1/completions", {"model": LM, "prompt": HUGE_PROMPT})),
        ("prompt tokens", lambda: _post_json(lm, "/v1/completions", {"model": LM, "prompt": LONG_PROMPT})),
        (
            "prompt + max_tokens",
            lambda: _post_json(
                lm, "/v1/completions", {"model": LM, "prompt": "In the beginning God created", "max_tokens": 255}
            ),
        ),
        ("no messages", lambda: _post_json(lm, "/v1/chat/completions", {"model": LM, "messages": []})),
        (
            "message without content",
            lambda: _post_json(lm, "/v1/chat/completions", {"model": LM, "messages": [{"role": "user"}]}),
        ),
        ("generate JSON", lambda: _post_raw(lm, f"/v2/models/{LM}/generate", b'{"text_input": "In')),
        ("infer JSON", lambda: _post_raw(lm, f"/v2/models/{LM}/infer", b'{"inputs": [')),
    ]
    before = _invalid_count(lm)
    statuses = {}
    for what, send in refusals:
        response = send()
        statuses[what] = (response.status_code, response.text[:200])
    assert all(status == 400 for status, _ in statuses.values()), statuses

    expected = before + len(refusals)
    # Counters may be bumped just after the answer is written.
    wait_until(lambda: _invalid_count(lm) >= expected, f"{len(refusals)} more invalid {LM} requests")
    assert _invalid_count(lm) == expected


# ---------------------------------------------------------------------------
# The OpenAI API


def test_a_prompt_and_max_tokens_past_the_context_are_refused(lm):
    client = _openai(lm)
    with pytest.raises(openai.BadRequestError) as raised:
        client.completions.create(model=LM, prompt="In the beginning God created", max_tokens=255, temperature=0)
    assert "context" in raised.value.body["message"].lower(), raised.value.body

    with pytest.raises(openai.BadRequestError) as chat_raised:
        client.chat.completions.create(
            model=LM, messages=[{"role": "user", "content": "In the beginning God created"}], max_tokens=255
        )
    assert "context" in chat_raised.value.body["message"].lower(), chat_raised.value.body

    # Within the context, the same prompt is answered.
    completion = client.completions.create(model=LM, prompt="In the beginning God created", max_tokens=8, temperature=0)
    assert completion.usage.completion_tokens <= 8


def test_an_unknown_field_is_refused_by_name(lm):
    client = _openai(lm)
    with pytest.raises(openai.BadRequestError) as raised:
        client.completions.create(model=LM, prompt="In", max_tokens=2, extra_body={"frobnicate": 1})
    assert "frobnicate" in raised.value.body["message"], raised.value.body
    assert raised.value.body.get("param") == "frobnicate", raised.value.body

    with pytest.raises(openai.BadRequestError) as chat_raised:
        client.chat.completions.create(
            model=LM, messages=[{"role": "user", "content": "In"}], max_tokens=2, extra_body={"frobnicate": 1}
        )
    assert "frobnicate" in chat_raised.value.body["message"], chat_raised.value.body


def test_openai_fields_surge_ignores_are_accepted(lm):
    client = _openai(lm)
    # metadata and store are chat fields only: OpenAI's completions API has user, not them.
    completion = client.completions.create(model=LM, prompt="In the beginning", max_tokens=4, temperature=0, user="e2e")
    assert completion.choices[0].finish_reason in ("length", "stop")

    chat = client.chat.completions.create(
        model=LM,
        messages=[{"role": "user", "content": "In the beginning"}],
        max_tokens=4,
        temperature=0,
        user="e2e-user",
        metadata={"run": "e2e"},
    )
    assert chat.choices[0].message.role == "assistant"


def test_a_streamed_chat_begins_with_the_assistant_role_and_empty_content(lm):
    body = {
        "model": LM,
        "messages": [{"role": "user", "content": "In the beginning"}],
        "max_tokens": 6,
        "temperature": 0,
        "stream": True,
    }
    with requests.post(lm.url("/v1/chat/completions"), json=body, stream=True, timeout=HTTP_TIMEOUT_S) as response:
        assert response.status_code == 200, response.text[:500]
        events = [line[len("data: ") :] for line in response.iter_lines(decode_unicode=True) if line]
    assert events and events[-1] == "[DONE]", events
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["object"] == "chat.completion.chunk"
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}, chunks[0]
    # The text follows in later chunks, without the role again.
    assert all("role" not in c["choices"][0]["delta"] for c in chunks[1:] if c["choices"]), chunks
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[1:] if c["choices"])

    # The openai client reads the same stream.
    stream = _openai(lm).chat.completions.create(**body)
    first = next(iter(stream))
    assert first.choices[0].delta.role == "assistant" and first.choices[0].delta.content == ""
    for _ in stream:
        pass
