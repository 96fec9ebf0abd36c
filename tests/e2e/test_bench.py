"""`surge bench`, the load generator, against a real server: closed and open
loop, JSON and binary tensors, KServe v2 over gRPC, the JSON report's shape,
and setup failures."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

from surge_e2e import REPO_ROOT, SurgeServer, identity_config, surge_binary, write_model

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
