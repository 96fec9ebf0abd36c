"""KServe v2 inference requests and responses with the binary tensor
extension: a JSON header, then the raw little-endian bytes of every tensor
whose parameters carry `binary_data_size`, in tensor order.

Tensors are numpy arrays. Datatypes map as follows: BOOL bool_, UINT8..UINT64
and INT8..INT64 the integer types, FP16 float16, FP32 float32, FP64 float64,
BYTES object arrays of bytes (str and numpy 'S'/'U' arrays are accepted when
encoding), BF16 ml_dtypes.bfloat16 when ml_dtypes is installed, else uint16
holding the raw bits (pass `datatypes={name: "BF16"}` to send uint16 as BF16).

Decoded binary tensors are read-only views into the body; JSON tensors are
arrays of their own.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np

try:  # optional: a real bfloat16 dtype
    import ml_dtypes as _ml_dtypes

    BF16_DTYPE: Optional[np.dtype] = np.dtype(_ml_dtypes.bfloat16)
except ImportError:  # pragma: no cover - depends on the environment
    BF16_DTYPE = None

# A nested "data" array deeper than this is rejected (as surge's own decoder does).
MAX_DATA_DEPTH = 32

_FIXED: Dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
    "BF16": np.dtype("<u2"),  # raw bits; see bf16_dtype()
}

DATATYPES: Tuple[str, ...] = tuple(_FIXED) + ("BYTES",)

_BY_KIND_SIZE = {(dt.kind, dt.itemsize): name for name, dt in _FIXED.items() if name not in ("BF16",)}

_LENGTH = struct.Struct("<I")


class CodecError(ValueError):
    """A body that is not a valid KServe v2 request or response; the message
    names the tensor or field that is wrong."""


@dataclass
class RequestedOutput:
    name: str
    binary: bool


@dataclass
class InferRequest:
    inputs: Dict[str, np.ndarray]
    id: Optional[str] = None
    # Empty: every output the model produces.
    outputs: List[RequestedOutput] = field(default_factory=list)
    # parameters.binary_data_output: the encoding of outputs not listed.
    binary_outputs: bool = False
    parameters: Dict[str, Any] = field(default_factory=dict)
    datatypes: Dict[str, str] = field(default_factory=dict)  # input name -> KServe datatype


@dataclass
class InferResponse:
    outputs: Dict[str, np.ndarray]
    model_name: str = ""
    model_version: str = ""
    id: Optional[str] = None
    parameters: Dict[str, Any] = field(default_factory=dict)
    datatypes: Dict[str, str] = field(default_factory=dict)  # output name -> KServe datatype


# ---------------------------------------------------------------------------
# datatypes


def bf16_dtype() -> np.dtype:
    """The dtype BF16 tensors decode to: ml_dtypes.bfloat16 if installed, else uint16."""
    return BF16_DTYPE if BF16_DTYPE is not None else _FIXED["BF16"]


def numpy_dtype(datatype: str) -> np.dtype:
    """The numpy dtype a KServe datatype decodes to."""
    if datatype == "BYTES":
        return np.dtype(object)
    if datatype == "BF16":
        return bf16_dtype()
    try:
        return _FIXED[datatype]
    except KeyError:
        raise CodecError(f"unknown datatype '{datatype}'") from None


def datatype_of(array: np.ndarray) -> str:
    """The KServe datatype of a numpy array."""
    dtype = array.dtype
    if BF16_DTYPE is not None and dtype == BF16_DTYPE:
        return "BF16"
    if dtype.kind in "OSU":
        return "BYTES"
    if dtype.kind == "b":
        return "BOOL"
    name = _BY_KIND_SIZE.get((dtype.kind, dtype.itemsize))
    if name is None:
        raise CodecError(f"numpy dtype {dtype} has no KServe v2 datatype")
    return name


def element_count(shape: Sequence[int]) -> int:
    count = 1
    for dim in shape:
        count *= int(dim)
    return count


# ---------------------------------------------------------------------------
# tensors <-> bytes


def _bytes_elements(array: np.ndarray, label: str) -> Iterator[bytes]:
    for element in array.reshape(-1):
        if isinstance(element, (bytes, bytearray, memoryview)):
            yield bytes(element)
        elif isinstance(element, str):
            yield element.encode("utf-8")
        else:
            raise CodecError(f"{label}: BYTES elements must be bytes or str, got {type(element).__name__}")


def serialize_bytes_tensor(array: np.ndarray, label: str = "tensor") -> bytes:
    """BYTES wire form: each element as a 4-byte little-endian length, then its bytes."""
    parts: List[bytes] = []
    for element in _bytes_elements(np.asarray(array, dtype=object), label):
        parts.append(_LENGTH.pack(len(element)))
        parts.append(element)
    return b"".join(parts)


def deserialize_bytes_tensor(data: memoryview, count: int, label: str = "tensor") -> np.ndarray:
    """The elements of BYTES wire data as a flat object array of bytes."""
    out = np.empty(count, dtype=object)
    position = 0
    for index in range(count):
        if len(data) - position < _LENGTH.size:
            if position == len(data):
                raise CodecError(f"{label}: binary BYTES data holds {index} elements, the shape needs {count}")
            raise CodecError(
                f"{label}: BYTES element {index} has a cut-off length prefix: {len(data) - position} of 4 bytes"
            )
        (length,) = _LENGTH.unpack_from(data, position)
        position += _LENGTH.size
        if length > len(data) - position:
            raise CodecError(
                f"{label}: BYTES element {index} has length {length} but only {len(data) - position} bytes remain"
            )
        out[index] = bytes(data[position : position + length])
        position += length
    if position != len(data):
        raise CodecError(f"{label}: binary BYTES data has {len(data) - position} bytes after its {count} elements")
    return out


def _fixed_array(array: np.ndarray, datatype: str, label: str) -> np.ndarray:
    """`array` as the contiguous little-endian array whose bytes are `datatype`'s wire form."""
    if datatype == "BF16":
        if BF16_DTYPE is not None and array.dtype == BF16_DTYPE:
            return np.ascontiguousarray(array).view("<u2")
        if array.dtype.kind in "ui" and array.dtype.itemsize == 2:
            return np.ascontiguousarray(array, dtype="<u2")
        if array.dtype.kind == "f":
            return _bf16_bits(np.asarray(array, dtype=np.float32))
        raise CodecError(f"{label}: cannot send numpy {array.dtype} as BF16")
    target = _FIXED[datatype]
    if datatype == "BOOL":
        return np.ascontiguousarray(array != 0 if array.dtype.kind != "b" else array, dtype=np.bool_)
    if array.dtype.kind in "OSU":
        raise CodecError(f"{label}: cannot send numpy {array.dtype} as {datatype}")
    return np.ascontiguousarray(array, dtype=target)


def tensor_bytes(array: np.ndarray, datatype: str, label: str = "tensor") -> bytes:
    """The wire bytes of a tensor."""
    if datatype == "BYTES":
        return serialize_bytes_tensor(array, label)
    return _fixed_array(array, datatype, label).tobytes()


def tensor_from_bytes(data: memoryview, datatype: str, shape: Sequence[int], label: str = "tensor") -> np.ndarray:
    """A tensor from its wire bytes (a read-only view for fixed-size types)."""
    count = element_count(shape)
    if datatype == "BYTES":
        return deserialize_bytes_tensor(data, count, label).reshape(shape)
    wire = _FIXED[datatype]
    expected = count * wire.itemsize
    if len(data) != expected:
        raise CodecError(
            f"{label}: binary_data_size {len(data)} does not match shape {list(shape)} of {datatype}, "
            f"which needs {expected} bytes"
        )
    if datatype == "BOOL":  # any non-zero byte is true, as in C
        return (np.frombuffer(data, dtype=np.uint8, count=count) != 0).reshape(shape)
    array = np.frombuffer(data, dtype=wire, count=count)
    if datatype == "BF16" and BF16_DTYPE is not None:
        array = array.view(BF16_DTYPE)
    return array.reshape(shape)


# ---------------------------------------------------------------------------
# 16-bit floats in JSON


def _bf16_bits(values: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bits, rounding to nearest even; NaN stays NaN."""
    bits = np.ascontiguousarray(values, dtype="<f4").view("<u4")
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2")
    nan = np.isnan(values)
    if nan.any():
        rounded = np.where(nan, ((bits >> 16) | 0x40).astype("<u2"), rounded)
    return rounded


def _bf16_floats(bits: np.ndarray) -> np.ndarray:
    return (np.asarray(bits).astype("<u4") << 16).view("<f4")


def _float_values(array: np.ndarray, datatype: str) -> np.ndarray:
    """A 16-bit float tensor as float32 for JSON."""
    if datatype == "BF16":
        if BF16_DTYPE is not None and array.dtype == BF16_DTYPE:
            return array.astype(np.float32)
        return _bf16_floats(array)
    return array


# ---------------------------------------------------------------------------
# JSON "data"


def _flatten(data: list, label: str, depth: int, out: list) -> None:
    if depth > MAX_DATA_DEPTH:
        raise CodecError(f'{label}: "data" nests arrays deeper than {MAX_DATA_DEPTH} levels')
    for item in data:
        if isinstance(item, list):
            _flatten(item, label, depth + 1, out)
        else:
            out.append(item)


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    return "an array"


def tensor_from_json(data: Any, datatype: str, shape: Sequence[int], label: str = "tensor") -> np.ndarray:
    """A tensor from a JSON "data" array, flat or nested, checked element by element."""
    if not isinstance(data, list):
        raise CodecError(f'{label}: "data" must be an array, got {_json_kind(data)}')
    flat: list = []
    _flatten(data, label, 1, flat)
    count = element_count(shape)
    if len(flat) != count:
        raise CodecError(f"{label}: shape {list(shape)} needs {count} elements, data has {len(flat)}")

    def bad(index: int, problem: str) -> CodecError:
        return CodecError(f"{label}: data element {index} {problem}")

    if datatype == "BYTES":
        out = np.empty(count, dtype=object)
        for i, value in enumerate(flat):
            if not isinstance(value, str):
                raise bad(i, f"must be a string for BYTES, got {_json_kind(value)}")
            out[i] = value.encode("utf-8")
        return out.reshape(shape)
    if datatype == "BOOL":
        for i, value in enumerate(flat):
            if not isinstance(value, bool):
                raise bad(i, f"must be true or false for BOOL, got {_json_kind(value)}")
        return np.array(flat, dtype=np.bool_).reshape(shape)
    for i, value in enumerate(flat):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad(i, f"must be a number for {datatype}, got {_json_kind(value)}")
    wire = _FIXED[datatype]
    if wire.kind in "ui" and datatype != "BF16":
        info = np.iinfo(wire)
        for i, value in enumerate(flat):
            if isinstance(value, float):
                if not math.isfinite(value) or value != math.trunc(value):
                    raise bad(i, f"({value!r}) is not an integer, as {datatype} requires")
                value = int(value)
                flat[i] = value
            if value < info.min or value > info.max:
                raise bad(i, f"({value}) is out of range for {datatype}")
        return np.array(flat, dtype=wire).reshape(shape)
    values = np.array(flat, dtype=np.float64)
    if datatype == "FP64":
        return values.reshape(shape)
    with np.errstate(over="ignore"):
        narrowed = values.astype(np.float32 if datatype == "BF16" else wire)
    if datatype == "BF16":
        bits = _bf16_bits(narrowed)
        overflow = np.isfinite(values) & ((bits & 0x7FFF) == 0x7F80)
        result = bits if BF16_DTYPE is None else bits.view(BF16_DTYPE)
    else:
        overflow = np.isfinite(values) & ~np.isfinite(narrowed)
        result = narrowed
    if overflow.any():
        i = int(np.argmax(overflow))
        raise bad(i, f"({flat[i]!r}) is out of range for {datatype}")
    return result.reshape(shape)


def _json_data(array: np.ndarray, datatype: str) -> Optional[list]:
    """A tensor's flat JSON "data"; None when it cannot be JSON (BYTES that are not UTF-8)."""
    flat = array.reshape(-1)
    if datatype == "BYTES":
        try:
            return [element.decode("utf-8") for element in _bytes_elements(flat, "tensor")]
        except UnicodeDecodeError:
            return None
    if datatype in ("FP16", "BF16"):
        return _float_values(flat, datatype).astype(np.float64).tolist()
    return _fixed_array(flat, datatype, "tensor").tolist()


# ---------------------------------------------------------------------------
# bodies


def _split_body(body: bytes, header_length: Optional[int]) -> Tuple[Any, memoryview]:
    view = memoryview(body)
    if header_length is None:
        header_length = len(view)
    elif header_length > len(view):
        raise CodecError(f"header_length {header_length} is larger than the {len(view)}-byte body")
    try:
        header = json.loads(bytes(view[:header_length]))
    except (UnicodeDecodeError, ValueError) as e:
        raise CodecError(f"malformed JSON header: {e}") from None
    except RecursionError:
        raise CodecError("malformed JSON header: arrays or objects nested too deeply") from None
    if not isinstance(header, dict):
        raise CodecError(f"the JSON header must be an object, got {_json_kind(header)}")
    return header, view[header_length:]


def _decode_tensors(
    items: Any, section: memoryview, kind: str, has_header_length: bool
) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    """The "inputs" or "outputs" of a body; kind is "input" or "output"."""
    if not isinstance(items, list):
        raise CodecError(f'"{kind}s" must be an array, got {_json_kind(items)}')
    tensors: Dict[str, np.ndarray] = {}
    datatypes: Dict[str, str] = {}
    used = 0
    for position, item in enumerate(items):
        where = f"{kind}s[{position}]"
        if not isinstance(item, dict):
            raise CodecError(f"{where} must be an object, got {_json_kind(item)}")
        name = item.get("name")
        if name is None:
            raise CodecError(f'{where} has no "name"')
        if not isinstance(name, str):
            raise CodecError(f'{where}: "name" must be a string, got {_json_kind(name)}')
        label = f"{kind} '{name}'"
        if name in tensors:
            raise CodecError(f"{label} appears twice")
        datatype = item.get("datatype")
        if datatype is None:
            raise CodecError(f'{label}: missing "datatype"')
        if not isinstance(datatype, str):
            raise CodecError(f'{label}: "datatype" must be a string, got {_json_kind(datatype)}')
        if datatype not in DATATYPES:
            raise CodecError(f"{label}: unknown datatype '{datatype}'")
        shape = item.get("shape")
        if shape is None:
            raise CodecError(f'{label}: missing "shape"')
        if not isinstance(shape, list):
            raise CodecError(f'{label}: "shape" must be an array, got {_json_kind(shape)}')
        for index, dim in enumerate(shape):
            if isinstance(dim, bool) or not isinstance(dim, int):
                raise CodecError(f'{label}: "shape" must hold integers, dimension {index} is {dim!r}')
            if dim < 0:
                raise CodecError(f"{label}: shape {shape} has a negative dimension")
        parameters = item.get("parameters", {})
        if not isinstance(parameters, dict):
            raise CodecError(f'{label}: "parameters" must be an object, got {_json_kind(parameters)}')
        if "shared_memory_region" in parameters:
            raise CodecError(f"{label}: shared memory tensors are not supported")
        size = parameters.get("binary_data_size")
        if size is not None:
            if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                raise CodecError(f"{label}: binary_data_size must be a non-negative integer")
            if "data" in item:
                raise CodecError(f'{label}: has both "data" and binary_data_size; send one')
            remaining = len(section) - used
            if size > remaining:
                if not has_header_length:
                    raise CodecError(
                        f"{label}: binary_data_size is {size} but the body has no header_length, so no binary section"
                    )
                raise CodecError(
                    f"{label}: binary_data_size {size} runs past the end of the binary section ({remaining} bytes left)"
                )
            tensors[name] = tensor_from_bytes(section[used : used + size], datatype, shape, label)
            used += size
        elif "data" in item:
            tensors[name] = tensor_from_json(item["data"], datatype, shape, label)
        else:
            raise CodecError(f'{label}: missing "data" (or a binary_data_size parameter)')
        datatypes[name] = datatype
    if used != len(section):
        raise CodecError(
            f"the binary section holds {len(section)} bytes but the {kind}s' binary_data_size values add up to {used}"
        )
    return tensors, datatypes


def _encode_tensors(
    tensors: Sequence[Tuple[str, np.ndarray, str, bool]],
) -> Tuple[List[dict], List[bytes]]:
    """(name, array, datatype, binary) -> JSON entries and binary chunks."""
    entries: List[dict] = []
    chunks: List[bytes] = []
    for name, array, datatype, binary in tensors:
        label = f"tensor '{name}'"
        if datatype not in DATATYPES:
            raise CodecError(f"{label}: unknown datatype '{datatype}'")
        entry: Dict[str, Any] = {"name": name, "datatype": datatype, "shape": [int(d) for d in array.shape]}
        data = None if binary else _json_data(array, datatype)
        if data is None:
            raw = tensor_bytes(array, datatype, label)
            entry["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            entry["data"] = data
        entries.append(entry)
    return entries, chunks


def _finish(header: dict, chunks: List[bytes]) -> Tuple[bytes, Optional[int]]:
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    if not chunks:
        return text, None
    return b"".join([text, *chunks]), len(text)


def _as_arrays(tensors: Mapping[str, Any], datatypes: Optional[Mapping[str, str]]) -> List[Tuple[str, np.ndarray, str]]:
    out = []
    for name, value in tensors.items():
        array = value if isinstance(value, np.ndarray) else np.asarray(value)
        datatype = (datatypes or {}).get(name) or datatype_of(array)
        out.append((name, array, datatype))
    return out


def encode_request(
    inputs: Mapping[str, Any],
    *,
    id: Optional[str] = None,
    outputs: Optional[Sequence[str]] = None,
    binary_outputs: bool = True,
    binary_inputs: bool = True,
    parameters: Optional[Mapping[str, Any]] = None,
    datatypes: Optional[Mapping[str, str]] = None,
) -> Tuple[bytes, Optional[int]]:
    """A request body and its header length (None: the body is JSON only).

    `outputs` names the outputs wanted (None: all); `binary_outputs` asks for
    them in binary form; `binary_inputs=False` writes inputs as JSON "data".
    """
    header: Dict[str, Any] = {}
    if id is not None:
        header["id"] = id
    params = dict(parameters or {})
    if binary_outputs:
        params["binary_data_output"] = True
    if params:
        header["parameters"] = params
    entries, chunks = _encode_tensors(
        [(name, array, datatype, binary_inputs) for name, array, datatype in _as_arrays(inputs, datatypes)]
    )
    header["inputs"] = entries
    if outputs is not None:
        header["outputs"] = [{"name": name, "parameters": {"binary_data": binary_outputs}} for name in outputs]
    return _finish(header, chunks)


def decode_request(body: bytes, header_length: Optional[int] = None) -> InferRequest:
    """Parses a request body; raises CodecError naming what is wrong."""
    header, section = _split_body(body, header_length)
    request = InferRequest(inputs={})
    request_id = header.get("id")
    if request_id is not None:
        if not isinstance(request_id, str):
            raise CodecError(f'"id" must be a string, got {_json_kind(request_id)}')
        request.id = request_id
    parameters = header.get("parameters", {})
    if not isinstance(parameters, dict):
        raise CodecError(f'"parameters" must be an object, got {_json_kind(parameters)}')
    binary = parameters.get("binary_data_output", False)
    if not isinstance(binary, bool):
        raise CodecError("parameters.binary_data_output must be a boolean")
    request.parameters = parameters
    request.binary_outputs = binary
    if "inputs" not in header:
        raise CodecError('the request has no "inputs"')
    request.inputs, request.datatypes = _decode_tensors(
        header["inputs"], section, "input", header_length is not None
    )
    outputs = header.get("outputs")
    if outputs is not None:
        if not isinstance(outputs, list):
            raise CodecError(f'"outputs" must be an array, got {_json_kind(outputs)}')
        for position, item in enumerate(outputs):
            where = f"outputs[{position}]"
            if not isinstance(item, dict):
                raise CodecError(f"{where} must be an object, got {_json_kind(item)}")
            name = item.get("name")
            if not isinstance(name, str):
                raise CodecError(f'{where} has no "name" string')
            label = f"output '{name}'"
            output_parameters = item.get("parameters", {})
            if not isinstance(output_parameters, dict):
                raise CodecError(f'{label}: "parameters" must be an object, got {_json_kind(output_parameters)}')
            wanted_binary = output_parameters.get("binary_data", binary)
            if not isinstance(wanted_binary, bool):
                raise CodecError(f"{label}: binary_data must be a boolean")
            if "classification" in output_parameters:
                raise CodecError(f"{label}: the classification extension is not supported")
            if "shared_memory_region" in output_parameters:
                raise CodecError(f"{label}: shared memory outputs are not supported")
            if any(earlier.name == name for earlier in request.outputs):
                raise CodecError(f"{label} is requested twice")
            request.outputs.append(RequestedOutput(name, wanted_binary))
    return request


def encode_response(
    outputs: Mapping[str, Any],
    *,
    model_name: str,
    model_version: str = "",
    id: Optional[str] = None,
    requested: Sequence[RequestedOutput] = (),
    binary_outputs: bool = True,
    datatypes: Optional[Mapping[str, str]] = None,
) -> Tuple[bytes, Optional[int]]:
    """A response body and its header length (None: JSON only).

    With `requested` empty every output is written, binary iff
    `binary_outputs`; otherwise the requested ones in their order, each as it
    asked. A requested output missing from `outputs` raises CodecError.
    BYTES outputs that are not UTF-8 are always written binary.
    """
    arrays = {name: (array, datatype) for name, array, datatype in _as_arrays(outputs, datatypes)}
    if requested:
        selected = []
        for wanted in requested:
            if wanted.name not in arrays:
                known = ", ".join(f"'{name}'" for name in arrays) or "none"
                raise CodecError(f"unknown output '{wanted.name}' (the model's outputs: {known})")
            array, datatype = arrays[wanted.name]
            selected.append((wanted.name, array, datatype, wanted.binary))
    else:
        selected = [(name, array, datatype, binary_outputs) for name, (array, datatype) in arrays.items()]
    entries, chunks = _encode_tensors(selected)
    header: Dict[str, Any] = {"model_name": model_name, "model_version": model_version}
    if id is not None:
        header["id"] = id
    header["outputs"] = entries
    return _finish(header, chunks)


def decode_response(body: bytes, header_length: Optional[int] = None) -> InferResponse:
    """Parses a response body; raises CodecError naming what is wrong."""
    header, section = _split_body(body, header_length)
    if "error" in header and "outputs" not in header:
        raise CodecError(f"the body is an error response: {header['error']}")
    if "outputs" not in header:
        raise CodecError('the response has no "outputs"')
    outputs, datatypes = _decode_tensors(header["outputs"], section, "output", header_length is not None)
    parameters = header.get("parameters", {})
    return InferResponse(
        outputs=outputs,
        model_name=str(header.get("model_name", "")),
        model_version=str(header.get("model_version", "")),
        id=header.get("id"),
        parameters=parameters if isinstance(parameters, dict) else {},
        datatypes=datatypes,
    )
