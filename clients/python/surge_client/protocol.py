"""Keys, field names, defaults and entry parsing of surge's Redis Streams
contract (docs/redis-streams.md). Nothing here talks to Redis."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional

GROUP = "surge-workers"

# The numbers below are also surge's (src/config/worker_pool_defaults.hpp,
# src/streams/limits.hpp); tests/e2e/test_shared_defaults.py keeps them equal.

# Every XADD to a reply stream caps it; replies are read within seconds.
REPLY_MAXLEN = 10000

# Defaults of the model config's worker_pool section (src/config/model_config.proto).
DEFAULT_HEARTBEAT_MS = 1000
DEFAULT_CLAIM_IDLE_MS = 5000
DEFAULT_MAX_DELIVERIES = 3
# A worker whose heartbeat is older than this many heartbeats is not live.
LIVE_HEARTBEATS = 3

# Statuses of docs/error-policy.md carried in a reply's `status` field.
STATUS_OK = 200
STATUS_INVALID = 400
STATUS_NOT_FOUND = 404
STATUS_INTERNAL = 500
STATUS_UNAVAILABLE = 503
STATUS_DEADLINE = 504


class Field:
    """Field names of request, reply and dead-letter entries (bytes: the
    Redis connections here do not decode responses, bodies are binary)."""

    ID = b"id"
    REPLY_TO = b"reply_to"
    MODEL = b"model"
    VERSION = b"version"
    DEADLINE = b"deadline"
    PRIORITY = b"priority"
    TRACEPARENT = b"traceparent"
    HEADER_LENGTH = b"header_length"
    BODY = b"body"
    STATUS = b"status"
    ERROR = b"error"
    WORKER = b"worker"
    REASON = b"reason"
    DELIVERIES = b"deliveries"
    LAST_WORKER = b"last_worker"


@dataclass(frozen=True)
class Keys:
    """The Redis keys of one model."""

    model: str
    requests: str
    workers: str
    dead: str

    @classmethod
    def of(cls, model: str) -> "Keys":
        if not model:
            raise ValueError("the model name is empty")
        return cls(model, f"surge:{model}:requests", f"surge:{model}:workers", f"surge:{model}:dead")


def now_ms() -> int:
    """Unix time in milliseconds, the unit of deadlines and heartbeats."""
    return time.time_ns() // 1_000_000


def text(value: object) -> str:
    """A Redis reply value (bytes or str) as str."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


class EntryError(ValueError):
    """A request entry that cannot be served. `id` and `reply_to` are set when
    the entry carried them, so the producer can still be told."""

    def __init__(self, message: str, id: Optional[bytes], reply_to: Optional[bytes]):
        super().__init__(message)
        self.id = id
        self.reply_to = reply_to


@dataclass
class RequestEntry:
    """One request entry of `surge:M:requests`, its fields checked."""

    entry_id: bytes  # the stream entry's id
    id: bytes  # the producer's request id
    reply_to: bytes
    model: str
    version: str  # empty: the worker's loaded version
    deadline_ms: int  # 0: none
    priority: int  # 0: the model's default; 1 is the highest
    header_length: Optional[int]  # None: the body is JSON only
    body: bytes
    fields: Dict[bytes, bytes] = field(repr=False)  # as read, for dead-lettering

    def expired(self, at_ms: int) -> bool:
        return self.deadline_ms != 0 and at_ms > self.deadline_ms


def _decimal(fields: Mapping[bytes, bytes], name: bytes, request_id, reply_to) -> int:
    raw = fields.get(name, b"")
    if raw == b"":
        return 0
    try:
        value = int(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        value = -1
    if value < 0:
        raise EntryError(
            f"field '{name.decode()}' must be a non-negative decimal integer, got {raw[:40]!r}", request_id, reply_to
        )
    return value


def parse_request_entry(entry_id: bytes, fields: Mapping[bytes, bytes], model: str) -> RequestEntry:
    """Checks an entry's fields against the contract; raises EntryError naming
    the first field that is wrong."""
    request_id = fields.get(Field.ID)
    reply_to = fields.get(Field.REPLY_TO) or None
    if not request_id:
        raise EntryError("the entry has no 'id' field", None, reply_to)
    if reply_to is None:
        raise EntryError("the entry has no 'reply_to' field", request_id, None)
    entry_model = text(fields.get(Field.MODEL, b""))
    if entry_model != model:
        what = f"'{entry_model}'" if entry_model else "no 'model' field"
        raise EntryError(f"the entry names model {what}, but it is in the stream of model '{model}'", request_id, reply_to)
    if Field.BODY not in fields:
        raise EntryError("the entry has no 'body' field", request_id, reply_to)
    version = text(fields.get(Field.VERSION, b""))
    if version and not version.isdigit():
        raise EntryError(f"field 'version' must be a decimal version, got '{version[:40]}'", request_id, reply_to)
    header_length: Optional[int] = None
    if Field.HEADER_LENGTH in fields:
        header_length = _decimal(fields, Field.HEADER_LENGTH, request_id, reply_to)
    return RequestEntry(
        entry_id=entry_id,
        id=request_id,
        reply_to=reply_to,
        model=entry_model,
        version=version,
        deadline_ms=_decimal(fields, Field.DEADLINE, request_id, reply_to),
        priority=_decimal(fields, Field.PRIORITY, request_id, reply_to),
        header_length=header_length,
        body=fields[Field.BODY],
        fields=dict(fields),
    )


def reply_fields(
    request_id: bytes,
    worker: str,
    status: int,
    *,
    error: str = "",
    body: bytes = b"",
    header_length: Optional[int] = None,
) -> Dict[bytes, bytes]:
    """The fields of one reply entry."""
    out: Dict[bytes, bytes] = {Field.ID: request_id, Field.STATUS: str(status).encode()}
    if status == STATUS_OK:
        if header_length is not None:
            out[Field.HEADER_LENGTH] = str(header_length).encode()
        out[Field.BODY] = body
    else:
        out[Field.ERROR] = error.encode("utf-8", errors="replace")
    out[Field.WORKER] = worker.encode()
    return out
