"""Sending inference requests over surge's Redis Streams bus without HTTP:
XADD a request entry to `surge:M:requests`, wait on this client's own reply
stream with XREAD BLOCK, and match replies to requests by id. The first reply
for an id wins; later ones (from a worker presumed dead that finished anyway)
are dropped.

    with StreamClient("redis://localhost:6379/0", "iris") as client:
        outputs = client.infer({"features": np.array([[5.1, 3.5, 1.4, 0.2]], np.float32)}, timeout=5)
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
import redis
import redis.asyncio

from surge_client import kserve, protocol
from surge_client.protocol import Field, Keys, now_ms, text

DEFAULT_TIMEOUT_S = 30.0

# XREAD BLOCK of the reply reader: bounds how long close() waits for it.
_READ_BLOCK_MS = 500


class InferenceError(Exception):
    """A request that did not succeed: `status` is the reply's HTTP status
    (400, 404, 500, 503, 504), `message` the error it carried."""

    def __init__(self, status: int, message: str, *, request_id: str = "", worker: str = ""):
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.request_id = request_id
        self.worker = worker


class InferenceTimeout(InferenceError, TimeoutError):
    """No reply before the request's deadline."""

    def __init__(self, message: str, *, request_id: str = ""):
        super().__init__(protocol.STATUS_DEADLINE, message, request_id=request_id)


def _request_fields(
    model: str,
    request_id: str,
    reply_to: str,
    body: bytes,
    header_length: Optional[int],
    deadline_ms: int,
    priority: int,
    version: Optional[str],
    traceparent: Optional[str],
) -> Dict[bytes, bytes]:
    fields: Dict[bytes, bytes] = {
        Field.ID: request_id.encode(),
        Field.REPLY_TO: reply_to.encode(),
        Field.MODEL: model.encode(),
        Field.DEADLINE: str(deadline_ms).encode(),
    }
    if version:
        fields[Field.VERSION] = str(version).encode()
    if priority:
        fields[Field.PRIORITY] = str(priority).encode()
    if traceparent:
        fields[Field.TRACEPARENT] = traceparent.encode()
    if header_length is not None:
        fields[Field.HEADER_LENGTH] = str(header_length).encode()
    fields[Field.BODY] = body
    return fields


def _check_priority(priority: int) -> None:
    if isinstance(priority, bool) or not isinstance(priority, int) or priority < 0:
        raise ValueError(f"priority must be a non-negative integer (1 is the highest, 0 the default), got {priority!r}")


def _timeout_of(timeout: Optional[float], default: float) -> float:
    value = default if timeout is None else timeout
    if value <= 0:
        raise ValueError(f"timeout must be positive, got {value}")
    return value


def _response_of(fields: Mapping[bytes, bytes], request_id: str, model: str) -> kserve.InferResponse:
    """A reply's response, or the InferenceError it carries."""
    worker = text(fields.get(Field.WORKER, b""))
    try:
        status = int(fields.get(Field.STATUS, b""))
    except ValueError:
        raise InferenceError(
            protocol.STATUS_INTERNAL,
            f"reply from worker '{worker}' has no valid 'status' field",
            request_id=request_id,
            worker=worker,
        ) from None
    if status != protocol.STATUS_OK:
        message = text(fields.get(Field.ERROR, b"")) or "(no error message)"
        raise InferenceError(status, message, request_id=request_id, worker=worker)
    header_length = fields.get(Field.HEADER_LENGTH)
    try:
        return kserve.decode_response(
            fields.get(Field.BODY, b""), int(header_length) if header_length is not None else None
        )
    except (kserve.CodecError, ValueError) as e:
        raise InferenceError(
            protocol.STATUS_INTERNAL,
            f"worker '{worker}' sent a response for model '{model}' that cannot be read: {e}",
            request_id=request_id,
            worker=worker,
        ) from None


class _Common:
    """What the sync and asyncio clients share: naming and entry building."""

    def __init__(
        self,
        model: str,
        *,
        version: Optional[str],
        timeout: float,
        reply_stream: Optional[str],
        require_live_worker: bool,
        heartbeat_ms: int,
    ):
        self.keys = Keys.of(model)
        self.model = model
        self.version = version
        self.default_timeout = _timeout_of(None, timeout)
        # Unique per client: every entry in it is a reply to this client.
        self.reply_stream = reply_stream or f"surge:replies:{uuid.uuid4().hex}"
        self.require_live_worker = require_live_worker
        self.heartbeat_ms = heartbeat_ms

    def _build(
        self,
        inputs: Mapping[str, Any],
        *,
        timeout: Optional[float],
        deadline_ms: Optional[int],
        priority: int,
        outputs: Optional[Sequence[str]],
        datatypes: Optional[Mapping[str, str]],
        version: Optional[str],
        traceparent: Optional[str],
    ):
        """(request id, entry fields, monotonic time to give up)."""
        _check_priority(priority)
        wait_s = _timeout_of(timeout, self.default_timeout)
        if deadline_ms is None:
            deadline_ms = now_ms() + int(wait_s * 1000)
        else:  # an explicit deadline; wait for it, plus the time a worker takes to say it passed
            wait_s = max(0.0, (deadline_ms - now_ms()) / 1000.0) + wait_s
        request_id = uuid.uuid4().hex
        body, header_length = kserve.encode_request(
            inputs, id=request_id, outputs=outputs, binary_outputs=True, datatypes=datatypes
        )
        fields = _request_fields(
            self.model,
            request_id,
            self.reply_stream,
            body,
            header_length,
            deadline_ms,
            priority,
            version or self.version,
            traceparent,
        )
        return request_id, fields, time.monotonic() + wait_s

    def _live_cutoff_ms(self) -> int:
        return now_ms() - protocol.LIVE_HEARTBEATS * self.heartbeat_ms

    def _no_live_worker(self) -> InferenceError:
        return InferenceError(
            protocol.STATUS_UNAVAILABLE,
            f"no live worker for model '{self.model}': none heartbeated in the last "
            f"{protocol.LIVE_HEARTBEATS * self.heartbeat_ms} ms",
        )


class PendingInference:
    """A submitted request; result() waits for its reply."""

    def __init__(self, client: "StreamClient", request_id: str, give_up_at: float):
        self.id = request_id
        self._client = client
        self._give_up_at = give_up_at
        self._done = threading.Event()
        self._fields: Optional[Dict[bytes, bytes]] = None

    def _deliver(self, fields: Dict[bytes, bytes]) -> None:
        self._fields = fields
        self._done.set()

    def response(self, timeout: Optional[float] = None) -> kserve.InferResponse:
        """The full response (outputs, model name and version); raises InferenceError."""
        wait_s = self._give_up_at - time.monotonic()
        if timeout is not None:
            wait_s = min(wait_s, timeout)
        if not self._done.wait(max(0.0, wait_s)):
            self._client._forget(self.id)
            if self._done.is_set():  # arrived while giving up
                return _response_of(self._fields or {}, self.id, self._client.model)
            error = self._client._reader_error
            detail = f" (reading replies failed: {error})" if error else ""
            raise InferenceTimeout(
                f"no reply from model '{self._client.model}' within the request's timeout{detail}", request_id=self.id
            )
        return _response_of(self._fields or {}, self.id, self._client.model)

    def result(self, timeout: Optional[float] = None) -> Dict[str, np.ndarray]:
        """The outputs by name; raises InferenceError (InferenceTimeout when no reply came)."""
        return self.response(timeout).outputs


class StreamClient(_Common):
    """A thread-safe producer for one model. One background thread reads this
    client's reply stream and hands each reply to the request waiting for it.

    timeout: default seconds a request may take; it becomes the entry's
      `deadline`, so workers drop it unexecuted once nobody waits for it.
    require_live_worker: fail at once with 503 when no worker of the model
      heartbeated in the last 3 heartbeats (heartbeat_ms), instead of leaving
      the request queued until one comes.
    """

    def __init__(
        self,
        redis_url: str,
        model: str,
        *,
        version: Optional[str] = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        reply_stream: Optional[str] = None,
        require_live_worker: bool = False,
        heartbeat_ms: int = protocol.DEFAULT_HEARTBEAT_MS,
        client: Optional[redis.Redis] = None,
    ):
        super().__init__(
            model,
            version=version,
            timeout=timeout,
            reply_stream=reply_stream,
            require_live_worker=require_live_worker,
            heartbeat_ms=heartbeat_ms,
        )
        self._redis = client or redis.Redis.from_url(redis_url, socket_connect_timeout=10, socket_timeout=30)
        self._lock = threading.Lock()
        self._pending: Dict[bytes, PendingInference] = {}  # guarded by _lock
        self._reader: Optional[threading.Thread] = None  # guarded by _lock
        self._closed = threading.Event()
        self._reader_error: Optional[str] = None

    def infer(
        self,
        inputs: Mapping[str, Any],
        *,
        timeout: Optional[float] = None,
        priority: int = 0,
        outputs: Optional[Sequence[str]] = None,
        datatypes: Optional[Mapping[str, str]] = None,
        version: Optional[str] = None,
        traceparent: Optional[str] = None,
    ) -> Dict[str, np.ndarray]:
        """Runs one request and returns its outputs by name.

        Raises InferenceError with the reply's status and message when the
        request failed, InferenceTimeout when no reply came in time.
        """
        return self.submit(
            inputs,
            timeout=timeout,
            priority=priority,
            outputs=outputs,
            datatypes=datatypes,
            version=version,
            traceparent=traceparent,
        ).result()

    def submit(
        self,
        inputs: Mapping[str, Any],
        *,
        timeout: Optional[float] = None,
        deadline_ms: Optional[int] = None,
        priority: int = 0,
        outputs: Optional[Sequence[str]] = None,
        datatypes: Optional[Mapping[str, str]] = None,
        version: Optional[str] = None,
        traceparent: Optional[str] = None,
    ) -> PendingInference:
        """Sends one request and returns at once. `deadline_ms` (unix ms)
        overrides the deadline `timeout` would give."""
        if self._closed.is_set():
            raise RuntimeError("the StreamClient is closed")
        request_id, fields, give_up_at = self._build(
            inputs,
            timeout=timeout,
            deadline_ms=deadline_ms,
            priority=priority,
            outputs=outputs,
            datatypes=datatypes,
            version=version,
            traceparent=traceparent,
        )
        if self.require_live_worker and not self.live_workers():
            raise self._no_live_worker()
        pending = PendingInference(self, request_id, give_up_at)
        with self._lock:
            # Registered before the XADD: a reply cannot arrive unclaimed.
            self._pending[request_id.encode()] = pending
            if self._reader is None:
                self._reader = threading.Thread(target=self._read_replies, name="surge-replies", daemon=True)
                self._reader.start()
        try:
            self._redis.xadd(self.keys.requests, fields)
        except BaseException:
            self._forget(request_id)
            raise
        return pending

    def live_workers(self) -> List[str]:
        """Workers of the model that heartbeated within the last 3 heartbeats."""
        names = self._redis.zrangebyscore(self.keys.workers, self._live_cutoff_ms(), "+inf")
        return [text(name) for name in names]

    def close(self, delete_reply_stream: bool = True) -> None:
        """Stops the reply reader and deletes the reply stream."""
        if self._closed.is_set():
            return
        self._closed.set()
        with self._lock:
            reader = self._reader
        if reader is not None:
            reader.join()
        if delete_reply_stream:
            try:
                self._redis.delete(self.reply_stream)
            except redis.RedisError:
                pass
        self._redis.close()

    def __enter__(self) -> "StreamClient":
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()

    def _forget(self, request_id: str) -> None:
        with self._lock:
            self._pending.pop(request_id.encode(), None)

    def _read_replies(self) -> None:
        # The stream is this client's alone, so everything in it from the start is ours.
        last: Any = b"0-0"
        while not self._closed.is_set():
            try:
                reply = self._redis.xread({self.reply_stream: last}, count=256, block=_READ_BLOCK_MS)
                self._reader_error = None
            except redis.RedisError as e:
                self._reader_error = str(e)
                self._closed.wait(_READ_BLOCK_MS / 1000.0)
                continue
            for _stream, entries in reply or []:
                for entry_id, fields in entries:
                    last = entry_id
                    with self._lock:
                        pending = self._pending.pop(fields.get(Field.ID, b""), None)
                    if pending is not None:  # else: a late duplicate, or a request given up on
                        pending._deliver(fields)


class AsyncStreamClient(_Common):
    """The asyncio version of StreamClient (redis.asyncio); one reader task
    per client. Create and use it inside one running event loop."""

    def __init__(
        self,
        redis_url: str,
        model: str,
        *,
        version: Optional[str] = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        reply_stream: Optional[str] = None,
        require_live_worker: bool = False,
        heartbeat_ms: int = protocol.DEFAULT_HEARTBEAT_MS,
        client: Optional[redis.asyncio.Redis] = None,
    ):
        super().__init__(
            model,
            version=version,
            timeout=timeout,
            reply_stream=reply_stream,
            require_live_worker=require_live_worker,
            heartbeat_ms=heartbeat_ms,
        )
        self._redis = client or redis.asyncio.Redis.from_url(redis_url, socket_connect_timeout=10, socket_timeout=30)
        self._pending: Dict[bytes, asyncio.Future] = {}
        self._reader: Optional[asyncio.Task] = None
        self._closed = False

    async def infer(
        self,
        inputs: Mapping[str, Any],
        *,
        timeout: Optional[float] = None,
        deadline_ms: Optional[int] = None,
        priority: int = 0,
        outputs: Optional[Sequence[str]] = None,
        datatypes: Optional[Mapping[str, str]] = None,
        version: Optional[str] = None,
        traceparent: Optional[str] = None,
    ) -> Dict[str, np.ndarray]:
        """As StreamClient.infer."""
        if self._closed:
            raise RuntimeError("the AsyncStreamClient is closed")
        request_id, fields, give_up_at = self._build(
            inputs,
            timeout=timeout,
            deadline_ms=deadline_ms,
            priority=priority,
            outputs=outputs,
            datatypes=datatypes,
            version=version,
            traceparent=traceparent,
        )
        if self.require_live_worker and not await self.live_workers():
            raise self._no_live_worker()
        key = request_id.encode()
        future = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        if self._reader is None:
            self._reader = asyncio.create_task(self._read_replies())
        try:
            await self._redis.xadd(self.keys.requests, fields)
            fields_back = await asyncio.wait_for(future, max(0.0, give_up_at - time.monotonic()))
        except asyncio.TimeoutError:
            raise InferenceTimeout(
                f"no reply from model '{self.model}' within the request's timeout", request_id=request_id
            ) from None
        finally:
            self._pending.pop(key, None)
        return _response_of(fields_back, request_id, self.model).outputs

    async def live_workers(self) -> List[str]:
        names = await self._redis.zrangebyscore(self.keys.workers, self._live_cutoff_ms(), "+inf")
        return [text(name) for name in names]

    async def close(self, delete_reply_stream: bool = True) -> None:
        if self._closed:
            return
        self._closed = True
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except asyncio.CancelledError:
                pass
        if delete_reply_stream:
            try:
                await self._redis.delete(self.reply_stream)
            except redis.RedisError:
                pass
        closer = getattr(self._redis, "aclose", None) or self._redis.close  # aclose: redis >= 5.0.1
        await closer()

    async def __aenter__(self) -> "AsyncStreamClient":
        return self

    async def __aexit__(self, *_exc: Any) -> None:
        await self.close()

    async def _read_replies(self) -> None:
        last: Any = b"0-0"
        while True:
            try:
                reply = await self._redis.xread({self.reply_stream: last}, count=256, block=_READ_BLOCK_MS)
            except redis.RedisError:
                await asyncio.sleep(_READ_BLOCK_MS / 1000.0)
                continue
            for _stream, entries in reply or []:
                for entry_id, fields in entries:
                    last = entry_id
                    future = self._pending.pop(fields.get(Field.ID, b""), None)
                    if future is not None and not future.done():
                        future.set_result(fields)
