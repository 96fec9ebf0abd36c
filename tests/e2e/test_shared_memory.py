"""Triton's system shared memory extension, over HTTP and gRPC, driven by
tritonclient: a client registers POSIX shared memory regions, sends an
input's bytes in one and has an output written into another.

Regions and keys are named after the test and the process, so that runs
and tests never meet; every test unregisters and destroys what it made.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import numpy as np
import pytest
import requests
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
import tritonclient.utils.shared_memory as shm
from tritonclient.utils import InferenceServerException

from surge_e2e import HTTP_TIMEOUT_S

MODEL = "identity_fp32"
SHAPE = [1, 16]
BYTE_SIZE = 16 * 4
RPC_TIMEOUT_S = 30.0
PROTOCOLS = ["http", "grpc"]
INVALID = {"http": "400", "grpc": "StatusCode.INVALID_ARGUMENT"}

_counter = 0


def _unique(what: str) -> str:
    global _counter
    _counter += 1
    return f"surge_e2e_{os.getpid()}_{_counter}_{what}"


class _Protocol:
    """One protocol's client and tensor classes, so that a test reads the same for both."""

    def __init__(self, surge, protocol: str):
        self.name = protocol
        if protocol == "http":
            self.module = httpclient
            self.client = surge.client()
        else:
            self.module = grpcclient
            self.client = grpcclient.InferenceServerClient(surge.grpc_url)

    def close(self) -> None:
        self.client.close()

    def register(self, name: str, key: str, byte_size: int, offset: int = 0) -> None:
        if self.name == "http":
            self.client.register_system_shared_memory(name, key, byte_size, offset=offset)
        else:
            self.client.register_system_shared_memory(name, key, byte_size, offset=offset, client_timeout=RPC_TIMEOUT_S)

    def unregister(self, name: str = "") -> None:
        self.client.unregister_system_shared_memory(name)

    def status(self, name: str = "") -> dict[str, dict]:
        """name -> {"key", "offset", "byte_size"} of the registered regions."""
        if self.name == "http":
            regions = self.client.get_system_shared_memory_status(region_name=name)
            return {r["name"]: {"key": r["key"], "offset": int(r["offset"]), "byte_size": int(r["byte_size"])} for r in regions}
        status = self.client.get_system_shared_memory_status(region_name=name, client_timeout=RPC_TIMEOUT_S)
        return {
            region_name: {"key": r.key, "offset": int(r.offset), "byte_size": int(r.byte_size)}
            for region_name, r in status.regions.items()
        }

    def infer(self, inputs, outputs):
        if self.name == "http":
            return self.client.infer(MODEL, inputs, outputs=outputs)
        return self.client.infer(MODEL, inputs, outputs=outputs, client_timeout=RPC_TIMEOUT_S)

    def shared_input(self, region: str, byte_size: int = BYTE_SIZE, offset: int = 0):
        tensor = self.module.InferInput("INPUT0", SHAPE, "FP32")
        tensor.set_shared_memory(region, byte_size, offset=offset)
        return tensor

    def plain_input(self, values: np.ndarray):
        tensor = self.module.InferInput("INPUT0", list(values.shape), "FP32")
        tensor.set_data_from_numpy(values)
        return tensor

    def shared_output(self, region: str, byte_size: int = BYTE_SIZE):
        output = self.module.InferRequestedOutput("OUTPUT0")
        output.set_shared_memory(region, byte_size)
        return output


@pytest.fixture(params=PROTOCOLS)
def protocol(request, surge):
    p = _Protocol(surge, request.param)
    yield p
    p.close()


@contextmanager
def _regions(*sizes: int):
    """Creates one shared memory object per size; yields (name, key, handle) for each."""
    made = []
    try:
        for size in sizes:
            name = _unique("region")
            key = "/" + _unique("key")
            made.append((name, key, shm.create_shared_memory_region(name, key, size, create_only=True)))
        yield made
    finally:
        for _, _, handle in made:
            shm.destroy_shared_memory_region(handle)


def _output_region(result) -> tuple[str, int]:
    """(shared_memory_region, shared_memory_byte_size) of OUTPUT0 in an infer response."""
    output = result.get_output("OUTPUT0")
    assert output is not None
    if isinstance(output, dict):  # HTTP
        assert "data" not in output, output
        parameters = output.get("parameters", {})
        return parameters.get("shared_memory_region"), int(parameters.get("shared_memory_byte_size", -1))
    parameters = output.parameters
    # raw_output_contents stays in step with outputs: an entry, if any, is empty.
    assert all(raw == b"" for raw in result.get_response().raw_output_contents), "the output came in the response too"
    return parameters["shared_memory_region"].string_param, int(parameters["shared_memory_byte_size"].int64_param)


def _values() -> np.ndarray:
    return (np.arange(16, dtype=np.float32).reshape(SHAPE) - 4.5) * 1.25


def test_input_and_output_through_shared_memory(protocol):
    values = _values()
    with _regions(BYTE_SIZE, BYTE_SIZE) as ((in_name, in_key, in_handle), (out_name, out_key, out_handle)):
        shm.set_shared_memory_region(in_handle, [values])
        try:
            protocol.register(in_name, in_key, BYTE_SIZE)
            protocol.register(out_name, out_key, BYTE_SIZE)
            status = protocol.status()
            assert status[in_name] == {"key": in_key, "offset": 0, "byte_size": BYTE_SIZE}, status
            assert status[out_name] == {"key": out_key, "offset": 0, "byte_size": BYTE_SIZE}, status
            assert set(protocol.status(in_name)) == {in_name}

            result = protocol.infer([protocol.shared_input(in_name)], [protocol.shared_output(out_name)])
            # The output's bytes are in the region, not in the response, which
            # says where they went.
            assert _output_region(result) == (out_name, BYTE_SIZE)
            got = shm.get_contents_as_numpy(out_handle, np.float32, SHAPE)
            np.testing.assert_array_equal(got, values)

            # Same region, new contents: the server reads them at each request.
            shm.set_shared_memory_region(in_handle, [values * -2])
            protocol.infer([protocol.shared_input(in_name)], [protocol.shared_output(out_name)])
            np.testing.assert_array_equal(shm.get_contents_as_numpy(out_handle, np.float32, SHAPE), values * -2)
        finally:
            protocol.unregister(in_name)
            protocol.unregister(out_name)
        assert protocol.status() == {}


def test_plain_input_with_an_output_in_shared_memory(protocol):
    values = _values()
    with _regions(BYTE_SIZE) as ((out_name, out_key, out_handle),):
        try:
            protocol.register(out_name, out_key, BYTE_SIZE)
            protocol.infer([protocol.plain_input(values)], [protocol.shared_output(out_name)])
            np.testing.assert_array_equal(shm.get_contents_as_numpy(out_handle, np.float32, SHAPE), values)
        finally:
            protocol.unregister(out_name)


def test_a_region_registered_at_an_offset(protocol):
    values = _values()
    offset = 128
    with _regions(offset + BYTE_SIZE, offset + BYTE_SIZE) as ((in_name, in_key, in_handle), (out_name, out_key, out_handle)):
        shm.set_shared_memory_region(in_handle, [values], offset=offset)
        try:
            protocol.register(in_name, in_key, BYTE_SIZE, offset=offset)
            protocol.register(out_name, out_key, BYTE_SIZE, offset=offset)
            assert protocol.status(in_name)[in_name]["offset"] == offset
            protocol.infer([protocol.shared_input(in_name)], [protocol.shared_output(out_name)])
            np.testing.assert_array_equal(shm.get_contents_as_numpy(out_handle, np.float32, SHAPE, offset=offset), values)
        finally:
            protocol.unregister(in_name)
            protocol.unregister(out_name)


def test_an_output_region_too_small_is_refused(protocol):
    values = _values()
    with _regions(BYTE_SIZE // 2) as ((out_name, out_key, _),):
        try:
            protocol.register(out_name, out_key, BYTE_SIZE // 2)
            with pytest.raises(InferenceServerException) as raised:
                protocol.infer([protocol.plain_input(values)], [protocol.shared_output(out_name, BYTE_SIZE // 2)])
            assert raised.value.status() == INVALID[protocol.name], raised.value
            message = raised.value.message()
            assert "shared memory" in message and "OUTPUT0" in message, message
        finally:
            protocol.unregister(out_name)


def test_an_input_past_the_end_of_its_region_is_refused(protocol):
    with _regions(BYTE_SIZE) as ((in_name, in_key, _),):
        try:
            protocol.register(in_name, in_key, BYTE_SIZE)
            with pytest.raises(InferenceServerException) as raised:
                protocol.infer([protocol.shared_input(in_name, BYTE_SIZE, offset=BYTE_SIZE // 2)], None)
            assert raised.value.status() == INVALID[protocol.name], raised.value
            assert in_name in raised.value.message(), raised.value.message()
        finally:
            protocol.unregister(in_name)


def test_an_unregistered_region_is_refused(protocol):
    missing = _unique("missing")
    with pytest.raises(InferenceServerException) as raised:
        protocol.infer([protocol.shared_input(missing)], None)
    assert raised.value.status() == INVALID[protocol.name], raised.value
    assert missing in raised.value.message(), raised.value.message()

    with pytest.raises(InferenceServerException) as output_raised:
        protocol.infer([protocol.plain_input(_values())], [protocol.shared_output(missing)])
    assert missing in output_raised.value.message(), output_raised.value.message()


def test_a_name_registered_twice_is_refused(protocol):
    with _regions(BYTE_SIZE, BYTE_SIZE) as ((name, key, _), (_, other_key, _)):
        try:
            protocol.register(name, key, BYTE_SIZE)
            with pytest.raises(InferenceServerException) as raised:
                protocol.register(name, other_key, BYTE_SIZE)
            assert name in raised.value.message(), raised.value.message()
            # The first registration stands.
            assert protocol.status(name)[name]["key"] == key
        finally:
            protocol.unregister(name)


def test_a_key_that_does_not_exist_is_refused(protocol):
    name = _unique("region")
    key = "/" + _unique("no_such_key")
    with pytest.raises(InferenceServerException) as raised:
        protocol.register(name, key, BYTE_SIZE)
    assert name in raised.value.message() or key in raised.value.message(), raised.value.message()
    assert name not in protocol.status()


def test_a_region_beyond_its_key_is_refused(protocol):
    with _regions(BYTE_SIZE) as ((name, key, _),):
        with pytest.raises(InferenceServerException) as raised:
            protocol.register(name, key, BYTE_SIZE, offset=BYTE_SIZE)
        assert name in raised.value.message(), raised.value.message()
        assert name not in protocol.status()


def test_unregister_all(protocol):
    with _regions(BYTE_SIZE, BYTE_SIZE) as ((a, a_key, _), (b, b_key, _)):
        try:
            protocol.register(a, a_key, BYTE_SIZE)
            protocol.register(b, b_key, BYTE_SIZE)
            assert {a, b} <= set(protocol.status())
            protocol.unregister()
            assert protocol.status() == {}
        finally:
            protocol.unregister(a)
            protocol.unregister(b)


def test_cuda_shared_memory_is_refused_over_http(surge):
    with surge.client() as client:
        with pytest.raises(InferenceServerException) as raised:
            client.register_cuda_shared_memory(_unique("cuda"), "AAAAAAAA", 0, BYTE_SIZE)
        assert raised.value.status() == "400", raised.value
        assert "CUDA" in raised.value.message(), raised.value.message()


def test_cuda_shared_memory_is_refused_over_grpc(surge):
    client = grpcclient.InferenceServerClient(surge.grpc_url)
    with pytest.raises(InferenceServerException) as raised:
        client.register_cuda_shared_memory(_unique("cuda"), b"\x00" * 64, 0, BYTE_SIZE, client_timeout=RPC_TIMEOUT_S)
    assert "CUDA" in raised.value.message(), raised.value.message()


def test_the_http_routes_as_triton_documents_them(surge):
    with _regions(BYTE_SIZE) as ((name, key, _),):
        register = requests.post(
            surge.url(f"/v2/systemsharedmemory/region/{name}/register"),
            json={"key": key, "offset": 0, "byte_size": BYTE_SIZE},
            timeout=HTTP_TIMEOUT_S,
        )
        try:
            assert register.status_code == 200, register.text
            status = requests.get(surge.url("/v2/systemsharedmemory/status"), timeout=HTTP_TIMEOUT_S)
            assert status.status_code == 200, status.text
            assert status.headers["Content-Type"].startswith("application/json")
            entries = status.json()
            assert isinstance(entries, list)
            assert {"name": name, "key": key, "offset": 0, "byte_size": BYTE_SIZE} in entries, entries

            one = requests.get(surge.url(f"/v2/systemsharedmemory/region/{name}/status"), timeout=HTTP_TIMEOUT_S)
            assert one.status_code == 200, one.text
            assert [e["name"] for e in one.json()] == [name]

            bad = requests.post(
                surge.url(f"/v2/systemsharedmemory/region/{_unique('bad')}/register"),
                json={"key": key, "offset": 0},
                timeout=HTTP_TIMEOUT_S,
            )
            assert bad.status_code == 400, bad.text
            assert "byte_size" in bad.json()["error"]
        finally:
            unregister = requests.post(
                surge.url(f"/v2/systemsharedmemory/region/{name}/unregister"), timeout=HTTP_TIMEOUT_S
            )
            assert unregister.status_code == 200, unregister.text
        gone = requests.get(surge.url(f"/v2/systemsharedmemory/region/{name}/status"), timeout=HTTP_TIMEOUT_S)
        assert gone.status_code == 400 and name in gone.json()["error"], gone.text
