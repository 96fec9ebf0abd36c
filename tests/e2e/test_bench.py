"""`surge bench`, the load generator, against a real server: closed and open
loop, JSON and binary tensors, KServe v2 over gRPC, the JSON report's shape,
setup failures, and OpenAI token streaming against the echo_lm test language
model."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from surge_e2e import REPO_ROOT, SurgeServer, identity_config, model_metric, surge_binary, write_model

BENCH_TIMEOUT_S = 60.0  # a run of a few seconds; generous for a loaded machine


def run_bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(surge_binary()), "bench", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=BENCH_TIMEOUT_S,
        cwd=REPO_ROOT,
    )


def bench_json(server: SurgeServer, *args: str, grpc: bool = False) -> dict:
    """Runs `surge bench --json` against `server` (its gRPC port with `grpc`) and returns the parsed report."""
    address = ("--protocol", "grpc", "--url", server.grpc_url) if grpc else ("--url", server.http_url)
    result = run_bench("--json", *address, *args)
    assert result.returncode == 0, f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as e:
        raise AssertionError(f"stdout is not one JSON document ({e}):\n{result.stdout[:2000]}")


def assert_clean_level(level: dict) -> None:
    """Requests were measured, none failed, and the percentiles are ordered."""
    assert level["requests"] > 0, level
    assert level["successes"] == level["requests"], level
    assert level["errors"] == {"total": 0, "by_status": {}, "by_kind": {}}, level
    latency = level["latency_us"]
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["p999"] <= latency["max"], latency
    assert latency["min"] <= latency["mean"] <= latency["max"], latency
    assert level["throughput_rps"] > 0 and level["duration_s"] > 0, level


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_closed_loop_smoke(surge):
    report = bench_json(
        surge, "--model", "identity_fp32", "--duration", "2s", "--warmup", "0s", "--concurrency", "4"
    )
    assert report["tool"] == "surge bench"
    assert report["command_line"].split()[1:3] == ["bench", "--json"]
    assert report["machine"]["logical_cpus"] >= 1
    assert report["target"]["model"] == "identity_fp32"
    assert report["target"]["encoding"] == "json"
    assert report["settings"]["loop"] == "closed"
    [level] = report["levels"]
    assert level["concurrency"] == 4 and level["rate_rps"] is None
    assert level["connections"] == 4
    assert_clean_level(level)
    assert level["duration_s"] >= 2.0
    assert abs(level["throughput_rps"] - level["successes"] / level["duration_s"]) < 1.0
    assert level["rows_per_s"] == level["throughput_rps"]  # one row per request


def test_binary_tensors_and_rows(surge):
    report = bench_json(
        surge, "--model", "identity_fp32", "--binary", "--rows", "8",
        "--duration", "1s", "--warmup", "0s", "--concurrency", "2",
    )
    assert report["target"]["encoding"] == "binary"
    assert report["target"]["rows_per_request"] == 8
    assert report["target"]["inputs"] == [{"name": "INPUT0", "datatype": "FP32", "shape": [8, 1]}]
    [level] = report["levels"]
    assert_clean_level(level)
    assert abs(level["rows_per_s"] - 8 * level["throughput_rps"]) < 0.01 * level["rows_per_s"] + 1


def test_open_loop_sends_on_schedule(surge):
    report = bench_json(
        surge, "--model", "identity_fp32", "--rate", "200", "--duration", "2s", "--warmup", "0s"
    )
    assert report["settings"]["loop"] == "open"
    [level] = report["levels"]
    assert level["rate_rps"] == 200 and level["concurrency"] is None
    assert_clean_level(level)
    # A constant schedule: one request due every 5 ms of the 2 s window.
    assert level["requests"] == 400
    assert 150 < level["throughput_rps"] <= 201
    assert level["connections"] >= 1
    assert level["send_lag_us"]["p50"] <= level["send_lag_us"]["max"]


def test_poisson_arrivals(surge):
    report = bench_json(
        surge, "--model", "identity_fp32", "--rate", "300", "--arrival", "poisson",
        "--duration", "1s", "--warmup", "0s",
    )
    [level] = report["levels"]
    assert_clean_level(level)
    assert report["settings"]["arrival"] == "poisson"
    assert 200 <= level["requests"] <= 400  # 300 expected; the standard deviation is about 17


def test_a_list_sweeps_one_level_each(surge):
    report = bench_json(
        surge, "--model", "mlp", "--rows", "4", "--concurrency", "1,3",
        "--duration", "500ms", "--warmup", "100ms",
    )
    assert [level["concurrency"] for level in report["levels"]] == [1, 3]
    for level in report["levels"]:
        assert_clean_level(level)
    assert report["target"]["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [4, 64]}]


def test_input_file_sent_as_binary(surge, tmp_path: Path):
    body = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [2, 3], "data": [1, 2, 3, 4, 5, 6]}]}
    path = tmp_path / "inputs.json"
    path.write_text(json.dumps(body))
    report = bench_json(
        surge, "--model", "identity_fp32", "--input-file", str(path), "--binary",
        "--duration", "500ms", "--warmup", "0s",
    )
    assert report["target"]["rows_per_request"] == 2
    assert report["target"]["encoding"] == "binary"
    assert report["target"]["inputs"] == [{"name": "INPUT0", "datatype": "FP32", "shape": [2, 3]}]
    assert_clean_level(report["levels"][0])


def test_table_output(surge):
    result = run_bench(
        "--url", surge.http_url, "--model", "identity_fp32", "--duration", "500ms", "--warmup", "0s",
        "--concurrency", "1,2",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["concurrency", "requests"])
    rows = [line.split() for line in lines[header + 1 : header + 3]]
    assert [row[0] for row in rows] == ["1", "2"]
    assert all(row[-1] == "0" for row in rows), lines  # errors
    assert "identity_fp32" in result.stdout and "bench --url" in result.stdout
    assert "\r" not in result.stderr  # no progress display when not on a terminal


def test_http_errors_are_reported_not_fatal(surge_factory, tmp_path: Path):
    # One slow instance and a queue of one: most of eight concurrent requests are refused with 429.
    write_model(
        tmp_path, "tiny_queue",
        identity_config("tiny_queue", max_batch_size=1, execute_delay_us=20000, max_queue_size=1),
    )
    server = surge_factory(tmp_path)
    report = bench_json(
        server, "--model", "tiny_queue", "--concurrency", "8", "--duration", "1s", "--warmup", "0s"
    )
    [level] = report["levels"]
    assert level["errors"]["by_status"].get("429", 0) > 0, level
    assert level["errors"]["total"] == level["requests"] - level["successes"]
    assert level["successes"] > 0


def test_unknown_model_is_a_setup_failure(surge):
    result = run_bench("--url", surge.http_url, "--model", "no_such_model", "--duration", "1s")
    assert result.returncode != 0
    assert "no_such_model" in result.stderr
    assert result.stdout == ""


def test_unreachable_server_is_a_setup_failure():
    result = run_bench("--url", f"http://127.0.0.1:{free_port()}", "--model", "identity_fp32", "--duration", "1s")
    assert result.returncode != 0
    assert "cannot reach" in result.stderr


def test_a_request_the_server_refuses_is_a_setup_failure(surge, tmp_path: Path):
    # identity_fp32 takes FP32; the server answers 400 to the first request, before any load.
    path = tmp_path / "wrong_type.json"
    path.write_text(json.dumps({"inputs": [{"name": "INPUT0", "datatype": "INT32", "shape": [1, 1], "data": [1]}]}))
    result = run_bench("--url", surge.http_url, "--model", "identity_fp32", "--input-file", str(path), "--duration", "1s")
    assert result.returncode != 0
    assert "first infer request with 400" in result.stderr, result.stderr


def test_shape_that_does_not_fit_the_model_is_refused(surge):
    result = run_bench("--url", surge.http_url, "--model", "mlp", "--shape", "input=1,65", "--duration", "1s")
    assert result.returncode != 0
    assert "does not fit" in result.stderr, result.stderr


# ---------------------------------------------------------------------------
# KServe v2 over gRPC


def test_grpc_closed_loop_smoke(surge):
    report = bench_json(
        surge, "--model", "identity_fp32", "--rows", "2", "--duration", "1s", "--warmup", "0s", "--concurrency", "1,4",
        grpc=True,
    )
    target = report["target"]
    assert (target["protocol"], target["url"], target["encoding"]) == ("kserve-grpc", surge.grpc_url, "raw")
    assert target["model"] == "identity_fp32" and target["version"] == "1"
    assert target["inputs"] == [{"name": "INPUT0", "datatype": "FP32", "shape": [2, 1]}]
    assert [level["concurrency"] for level in report["levels"]] == [1, 4]
    for level in report["levels"]:
        assert_clean_level(level)
        assert abs(level["rows_per_s"] - 2 * level["throughput_rps"]) < 0.01 * level["rows_per_s"] + 1


def test_grpc_open_loop_and_input_file(surge, tmp_path: Path):
    body = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [2, 4], "data": [5.1, 3.5, 1.4, 0.2] * 2}]}
    path = tmp_path / "iris.json"
    path.write_text(json.dumps(body))
    report = bench_json(
        surge, "--model", "iris", "--input-file", str(path), "--rate", "100", "--duration", "1s", "--warmup", "0s",
        grpc=True,
    )
    assert report["target"]["rows_per_request"] == 2
    [level] = report["levels"]
    assert_clean_level(level)
    assert level["requests"] == 100


def test_grpc_errors_are_reported_by_status_name(surge_factory, tmp_path: Path):
    write_model(
        tmp_path, "tiny_queue",
        identity_config("tiny_queue", max_batch_size=1, execute_delay_us=20000, max_queue_size=1),
    )
    server = surge_factory(tmp_path)
    report = bench_json(
        server, "--model", "tiny_queue", "--concurrency", "8", "--duration", "1s", "--warmup", "0s", grpc=True
    )
    [level] = report["levels"]
    assert level["errors"]["by_status"].get("UNAVAILABLE", 0) > 0, level
    assert level["errors"]["total"] == level["requests"] - level["successes"]
    assert level["successes"] > 0

    table = run_bench(
        "--protocol", "grpc", "--url", server.grpc_url, "--model", "tiny_queue", "--concurrency", "8",
        "--duration", "500ms", "--warmup", "0s",
    )
    assert table.returncode == 0, table.stderr
    assert "x gRPC UNAVAILABLE" in table.stdout, table.stdout


def test_grpc_setup_failures(surge):
    unknown = run_bench("--protocol", "grpc", "--url", surge.grpc_url, "--model", "no_such_model", "--duration", "1s")
    assert unknown.returncode == 2 and "no_such_model" in unknown.stderr and unknown.stdout == ""
    unreachable = run_bench(
        "--protocol", "grpc", "--url", f"127.0.0.1:{free_port()}", "--model", "iris", "--duration", "1s",
        "--timeout-ms", "5000",
    )
    assert unreachable.returncode == 2 and "cannot reach" in unreachable.stderr, unreachable.stderr
    binary = run_bench("--protocol", "grpc", "--url", surge.grpc_url, "--model", "iris", "--binary")
    assert binary.returncode == 2 and "--binary" in binary.stderr


# ---------------------------------------------------------------------------
# --protocol openai: streamed completions, per-token figures


def echo_lm_config(name: str, *, slots: int = 8, step_delay_us: int = 2000) -> str:
    """config.pbtxt for echo_lm, the deterministic test language model: a prompt of
    distinct bytes is repeated one byte per token, every step taking step_delay_us."""
    return "\n".join(
        [
            f'name: "{name}"',
            'backend: "echo_lm"',
            "max_batch_size: 0",
            'input [ { name: "text_input" data_type: TYPE_STRING dims: [ 1 ] } ]',
            'output [ { name: "text_output" data_type: TYPE_STRING dims: [ 1 ] } ]',
            "model_transaction_policy { decoupled: true }",
            f"generation {{ max_running_sequences: {slots} }}",
            f'parameters {{ key: "kv_slots" value {{ string_value: "{slots}" }} }}',
            f'parameters {{ key: "step_delay_us" value {{ string_value: "{step_delay_us}" }} }}',
        ]
    ) + "\n"


def assert_stream_figures(level: dict) -> None:
    """Every success streamed text, and the per-token figures are present and ordered."""
    assert level["output_tokens_per_s"] > 0, level
    assert level["output_tokens"] > 0, level
    ttft = level["time_to_first_token_us"]
    assert ttft["count"] == level["successes"], level  # each stream timed once
    assert 0 < ttft["min"] <= ttft["p50"] <= ttft["p90"] <= ttft["p99"] <= ttft["max"], ttft
    itl = level["inter_token_latency_us"]
    assert itl["count"] > 0 and itl["p50"] <= itl["p99"] <= itl["max"], itl
    tpot = level["time_per_output_token_us"]
    assert tpot["count"] > 0 and tpot["p50"] > 0, tpot
    # The first text cannot come after the end of its stream.
    assert ttft["p50"] <= level["latency_us"]["p50"] + 1, level
    assert level["streams_without_text"] == 0 and level["streams_without_usage"] == 0, level
    assert abs(level["output_tokens_per_s"] - level["output_tokens"] / level["duration_s"]) < 1.0, level


@pytest.fixture
def echo_server(surge_factory, tmp_path: Path) -> SurgeServer:
    write_model(tmp_path, "echo", echo_lm_config("echo"))
    return surge_factory(tmp_path)


def test_openai_streaming_smoke(echo_server: SurgeServer):
    before = model_metric(echo_server.metrics(), "surge_generation_tokens_total", "echo") or 0.0
    report = bench_json(
        echo_server, "--protocol", "openai", "--model", "echo", "--prompt", "abcdefgh",
        "--max-tokens-range", "4:12", "--concurrency", "4", "--duration", "1s", "--warmup", "0s",
    )
    assert report["target"]["protocol"] == "openai"
    assert report["target"]["encoding"] == "sse"
    generation = report["target"]["generation"]
    assert generation["endpoint"] == "/v1/completions"
    assert (generation["max_tokens_min"], generation["max_tokens_max"]) == (4, 12)
    assert generation["usage_reported"] is True
    [level] = report["levels"]
    assert_clean_level(level)
    assert_stream_figures(level)
    # echo_lm never stops on its own here: each stream is its max_tokens long.
    assert 4 * level["successes"] <= level["output_tokens"] <= 12 * level["successes"], level
    # The server generated at least what the client counted (it also served the probe).
    after = model_metric(echo_server.metrics(), "surge_generation_tokens_total", "echo")
    assert after - before >= level["output_tokens"], (before, after, level["output_tokens"])


def test_openai_chat_open_loop(echo_server: SurgeServer):
    report = bench_json(
        echo_server, "--protocol", "openai", "--chat", "--model", "echo", "--prompt", "xyz",
        "--max-tokens", "6", "--temperature", "0", "--rate", "20", "--duration", "1s", "--warmup", "0s",
    )
    assert report["target"]["generation"]["endpoint"] == "/v1/chat/completions"
    [level] = report["levels"]
    assert level["rate_rps"] == 20 and level["requests"] == 20
    assert_clean_level(level)
    assert_stream_figures(level)
    assert level["output_tokens"] == 6 * level["successes"]


def test_openai_table_output(echo_server: SurgeServer):
    result = run_bench(
        "--url", echo_server.http_url, "--protocol", "openai", "--model", "echo", "--max-tokens", "4",
        "--concurrency", "2", "--duration", "500ms", "--warmup", "0s",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:4] == ["concurrency", "requests", "req/s", "tok/s"])
    row = lines[header + 1].split()
    assert row[0] == "2" and float(row[3]) > 0 and row[-1] == "0", lines
    assert "POST /v1/completions, streamed" in result.stdout


def test_openai_unknown_model_is_a_setup_failure(echo_server: SurgeServer):
    result = run_bench("--url", echo_server.http_url, "--protocol", "openai", "--model", "nope", "--duration", "1s")
    assert result.returncode == 2
    assert "no text-generation model 'nope'" in result.stderr and "echo" in result.stderr, result.stderr
    assert result.stdout == ""


def test_openai_flags_need_the_openai_protocol():
    for protocol in ("http", "grpc"):
        result = run_bench("--protocol", protocol, "--model", "identity_fp32", "--max-tokens", "8", "--duration", "1s")
        assert result.returncode == 2
        assert "apply to --protocol openai" in result.stderr, result.stderr


def test_kserve_flags_are_refused_with_the_openai_protocol():
    result = run_bench("--protocol", "openai", "--model", "echo", "--binary", "--duration", "1s")
    assert result.returncode == 2
    assert "not --protocol openai" in result.stderr, result.stderr
