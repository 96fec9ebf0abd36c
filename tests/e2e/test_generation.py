"""Text generation seen from outside: the OpenAI API through the official
`openai` client, KServe's generate extension, and the continuous batcher
behind both (client disconnects, priorities, many concurrent streams).

The models use the echo_lm test backend, whose text is known in advance: a
prompt of distinct characters repeats itself ("abc" -> "abcabc..."), so every
test checks the exact text. Its tokens are bytes after a BOS token, so a
prompt of n characters is n + 1 prompt tokens. Tests learn what the server is
doing from its metrics, polled with a deadline, never by sleeping.
"""

from __future__ import annotations

import json
import re
import socket
import string
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
import requests

from surge_e2e import (
    HTTP_TIMEOUT_S,
    SurgeServer,
    echo_lm_config,
    echo_text,
    error_message,
    identity_config,
    metric_sum,
    post_infer,
    raw_http_request,
    wait_until,
    write_model,
)

ECHO = "echo"


def _serve(surge_factory, tmp_path, name: str = ECHO, **config) -> SurgeServer:
    repository = tmp_path / "models"
    write_model(repository, name, echo_lm_config(name, **config))
    return surge_factory(repository)


def _client(server: SurgeServer) -> openai.OpenAI:
    # No retries: a 429 must reach the test, not be retried away. The HTTP
    # client is given because openai 1.54 builds its own with an argument
    # httpx 0.28 no longer takes.
    return openai.OpenAI(
        base_url=server.url("/v1"),
        api_key="unused",
        max_retries=0,
        http_client=httpx.Client(timeout=HTTP_TIMEOUT_S),
    )


def _generation_metric(server: SurgeServer, name: str, model: str = ECHO) -> float:
    return metric_sum(server.metrics(), name, model=model) or 0.0


def _sse_events(response: requests.Response) -> list[str]:
    """The data of every event of a text/event-stream response, read to its end."""
    assert response.status_code == 200, f"{response.status_code}: {response.text[:500]}"
    assert response.headers["Content-Type"].startswith("text/event-stream"), response.headers
    events = []
    for line in response.iter_lines(decode_unicode=True):
        if not line:
            continue
        assert line.startswith("data: "), f"not an SSE data line: {line!r}"
        events.append(line[len("data: ") :])
    return events


# ---------------------------------------------------------------------------
# OpenAI API


def test_models_list_names_the_generative_models(surge_factory, tmp_path):
    repository = tmp_path / "models"
    write_model(repository, ECHO, echo_lm_config(ECHO))
    write_model(repository, "plain", identity_config("plain"))
    server = surge_factory(repository)
    client = _client(server)

    models = client.models.list()
    assert [m.id for m in models.data] == [ECHO]
    assert models.data[0].object == "model" and models.data[0].owned_by == "surge"
    assert client.models.retrieve(ECHO).id == ECHO
    with pytest.raises(openai.NotFoundError) as missing:
        client.models.retrieve("plain")  # served, but it does not generate text
    assert "plain" in missing.value.body["message"]


def test_completion_returns_the_whole_text_and_usage(surge_factory, tmp_path):
    server = _serve(surge_factory, tmp_path)
    completion = _client(server).completions.create(model=ECHO, prompt="abcd", max_tokens=10, temperature=0)

    assert completion.object == "text_completion" and completion.model == ECHO
    assert len(completion.choices) == 1
    assert completion.choices[0].text == echo_text("abcd", 10) == "abcdabcdab"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.prompt_tokens == 5
    assert completion.usage.completion_tokens == 10
    assert completion.usage.total_tokens == 15


def test_completion_default_max_tokens_is_openais(surge_factory, tmp_path):
    # OpenAI's completions default is 16 tokens, whatever the model's default.
    server = _serve(surge_factory, tmp_path, default_max_tokens=4)
    completion = _client(server).completions.create(model=ECHO, prompt="xyz", temperature=0)
    assert completion.choices[0].text == echo_text("xyz", 16)


def test_completion_stream_chunks_add_up_to_the_text(surge_factory, tmp_path):
    server = _serve(surge_factory, tmp_path, step_delay_us=2000)
    stream = _client(server).completions.create(
        model=ECHO, prompt="abcd", max_tokens=10, temperature=0, stream=True
    )
    chunks = list(stream)

    assert len(chunks) > 1, "a 10-token generation with 2 ms steps came in one piece"
    assert "".join(c.choices[0].text for c in chunks) == "abcdabcdab"
    assert chunks[-1].choices[0].finish_reason == "length"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    assert len({c.id for c in chunks}) == 1


def test_chat_stream_with_usage_ends_with_a_usage_chunk_then_done(surge_factory, tmp_path):
    server = _serve(surge_factory, tmp_path, step_delay_us=1000)
    messages = [{"role": "user", "content": "abc"}]
    stream = _client(server).chat.completions.create(
        model=ECHO,
        messages=messages,
        max_tokens=7,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    usage = chunks[-1]
    assert usage.choices == [], usage
    assert (usage.usage.prompt_tokens, usage.usage.completion_tokens, usage.usage.total_tokens) == (4, 7, 11)
    content = chunks[:-1]
    assert content[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in content) == "abcabca"
    assert content[-1].choices[0].finish_reason == "length"
    assert all(c.choices[0].finish_reason is None for c in content[:-1])
    assert all(c.usage is None for c in content)
    assert all(c.object == "chat.completion.chunk" for c in chunks)

    # The same on the wire: the usage event, then [DONE], then the stream ends.
    body = {
        "model": ECHO,
        "messages": messages,
        "max_tokens": 7,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with requests.post(server.url("/v1/chat/completions"), json=body, stream=True, timeout=HTTP_TIMEOUT_S) as raw:
        events = _sse_events(raw)
    assert events[-1] == "[DONE]"
    assert events.count("[DONE]") == 1
    last = json.loads(events[-2])
    assert last["choices"] == [] and last["usage"]["completion_tokens"] == 7
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content") or "" for e in events[:-2])
    assert text == "abcabca"


def test_chat_completion_non_stream(surge_factory, tmp_path):
    server = _serve(surge_factory, tmp_path)
    reply = _client(server).chat.completions.create(
        model=ECHO, messages=[{"role": "user", "content": "pqrs"}], max_tokens=6, temperature=0
    )
    assert reply.object == "chat.completion"
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content == "pqrspq"
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage.completion_tokens == 6


def test_stop_strings_end_the_text_before_them(surge_factory, tmp_path):
    server = _serve(surge_factory, tmp_path, step_delay_us=1000)
    client = _client(server)

    # "abcd" continues "abcdabcd...": "cda" completes at the fifth token.
    completion = client.completions.create(model=ECHO, prompt="abcd", max_tokens=30, temperature=0, stop=["cda"])
    assert completion.choices[0].text == "ab"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.completion_tokens == 5

    # Streamed, the held-back "cd" is never sent; the earliest of several wins.
    stream = client.completions.create(
        model=ECHO, prompt="abcd", max_tokens=30, temperature=0, stop=["zz", "bcd"], stream=True
    )
    chunks = list(stream)
    assert "".join(c.choices[0].text for c in chunks) == "a"
    assert chunks[-1].choices[0].finish_reason == "stop"

    chat = client.chat.completions.create(
        model=ECHO, messages=[{"role": "user", "content": "abc"}], max_tokens=30, temperature=0, stop="ca"
    )
    assert chat.choices[0].message.content == "ab"
    assert chat.choices[0].finish_reason == "stop"


def test_eos_finishes_with_stop(surge_factory, tmp_path):
    server = _serve(surge_factory, tmp_path, eos_after_tokens=3)
    completion = _client(server).completions.create(model=ECHO, prompt="abcd", max_tokens=30, temperature=0)
    assert completion.choices[0].text == "abc"
    assert completion.choices[0].finish_reason == "stop"


def test_seeded_sampling_is_reproducible(surge_factory, tmp_path):
    server = _serve(surge_factory, tmp_path)
    client = _client(server)

    def sample(seed: int) -> str:
        # A high temperature makes echo_lm's tail likely, so the seed decides the text.
        return client.completions.create(
            model=ECHO, prompt="abcd", max_tokens=40, temperature=5.0, seed=seed
        ).choices[0].text

    first = sample(1234)
    assert sample(1234) == first
    assert first != echo_text("abcd", 40), "temperature 5 should leave the echo pattern somewhere in 40 tokens"


def test_bad_requests_get_clear_openai_errors(surge_factory, tmp_path):
    server = _serve(surge_factory, tmp_path, max_tokens_limit=64)
    client = _client(server)

    with pytest.raises(openai.BadRequestError) as empty:
        client.completions.create(model=ECHO, prompt="", max_tokens=5)
    assert empty.value.status_code == 400
    assert "prompt" in empty.value.body["message"]
    assert empty.value.body["type"] == "invalid_request_error"

    with pytest.raises(openai.BadRequestError) as streamed_empty:
        client.completions.create(model=ECHO, prompt="", max_tokens=5, stream=True)
    assert "prompt" in streamed_empty.value.body["message"]

    with pytest.raises(openai.BadRequestError) as too_many:
        client.completions.create(model=ECHO, prompt="abc", max_tokens=1000)
    message = too_many.value.body["message"]
    assert "max_tokens" in message and "64" in message, message

    with pytest.raises(openai.BadRequestError) as unsupported:
        client.completions.create(model=ECHO, prompt="abc", max_tokens=5, n=2)
    assert unsupported.value.body["param"] == "n"

    with pytest.raises(openai.BadRequestError) as bad_priority:
        client.completions.create(model=ECHO, prompt="abc", max_tokens=5, extra_body={"priority": 9})
    assert "priority" in bad_priority.value.body["message"]

    with pytest.raises(openai.NotFoundError) as unknown:
        client.completions.create(model="no_such_model", prompt="abc", max_tokens=5)
    assert unknown.value.status_code == 404
    assert "no_such_model" in unknown.value.body["message"]
    assert unknown.value.body["code"] == "model_not_found"

    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no_such_model", messages=[{"role": "user", "content": "abc"}])

    malformed = requests.post(
        server.url("/v1/completions"),
        data=b'{"model": "echo", "prompt": ',
        headers={"Content-Type": "application/json"},
        timeout=HTTP_TIMEOUT_S,
    )
    assert malformed.status_code == 400, malformed.text
    error = malformed.json()["error"]
    assert "JSON" in error["message"] and error["type"] == "invalid_request_error"

    # None of that cost the server anything.
    assert client.completions.create(model=ECHO, prompt="abc", max_tokens=4, temperature=0).choices[0].text == "abca"


def test_full_waiting_queue_answers_429_with_retry_after(surge_factory, tmp_path):
    server = _serve(
        surge_factory, tmp_path, max_running_sequences=1, max_queue_size=1, step_delay_us=10_000, max_context=1024
    )
    client = _client(server)

    def complete(prompt: str, max_tokens: int) -> str:
        completion = client.completions.create(model=ECHO, prompt=prompt, max_tokens=max_tokens, temperature=0)
        return completion.choices[0].text

    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(complete, "abcdef", 200)  # about 2 s of 10 ms steps
        wait_until(lambda: _generation_metric(server, "surge_generation_running_sequences") >= 1, "one running")
        waiting = pool.submit(complete, "uvwxyz", 5)
        wait_until(lambda: _generation_metric(server, "surge_generation_waiting_sequences") >= 1, "one waiting")

        with pytest.raises(openai.RateLimitError) as full:
            complete("ghijk", 5)
        assert full.value.status_code == 429
        retry_after = full.value.response.headers.get("Retry-After")
        assert retry_after is not None and retry_after.isdigit() and int(retry_after) >= 1, full.value.response.headers
        assert "max_queue_size" in full.value.body["message"]
        assert full.value.body["type"] == "rate_limit_error"

        assert running.result(HTTP_TIMEOUT_S) == echo_text("abcdef", 200)
        assert waiting.result(HTTP_TIMEOUT_S) == "uvwxy"


# ---------------------------------------------------------------------------
# KServe generate extension and /infer


def test_kserve_generate_returns_the_text(surge_factory, tmp_path):
    server = _serve(surge_factory, tmp_path)
    response = requests.post(
        server.url(f"/v2/models/{ECHO}/generate"),
        json={"text_input": "abcd", "parameters": {"max_tokens": 10, "temperature": 0}},
        timeout=HTTP_TIMEOUT_S,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["text_output"] == "abcdabcdab"
    assert body["finish_reason"] == "length"
    assert body["model_name"] == ECHO and body["model_version"] == "1"

    # Sampling fields may also sit beside text_input, and stop strings apply.
    response = requests.post(
        server.url(f"/v2/models/{ECHO}/generate"),
        json={"text_input": "wxyz", "max_tokens": 12, "temperature": 0, "stop": "zw"},
        timeout=HTTP_TIMEOUT_S,
    )
    assert response.status_code == 200, response.text
    assert response.json()["text_output"] == "wxy"
    assert response.json()["finish_reason"] == "stop"


def test_kserve_generate_stream_sends_events_that_add_up(surge_factory, tmp_path):
    server = _serve(surge_factory, tmp_path, step_delay_us=2000)
    body = {"id": "req-7", "text_input": "abcd", "parameters": {"max_tokens": 10, "temperature": 0}}
    with requests.post(
        server.url(f"/v2/models/{ECHO}/generate_stream"), json=body, stream=True, timeout=HTTP_TIMEOUT_S
    ) as response:
        events = [json.loads(e) for e in _sse_events(response)]

    assert len(events) > 1
    assert "".join(e["text_output"] for e in events) == "abcdabcdab"
    assert events[-1]["finish_reason"] == "length"
    assert all("finish_reason" not in e for e in events[:-1])
    assert all(e["id"] == "req-7" and e["model_name"] == ECHO for e in events)


def test_kserve_generate_bad_requests(surge_factory, tmp_path):
    repository = tmp_path / "models"
    write_model(repository, ECHO, echo_lm_config(ECHO))
    write_model(repository, "plain", identity_config("plain"))
    server = surge_factory(repository)

    def generate(model: str, body) -> requests.Response:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return requests.post(server.url(f"/v2/models/{model}/generate"), data=data, timeout=HTTP_TIMEOUT_S)

    missing = generate(ECHO, {"parameters": {"max_tokens": 3}})
    assert missing.status_code == 400 and "text_input" in error_message(missing)
    malformed = generate(ECHO, b"{not json")
    assert malformed.status_code == 400 and "JSON" in error_message(malformed)
    wrong_type = generate(ECHO, {"text_input": "abc", "parameters": {"temperature": "hot"}})
    assert wrong_type.status_code == 400 and "temperature" in error_message(wrong_type)
    empty = generate(ECHO, {"text_input": ""})
    assert empty.status_code == 400 and "prompt" in error_message(empty)
    not_generative = generate("plain", {"text_input": "abc"})
    assert not_generative.status_code == 400 and "plain" in error_message(not_generative)
    unknown = generate("no_such_model", {"text_input": "abc"})
    assert unknown.status_code == 404


def test_deeply_nested_bodies_are_refused_and_the_server_lives_on(surge_factory, tmp_path):
    """A million nested arrays (2 MB) exhausted the stack of the recursive JSON
    parser the generate and OpenAI routes used, and the server crashed."""
    server = _serve(surge_factory, tmp_path)
    nested = b"[" * 1_000_000 + b"]" * 1_000_000
    generate = requests.post(server.url(f"/v2/models/{ECHO}/generate"),
                             data=b'{"text_input": ' + nested + b"}", timeout=HTTP_TIMEOUT_S)
    assert generate.status_code == 400, generate.text[:500]
    # The OpenAI routes refuse bodies past what their largest context needs
    # (256 KiB here) unread; 120,000 levels fit under that bound.
    nested = b"[" * 120_000 + b"]" * 120_000
    completion = requests.post(server.url("/v1/completions"), data=b'{"model": "echo", "prompt": ' + nested + b"}",
                               timeout=HTTP_TIMEOUT_S)
    assert completion.status_code == 400 and completion.json()["error"]["param"] == "prompt", completion.text[:500]
    chat = requests.post(server.url("/v1/chat/completions"), data=nested, timeout=HTTP_TIMEOUT_S)
    assert chat.status_code == 400, chat.text[:500]
    assert requests.get(server.url("/v2/health/live"), timeout=HTTP_TIMEOUT_S).status_code == 200


def test_http_infer_on_a_decoupled_model_names_the_alternatives(surge_factory, tmp_path):
    server = _serve(surge_factory, tmp_path)
    body = {"inputs": [{"name": "text_input", "shape": [1], "datatype": "BYTES", "data": ["abc"]}]}
    response = post_infer(server, ECHO, body)
    assert response.status_code == 400, response.text
    message = error_message(response)
    assert "/generate" in message and "/generate_stream" in message and "OpenAI" in message, message


# ---------------------------------------------------------------------------
# The continuous batcher behind the endpoints


def test_client_disconnect_stops_the_generation(surge_factory, tmp_path):
    server = _serve(surge_factory, tmp_path, step_delay_us=20_000, max_context=8192)
    body = json.dumps(
        {"model": ECHO, "prompt": "abcdef", "max_tokens": 5000, "temperature": 0, "stream": True}
    ).encode()
    with socket.create_connection((server.host, server.http_port), timeout=HTTP_TIMEOUT_S) as sock:
        sock.sendall(raw_http_request(server, "POST", "/v1/completions", body, {"Content-Type": "application/json"}))
        received = b""
        while received.count(b"data: ") < 3:
            data = sock.recv(4096)
            assert data, f"the server closed the stream early: {received[-500:]!r}"
            received += data
    assert received.startswith(b"HTTP/1.1 200"), received[:200]

    # Closed: within a step or two the sequence is retired and its slot freed.
    wait_until(lambda: _generation_metric(server, "surge_generation_running_sequences") == 0, "no running sequence")
    before = _generation_metric(server, "surge_generation_tokens_total")
    time.sleep(0.3)  # a window of 15 steps in which a live sequence would generate
    after = _generation_metric(server, "surge_generation_tokens_total")
    assert after - before <= 1, f"{after - before} tokens generated after the client left"
    assert after < 200, f"{after} tokens generated for a client that left after 3"

    # The server goes on serving.
    completion = _client(server).completions.create(model=ECHO, prompt="xyz", max_tokens=4, temperature=0)
    assert completion.choices[0].text == "xyzx"


def test_higher_priority_request_preempts_and_the_paused_one_completes(surge_factory, tmp_path):
    server = _serve(
        surge_factory, tmp_path, max_running_sequences=1, priority_levels=2, step_delay_us=10_000, max_context=1024
    )
    low_prompt, low_tokens = "lmnopq", 150  # about 1.5 s alone
    low_started = threading.Event()
    low = {"text": "", "finish_reason": None, "finished_at": None}

    def stream_low():
        stream = _client(server).completions.create(
            model=ECHO, prompt=low_prompt, max_tokens=low_tokens, temperature=0, stream=True, extra_body={"priority": 2}
        )
        for chunk in stream:
            low["text"] += chunk.choices[0].text
            low["finish_reason"] = chunk.choices[0].finish_reason or low["finish_reason"]
            low_started.set()
        low["finished_at"] = time.monotonic()

    with ThreadPoolExecutor(1) as pool:
        low_done = pool.submit(stream_low)
        assert low_started.wait(HTTP_TIMEOUT_S), "the low-priority stream sent nothing"
        assert _generation_metric(server, "surge_generation_preemptions_total") == 0

        high = _client(server).completions.create(
            model=ECHO, prompt="HIJK", max_tokens=10, temperature=0, extra_body={"priority": 1}
        )
        high_finished_at = time.monotonic()
        assert high.choices[0].text == "HIJKHIJKHI"
        assert high.choices[0].finish_reason == "length"
        assert low["finished_at"] is None, "the low-priority stream finished before the high-priority request"
        assert _generation_metric(server, "surge_generation_preemptions_total") == 1

        low_done.result(HTTP_TIMEOUT_S)

    assert low["finished_at"] > high_finished_at
    assert low["text"] == echo_text(low_prompt, low_tokens)
    assert low["finish_reason"] == "length"


def test_concurrent_streams_are_batched_and_all_complete(surge_factory, tmp_path):
    streams = 16
    server = _serve(
        surge_factory, tmp_path, max_running_sequences=16, kv_slots=16, step_delay_us=5000, max_context=256
    )
    letters = string.ascii_letters
    prompts = [letters[i : i + 3 + i % 4] for i in range(streams)]
    start = threading.Barrier(streams)

    def run(prompt: str) -> tuple[str, str | None]:
        client = _client(server)
        start.wait(timeout=HTTP_TIMEOUT_S)
        stream = client.chat.completions.create(
            model=ECHO, messages=[{"role": "user", "content": prompt}], max_tokens=40, temperature=0, stream=True
        )
        text, reason = "", None
        for chunk in stream:
            text += chunk.choices[0].delta.content or ""
            reason = chunk.choices[0].finish_reason or reason
        return text, reason

    with ThreadPoolExecutor(streams) as pool:
        results = list(pool.map(run, prompts))

    for prompt, (text, reason) in zip(prompts, results):
        assert text == echo_text(prompt, 40), prompt
        assert reason == "length"

    samples = server.metrics()
    steps = metric_sum(samples, "surge_generation_step_sequences_count", model=ECHO)
    single = metric_sum(samples, "surge_generation_step_sequences_bucket", model=ECHO, le="1")
    assert steps and single is not None
    assert steps - single > 0, f"all {steps:.0f} steps decoded a single sequence"
    decoded = metric_sum(samples, "surge_generation_step_sequences_sum", model=ECHO)
    assert decoded / steps > 1.5, f"{decoded:.0f} sequence-steps in {steps:.0f} steps"
    assert _generation_metric(server, "surge_generation_running_sequences") == 0


# ---------------------------------------------------------------------------
# The demo language model


KJV_WORDS = {
    "the", "and", "of", "created", "heaven", "heavens", "earth", "god", "lord", "unto", "was", "that", "he", "in",
    "said", "his", "light", "made", "waters", "upon", "face", "spirit", "darkness", "day", "let", "there", "be",
}  # fmt: skip


def test_kjv_lm_continues_genesis(demo_repository, request):
    if not (demo_repository / "kjv_lm").is_dir():
        pytest.skip(f"{demo_repository / 'kjv_lm'} is absent: the demo language model is not in this repository")
    server = request.getfixturevalue("surge")
    client = _client(server)
    assert "kjv_lm" in [m.id for m in client.models.list().data]

    completion = client.completions.create(model="kjv_lm", prompt="In the beginning God", max_tokens=24, temperature=0)
    choice = completion.choices[0]
    assert choice.finish_reason in ("length", "stop")
    words = re.findall(r"[a-z]+", choice.text.lower())
    assert any(word in KJV_WORDS for word in words), f"no recognisable word in {choice.text!r}"
    assert completion.usage.completion_tokens >= 1


def _grpc_stream_text(server: SurgeServer, prompt: str, parameters: dict) -> tuple[str, list]:
    """Streams one generation over gRPC ModelStreamInfer; returns the text and any errors."""
    import numpy as np
    import tritonclient.grpc as grpcclient

    pieces: list[str] = []
    errors: list = []
    done = threading.Event()

    def on_response(result, error):
        if error is not None:
            errors.append(error)
            done.set()
            return
        response = result.get_response()
        if response.parameters.get("triton_final_response") and response.parameters["triton_final_response"].bool_param:
            done.set()
            return
        pieces.append(result.as_numpy("text_output")[0].decode())

    client = grpcclient.InferenceServerClient(server.grpc_url)
    client.start_stream(callback=on_response)
    text_input = grpcclient.InferInput("text_input", [1], "BYTES")
    text_input.set_data_from_numpy(np.array([prompt.encode()], dtype=object))
    client.async_stream_infer(ECHO, [text_input], parameters=parameters, enable_empty_final_response=True)
    assert done.wait(HTTP_TIMEOUT_S), "no final response on the gRPC stream"
    client.stop_stream()
    client.close()
    return "".join(pieces), errors


def test_grpc_stream_infer_streams_the_generation_with_sampling_parameters(surge_factory, tmp_path):
    server = _serve(surge_factory, tmp_path)
    text, errors = _grpc_stream_text(server, "abc", {"max_tokens": 7, "temperature": 0})
    assert not errors
    assert text == echo_text("abc", 7)

    # A bad parameter is answered on the stream with a message naming it.
    text, errors = _grpc_stream_text(server, "abc", {"max_tokens": 100_000})
    assert errors and "max_tokens" in str(errors[0]), errors


def test_grpc_stream_cancel_stops_the_generation(surge_factory, tmp_path):
    import numpy as np
    import tritonclient.grpc as grpcclient

    server = _serve(surge_factory, tmp_path, step_delay_us=20_000, max_context=8192)
    received = threading.Event()

    def on_response(result, error):
        received.set()

    client = grpcclient.InferenceServerClient(server.grpc_url)
    client.start_stream(callback=on_response)
    text_input = grpcclient.InferInput("text_input", [1], "BYTES")
    text_input.set_data_from_numpy(np.array([b"abcdef"], dtype=object))
    client.async_stream_infer(ECHO, [text_input], parameters={"max_tokens": 5000, "temperature": 0})
    assert received.wait(HTTP_TIMEOUT_S), "no token arrived"
    client.stop_stream(cancel_requests=True)
    client.close()

    wait_until(lambda: _generation_metric(server, "surge_generation_running_sequences") == 0, "no running sequence")
    before = _generation_metric(server, "surge_generation_tokens_total")
    time.sleep(0.3)
    after = _generation_metric(server, "surge_generation_tokens_total")
    assert after - before <= 1, f"{after - before} tokens generated after the stream was cancelled"
    assert after < 1000, f"{after} tokens generated for a cancelled stream"
