"""Locust load test: many concurrent users streaming OpenAI completions.

Each user sends one streamed request after another (`stream: true`,
`stream_options.include_usage: true`) to /v1/chat/completions (or
/v1/completions with --completions), reads the Server-Sent Events as they
arrive, and reports two custom request types to Locust's statistics:

  SSE ttft     time from sending the request to the first event with text
  SSE stream   time from sending the request to `data: [DONE]` (the full response);
               its "size" is the number of generated tokens (the usage chunk's
               completion_tokens, or the events with text when the server sends none)

An HTTP error status, an error event in the stream, or a stream that ends
without [DONE] is a failure of "stream" with the reason. At the end, the
generated tokens and tokens per second over the run are printed and, with
--summary-json PATH, written as JSON.

    locust -f bench/locust/locustfile.py --host http://127.0.0.1:8000 \
        --headless -u 300 -r 50 -t 60s --model kjv_lm --max-tokens 64

bench/locust/run.sh does that with the defaults used in docs/benchmarks.md.
Users are gevent greenlets; requests' socket I/O is cooperative under
Locust's monkey-patching, so hundreds of streams run in one process.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from pathlib import Path

import requests
from locust import User, between, events, task

_totals_lock = threading.Lock()
_totals = {"tokens": 0, "streams": 0, "failed": 0, "without_text": 0, "started": None, "stopped": None}


@events.init_command_line_parser.add_listener
def _add_arguments(parser):
    group = parser.add_argument_group("surge streaming")
    group.add_argument("--model", default="kjv_lm", help="Model to ask (default kjv_lm)")
    group.add_argument("--max-tokens", type=int, default=64, help="max_tokens per request")
    group.add_argument(
        "--max-tokens-min", type=int, default=0,
        help="When > 0, each request draws max_tokens uniformly from [max-tokens-min, max-tokens]",
    )
    group.add_argument("--prompt", default="In the beginning", help="Prompt of every request")
    group.add_argument("--prompt-file", default="", help="Prompts, one per line; each request draws one")
    group.add_argument("--completions", action="store_true", default=False, help="/v1/completions instead of chat")
    group.add_argument("--temperature", type=float, default=None, help="Sampling temperature (default: the server's)")
    group.add_argument("--request-timeout", type=float, default=120.0, help="Seconds per request")
    group.add_argument("--summary-json", default="", help="Write the token totals here at the end")


def _prompts(options) -> list[str]:
    if options.prompt_file:
        lines = [line.rstrip("\r") for line in Path(options.prompt_file).read_text().split("\n")]
        prompts = [line for line in lines if line]
        if not prompts:
            raise SystemExit(f"--prompt-file {options.prompt_file} holds no prompt")
        return prompts
    return [options.prompt]


_LINE_END = re.compile(rb"\r\n|\r|\n")


class _SseLines:
    """Splits a byte stream into lines (CRLF, LF or CR) as it arrives, whatever the split."""

    def __init__(self) -> None:
        self.pending = b""
        self.after_cr = False

    def feed(self, data: bytes) -> list[str]:
        if self.after_cr and data.startswith(b"\n"):
            data = data[1:]  # the LF of a CRLF whose CR ended the last piece
        self.after_cr = data.endswith(b"\r")
        *lines, self.pending = _LINE_END.split(self.pending + data)
        return [line.decode("utf-8", errors="replace") for line in lines]


def _event_data(lines: list[str]) -> str | None:
    """The data of one SSE event from its lines (None when it has no data field)."""
    data = None
    for line in lines:
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            data = value if data is None else data + "\n" + value
    return data


class StreamingUser(User):
    """One client with its own keep-alive connection, streaming back to back."""

    wait_time = between(0, 0)

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self.options = options
        self.prompts = _prompts(options)
        self.session = requests.Session()
        self.url = self.host.rstrip("/") + ("/v1/completions" if options.completions else "/v1/chat/completions")
        self.random = random.Random()

    def on_stop(self) -> None:
        self.session.close()

    def _body(self) -> dict:
        options = self.options
        prompt = self.random.choice(self.prompts)
        max_tokens = options.max_tokens
        if options.max_tokens_min > 0:
            max_tokens = self.random.randint(min(options.max_tokens_min, options.max_tokens), options.max_tokens)
        body = {
            "model": options.model,
            "max_tokens": max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if options.completions:
            body["prompt"] = prompt
        else:
            body["messages"] = [{"role": "user", "content": prompt}]
        if options.temperature is not None:
            body["temperature"] = options.temperature
        return body

    def _fire(self, name: str, started: float, elapsed_s: float, length: int, exception: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type="SSE",
            name=name,
            start_time=started,
            response_time=elapsed_s * 1000.0,
            response_length=length,
            response=None,
            context={},
            exception=exception,
            url=self.url,
        )

    @task
    def stream(self) -> None:
        started_wall = time.time()
        started = time.perf_counter()
        first_text_at = None
        text_events = 0
        usage_tokens = None
        done = False
        error = None
        try:
            with self.session.post(
                self.url, json=self._body(), stream=True, timeout=self.options.request_timeout
            ) as response:
                if response.status_code != 200:
                    raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
                splitter = _SseLines()
                lines: list[str] = []
                # chunk_size=None yields each piece as it arrives, so events are timed when they land.
                for piece in response.iter_content(chunk_size=None, decode_unicode=False):
                    for line in splitter.feed(piece):
                        if line:
                            lines.append(line)
                            continue
                        data = _event_data(lines)
                        lines = []
                        if data is None:
                            continue
                        if done:
                            raise RuntimeError("an event after [DONE]")
                        if data == "[DONE]":
                            done = True
                            continue
                        chunk = json.loads(data)
                        if "error" in chunk:
                            message = chunk["error"]
                            message = message.get("message", message) if isinstance(message, dict) else message
                            raise RuntimeError(f"error event: {message}")
                        usage = chunk.get("usage")
                        if usage and usage.get("completion_tokens") is not None:
                            usage_tokens = int(usage["completion_tokens"])
                        choices = chunk.get("choices") or []
                        if choices:
                            choice = choices[0]
                            text = choice.get("text")
                            if text is None:
                                text = (choice.get("delta") or {}).get("content")
                            if text:
                                text_events += 1
                                if first_text_at is None:
                                    first_text_at = time.perf_counter()
                if not done:
                    raise RuntimeError("the stream ended without data: [DONE]")
        except Exception as e:  # every failure is reported to Locust, never raised into the user loop
            error = e
        finished = time.perf_counter()
        tokens = usage_tokens if usage_tokens is not None else text_events
        if first_text_at is not None:
            self._fire("ttft", started_wall, first_text_at - started, 0, None)
        self._fire("stream", started_wall, finished - started, tokens if error is None else 0, error)
        with _totals_lock:
            if _totals["started"] is None:
                _totals["started"] = started
            _totals["stopped"] = finished
            if error is None:
                _totals["tokens"] += tokens
                _totals["streams"] += 1
                _totals["without_text"] += first_text_at is None
            else:
                _totals["failed"] += 1


@events.test_stop.add_listener
def _report_tokens(environment, **_kwargs) -> None:
    with _totals_lock:
        totals = dict(_totals)
    seconds = (totals["stopped"] - totals["started"]) if totals["started"] is not None else 0.0
    rate = totals["tokens"] / seconds if seconds > 0 else 0.0
    ttft = environment.stats.get("ttft", "SSE")
    stream = environment.stats.get("stream", "SSE")
    summary = {
        "model": environment.parsed_options.model,
        "users": environment.parsed_options.num_users,
        "streams_ok": totals["streams"],
        "streams_failed": totals["failed"],
        "streams_without_text": totals["without_text"],
        "output_tokens": totals["tokens"],
        "seconds": round(seconds, 3),
        "output_tokens_per_s": round(rate, 1),
        "ttft_ms": {p: ttft.get_response_time_percentile(p / 100) for p in (50, 90, 99)},
        "stream_ms": {p: stream.get_response_time_percentile(p / 100) for p in (50, 90, 99)},
    }
    print(
        f"surge streaming: {totals['streams']} streams ok ({totals['without_text']} without text), "
        f"{totals['failed']} failed, {totals['tokens']} tokens "
        f"in {seconds:.1f} s = {rate:.1f} tokens/s; ttft p50/p90/p99 ms {summary['ttft_ms']}; "
        f"stream p50/p90/p99 ms {summary['stream_ms']}"
    )
    path = environment.parsed_options.summary_json
    if path:
        Path(path).write_text(json.dumps(summary, indent=2) + "\n")
