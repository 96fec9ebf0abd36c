"""The numbers both sides of the Redis Streams contract assume are defined once
for the C++ side: the worker_pool defaults in src/config/worker_pool_defaults.hpp,
the stream caps in src/streams/limits.hpp. The Python SDK keeps its own copies
(clients/python/surge_client/protocol.py), and the config schema and the docs
state them in prose: these tests read the headers and hold the others equal to
them, so changing a default in one place and not the others fails here. Needs
no server."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

from surge_e2e import REPO_ROOT

HEADERS = (REPO_ROOT / "src" / "config" / "worker_pool_defaults.hpp", REPO_ROOT / "src" / "streams" / "limits.hpp")
KEYS_HEADER = REPO_ROOT / "src" / "streams" / "keys.hpp"
PROTOCOL_PY = REPO_ROOT / "clients" / "python" / "surge_client" / "protocol.py"
PROTO = REPO_ROOT / "src" / "config" / "model_config.proto"
CONFIGURATION_MD = REPO_ROOT / "docs" / "configuration.md"
REDIS_STREAMS_MD = REPO_ROOT / "docs" / "redis-streams.md"
SDK_README = REPO_ROOT / "clients" / "python" / "README.md"

# `inline constexpr <type> <name>{<integer>};` or `... <name> = <integer>;`
_CONSTANT = re.compile(r"inline\s+constexpr\s+[\w:<>]+\s+(\w+)\s*(?:\{\s*(\d+)\s*\}|=\s*(\d+)\s*;)")


def cpp_constants(header: Path) -> dict[str, int]:
    constants = {m.group(1): int(m.group(2) or m.group(3)) for m in _CONSTANT.finditer(header.read_text())}
    assert constants, f"no integer constants found in {header}"
    return constants


@pytest.fixture(scope="module")
def cpp() -> dict[str, int]:
    constants = {}
    for header in HEADERS:
        constants |= cpp_constants(header)
    return constants


@pytest.fixture(scope="module")
def sdk():
    # Loaded from its file alone: protocol.py needs nothing outside the
    # standard library, unlike the rest of the SDK.
    name = "surge_protocol_under_test"
    spec = importlib.util.spec_from_file_location(name, PROTOCOL_PY)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[name]


def test_the_headers_parse_into_every_shared_default(cpp):
    for name in ("default_heartbeat", "default_claim_idle", "default_max_deliveries", "live_heartbeats",
                 "stalled_claim_idles", "reply_stream_max_length", "dead_letter_max_length"):
        assert name in cpp, f"{name} is missing from {[str(h) for h in HEADERS]} (or no longer parses)"


def test_python_sdk_defaults_equal_the_cpp_ones(cpp, sdk):
    pairs = {
        "DEFAULT_HEARTBEAT_MS": "default_heartbeat",
        "DEFAULT_CLAIM_IDLE_MS": "default_claim_idle",
        "DEFAULT_MAX_DELIVERIES": "default_max_deliveries",
        "LIVE_HEARTBEATS": "live_heartbeats",
        "REPLY_MAXLEN": "reply_stream_max_length",
    }
    for python_name, cpp_name in pairs.items():
        assert getattr(sdk, python_name) == cpp[cpp_name], (
            f"{PROTOCOL_PY.name}: {python_name} = {getattr(sdk, python_name)}, "
            f"but the C++ headers have {cpp_name} = {cpp[cpp_name]}")


def test_python_sdk_consumer_group_equals_the_cpp_one(sdk):
    group = re.search(r'consumer_group\s*=\s*"([^"]+)"', KEYS_HEADER.read_text())
    assert group, f"no consumer_group in {KEYS_HEADER}"
    assert sdk.GROUP == group.group(1)


def _comment_above(proto: str, field: str) -> str:
    """The // comment lines directly above `<type> <field> = <n>;` in the proto."""
    lines = proto.splitlines()
    at = next(i for i, line in enumerate(lines) if re.match(rf"\s*\w+\s+{field}\s*=\s*\d+;", line))
    comment = []
    for line in reversed(lines[:at]):
        if not line.strip().startswith("//"):
            break
        comment.insert(0, line.strip()[2:].strip())
    return " ".join(comment)


def test_the_config_schema_states_the_defaults(cpp):
    proto = PROTO.read_text()
    for field, cpp_name in (("heartbeat_ms", "default_heartbeat"), ("claim_idle_ms", "default_claim_idle"),
                            ("max_deliveries", "default_max_deliveries")):
        comment = _comment_above(proto, field)
        assert f"0: {cpp[cpp_name]}." in comment, f"model_config.proto, {field}: {comment!r}"
    assert f"silent for {cpp['live_heartbeats']} heartbeats" in _comment_above(proto, "heartbeat_ms")


def test_the_docs_state_the_defaults(cpp):
    configuration = CONFIGURATION_MD.read_text()
    for field, cpp_name in (("heartbeat_ms", "default_heartbeat"), ("claim_idle_ms", "default_claim_idle"),
                            ("max_deliveries", "default_max_deliveries")):
        value = cpp[cpp_name]
        assert re.search(rf"^\s*{field}: {value}\s+#.*; 0: {value}$", configuration, re.M), (
            f"docs/configuration.md: the worker_pool example's {field} line should show {value}")
    streams = REDIS_STREAMS_MD.read_text()
    assert f"`worker_pool.heartbeat_ms`,\n   default {cpp['default_heartbeat']})" in streams
    assert f"older than {cpp['live_heartbeats']} heartbeats is not live" in streams
    assert f"<now - {cpp['live_heartbeats']} heartbeats>" in streams
    assert f"`{cpp['stalled_claim_idles']} × claim_idle_ms`" in streams
    assert f"MAXLEN ~ {cpp['reply_stream_max_length']} *" in streams
    readme = SDK_README.read_text()
    assert f"MAXLEN ~ {cpp['reply_stream_max_length']}`" in readme
    assert f"within {cpp['live_heartbeats']} heartbeats" in readme
