"""A worker that serves a Python model over surge's Redis Streams bus,
following the worker protocol of docs/redis-streams.md:

  warm up -> join (group, first heartbeat) -> loop:
      reclaim dead workers' entries (every heartbeat)
      read a batch (XREADGROUP COUNT max_batch BLOCK max_delay)
      answer expired (504) and invalid (400) entries, run the rest batched
      reply, then acknowledge; trim the request stream (every heartbeat)
  SIGTERM/SIGINT -> finish the batch in hand, ZREM, exit

    python -m surge_client.worker --redis redis://host:6379/0 --model iris \\
        --handler my_package.my_module:make_handler [--max-batch 32 --max-delay-ms 5]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import redis

from surge_client import batching, kserve, protocol
from surge_client.handler import Handler, Predict, as_handler, load_handler
from surge_client.liveness import Heartbeat
from surge_client.protocol import GROUP, Field, Keys, RequestEntry, now_ms
from surge_client.reclaim import Claimed, Reclaimer

Entry = Tuple[bytes, Dict[bytes, bytes]]  # a stream entry: id, fields
Reply = Tuple[Optional[bytes], Optional[Dict[bytes, bytes]], bytes]  # reply_to, fields (None: nobody to tell), entry id

# How long to wait before trying again after Redis failed a command.
_RETRY_S = 0.5

# Errors Redis clears by itself: a reply refused with one of these is tried
# again (the entry stays pending); any other error reply (WRONGTYPE: reply_to
# holds another type) never will succeed, so its entry is dead-lettered.
_TRANSIENT_ERRORS = ("OOM", "LOADING", "BUSY", "TRYAGAIN", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "NOREPLICAS",
                     "MISCONF")


def _unwritable(result: object) -> bool:
    """True when a pipelined XADD's result is an error no retry will change."""
    if not isinstance(result, redis.ResponseError) or isinstance(result, redis.ConnectionError):
        return False
    return not str(result).startswith(_TRANSIENT_ERRORS)


class WorkerError(RuntimeError):
    """A worker that cannot start: the message says why."""


@dataclass
class _Job:
    entry: RequestEntry
    request: kserve.InferRequest
    rows: int  # batch size along dimension 0; 0 when not batching


def _log(name: str, message: str) -> None:
    print(f"surge_client.worker: {name}: {message}", file=sys.stderr, flush=True)


class Worker:
    """Serves `handler` (a Handler, or a bare predict callable whose warm-up
    is then the caller's business: pass `warmup` or `inputs` via a Handler)
    for `model` on the Redis at `redis_url`.

    max_batch: rows per predict call (0: no batching; inputs are passed as
      received). Requests whose inputs agree in names, datatypes and shape
      beyond dimension 0 are concatenated along it and the outputs split back.
    max_delay_ms: how long to wait for a batch to fill once its first request
      is in (and the XREADGROUP BLOCK time).
    heartbeat_ms, claim_idle_ms, max_deliveries: the model config's
      worker_pool values; every worker of a model must use the same ones.
    version: the model version this worker serves; requests naming another get 404.
    """

    def __init__(
        self,
        redis_url: str,
        model: str,
        handler: Union[Handler, Predict],
        *,
        name: Optional[str] = None,
        version: str = "1",
        max_batch: int = 0,
        max_delay_ms: int = 5,
        heartbeat_ms: int = protocol.DEFAULT_HEARTBEAT_MS,
        claim_idle_ms: int = protocol.DEFAULT_CLAIM_IDLE_MS,
        max_deliveries: int = protocol.DEFAULT_MAX_DELIVERIES,
        client: Optional[redis.Redis] = None,
    ):
        for label, value, least in (
            ("max_batch", max_batch, 0),
            ("max_delay_ms", max_delay_ms, 0),
            ("heartbeat_ms", heartbeat_ms, 1),
            ("claim_idle_ms", claim_idle_ms, 1),
            ("max_deliveries", max_deliveries, 1),
        ):
            if value < least:
                raise ValueError(f"{label} must be at least {least}, got {value}")
        if claim_idle_ms <= heartbeat_ms:
            # Keep-alive claims run every heartbeat; a shorter claim_idle would
            # let other workers take entries that are still running.
            raise ValueError(f"claim_idle_ms ({claim_idle_ms}) must be longer than heartbeat_ms ({heartbeat_ms})")
        if version and not version.isdigit():
            raise ValueError(f"version must be a decimal number, got '{version}'")
        self.keys = Keys.of(model)
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.version = version
        self.handler = as_handler(handler)
        self.max_batch = max_batch
        self.max_delay_ms = max_delay_ms
        self.heartbeat_ms = heartbeat_ms
        self._redis = client or redis.Redis.from_url(redis_url, socket_connect_timeout=10, socket_timeout=60)
        self._heartbeat = Heartbeat(self._redis, self.keys, self.name, heartbeat_ms)
        self._reclaimer = Reclaimer(self._redis, self.keys, self.name, claim_idle_ms, max_deliveries)
        self._stopping = threading.Event()

    # ------------------------------------------------------------------
    # lifecycle

    def run(self, install_signal_handlers: bool = True) -> None:
        """Warms up, joins, serves until stop() or SIGTERM/SIGINT, then leaves."""
        if install_signal_handlers and threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, self._on_signal)
        try:
            self._redis.ping()
        except redis.RedisError as e:
            raise WorkerError(f"cannot reach Redis: {e}") from None
        self._warm_up()
        if self._stopping.is_set():
            return
        self._join()
        try:
            self._loop()
        finally:
            self._leave()

    def stop(self) -> None:
        """Asks the worker to finish the batch in hand and leave; safe from any thread."""
        self._stopping.set()

    def _on_signal(self, signum: int, _frame: Any) -> None:
        _log(self.name, f"{signal.Signals(signum).name}: finishing the batch in hand, then leaving")
        # A second signal ends the process at once.
        signal.signal(signum, signal.SIG_DFL)
        self.stop()

    def _warm_up(self) -> None:
        """One inference before joining: a cold worker never reads an entry."""
        _log(self.name, f"warming up model '{self.keys.model}'")
        started = time.monotonic()
        try:
            if self.handler.warmup is not None:
                self.handler.warmup()
            elif self.handler.inputs:
                batched = self.max_batch > 0
                zeros = {spec.name: spec.zeros(batched) for spec in self.handler.inputs}
                outputs = self._outputs_of(self.handler.predict(zeros))
                if batched:
                    batching.split(outputs, [1])
            else:
                raise WorkerError(
                    "cannot warm up: give the handler its inputs (TensorSpec list) or a warmup function"
                )
        except WorkerError:
            raise
        except Exception as e:
            traceback.print_exc()
            raise WorkerError(f"warm-up of model '{self.keys.model}' failed: {type(e).__name__}: {e}") from e
        _log(self.name, f"warm after {time.monotonic() - started:.2f} s")

    def _join(self) -> None:
        self._ensure_group()
        self._heartbeat.beat()
        self._heartbeat.start()
        print(
            f"surge_client.worker: {self.name} serving model '{self.keys.model}' version {self.version or '-'} "
            f"(max_batch {self.max_batch}, max_delay_ms {self.max_delay_ms})",
            flush=True,
        )

    def _ensure_group(self) -> None:
        try:
            # Id 0: entries added before the group existed are still delivered.
            self._redis.xgroup_create(self.keys.requests, GROUP, id="0", mkstream=True)
        except redis.ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise

    def _leave(self) -> None:
        self._heartbeat.stop()
        try:
            self._redis.zrem(self.keys.workers, self.name)
            # The consumer's name would stay in XINFO CONSUMERS forever; drop it
            # when nothing is pending for it (DELCONSUMER drops pending entries too).
            mine = self._redis.xpending_range(self.keys.requests, GROUP, "-", "+", 1, consumername=self.name)
            if not mine:
                self._redis.xgroup_delconsumer(self.keys.requests, GROUP, self.name)
        except redis.RedisError as e:
            _log(self.name, f"leaving: {e}")
        _log(self.name, "stopped")

    # ------------------------------------------------------------------
    # the loop

    def _loop(self) -> None:
        next_reclaim = 0.0  # a (re)started worker looks for orphaned entries at once
        next_trim = time.monotonic() + self.heartbeat_ms / 1000.0
        while not self._stopping.is_set():
            try:
                if time.monotonic() >= next_reclaim:
                    self._reclaim_round()
                    next_reclaim = time.monotonic() + self.heartbeat_ms / 1000.0
                entries = self._read()
                if entries:
                    self._serve(entries)
                if time.monotonic() >= next_trim:
                    self._reclaimer.trim()
                    next_trim = time.monotonic() + self.heartbeat_ms / 1000.0
            except redis.RedisError as e:
                _log(self.name, f"Redis: {e}; retrying")
                self._stopping.wait(_RETRY_S)
                if "NOGROUP" in str(e):
                    self._try(self._ensure_group)

    def _try(self, action) -> None:
        try:
            action()
        except redis.RedisError as e:
            _log(self.name, f"Redis: {e}")

    def _read(self) -> List[Entry]:
        """XREADGROUP, then, with batching, more reads until max_batch entries
        or max_delay after the first one."""
        count = max(1, self.max_batch)
        got = self._read_group(count, max(1, self.max_delay_ms))
        if not got or self.max_batch <= 1:
            return got
        try:
            window_end = time.monotonic() + self.max_delay_ms / 1000.0
            while len(got) < count and not self._stopping.is_set():
                remaining_ms = int((window_end - time.monotonic()) * 1000)
                if remaining_ms < 1:
                    break
                got.extend(self._read_group(count - len(got), remaining_ms))
        except BaseException:
            # What was read stays pending; let keep-alive stop so it can be reclaimed.
            self._heartbeat.release(entry_id for entry_id, _ in got)
            raise
        return got

    def _read_group(self, count: int, block_ms: int) -> List[Entry]:
        reply = self._redis.xreadgroup(GROUP, self.name, {self.keys.requests: ">"}, count=count, block=block_ms)
        entries: List[Entry] = []
        for _stream, stream_entries in reply or []:
            entries.extend((entry_id, fields) for entry_id, fields in stream_entries)
        self._heartbeat.hold(entry_id for entry_id, _ in entries)
        return entries

    def _reclaim_round(self) -> None:
        """Claims dead workers' entries one at a time; each is dead-lettered or run alone."""
        for _ in range(max(1, self.max_batch)):
            if self._stopping.is_set():
                return
            claimed = self._reclaimer.claim_one()
            if claimed is None:
                return
            self._heartbeat.hold([claimed.entry_id])
            if self._reclaimer.exhausted(claimed):
                self._dead_letter(claimed)
            else:
                _log(
                    self.name,
                    f"reclaimed entry {protocol.text(claimed.entry_id)} from "
                    f"{claimed.last_worker or 'an unknown worker'} (delivery {claimed.deliveries})",
                )
                self._serve([(claimed.entry_id, claimed.fields)])

    def _dead_letter(self, claimed: Claimed) -> None:
        limit = self._reclaimer.max_deliveries
        reason = (
            f"delivered {claimed.deliveries} times (max_deliveries {limit}) and every worker that took it "
            f"stopped without answering; last worker: {claimed.last_worker or 'unknown'}"
        )
        _log(self.name, f"dead-lettering entry {protocol.text(claimed.entry_id)}: {reason}")
        request_id = claimed.fields.get(Field.ID)
        reply_to = claimed.fields.get(Field.REPLY_TO)
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.xadd(self.keys.dead, self._reclaimer.dead_letter_fields(claimed, reason))
            if request_id and reply_to:
                error = f"request {protocol.text(request_id)} to model '{self.keys.model}' was dead-lettered: {reason}"
                pipe.xadd(
                    reply_to,
                    protocol.reply_fields(request_id, self.name, protocol.STATUS_INTERNAL, error=error),
                    maxlen=protocol.REPLY_MAXLEN,
                    approximate=True,
                )
            results = pipe.execute(raise_on_error=False)
            for result in results[1:]:
                if isinstance(result, Exception):
                    _log(self.name, f"the reply to {protocol.text(reply_to)} cannot be written: {result}")
            # Done once its dead letter is written, whether or not the reply
            # could be: acknowledging then dead-letters it exactly once.
            if isinstance(results[0], Exception):
                _log(self.name, f"dead-lettering entry {protocol.text(claimed.entry_id)}: {results[0]}")
            else:
                self._redis.xack(self.keys.requests, GROUP, claimed.entry_id)
        finally:
            self._heartbeat.release([claimed.entry_id])

    # ------------------------------------------------------------------
    # one read's worth of entries

    def _serve(self, entries: Sequence[Entry]) -> None:
        originals = dict(entries)
        try:
            jobs, early = self._admit(entries)
            # Rejections first: their producers need not wait for the batch.
            self._answer(early, originals)
            for group in self._plan(jobs):
                self._answer(self._execute(group), originals)
        finally:
            self._heartbeat.release(entry_id for entry_id, _ in entries)

    def _admit(self, entries: Sequence[Entry]) -> Tuple[List[_Job], List[Reply]]:
        """Parses entries into jobs; expired and invalid ones are answered at once."""
        jobs: List[_Job] = []
        replies: List[Reply] = []
        now = now_ms()
        for entry_id, fields in entries:
            try:
                entry = protocol.parse_request_entry(entry_id, fields, self.keys.model)
            except protocol.EntryError as e:
                if e.id is None or e.reply_to is None:
                    _log(self.name, f"entry {protocol.text(entry_id)} cannot be answered and is dropped: {e}")
                    replies.append((None, None, entry_id))
                else:
                    replies.append(self._error(e.reply_to, e.id, entry_id, protocol.STATUS_INVALID, str(e)))
                continue
            if entry.expired(now):
                replies.append(self._expired(entry, now))
                continue
            if entry.version and self.version and int(entry.version) != int(self.version):
                message = (
                    f"model '{self.keys.model}' version {entry.version} is not served by worker {self.name}, "
                    f"which serves version {self.version}"
                )
                replies.append(self._error(entry.reply_to, entry.id, entry_id, protocol.STATUS_NOT_FOUND, message))
                continue
            try:
                request = kserve.decode_request(entry.body, entry.header_length)
                rows = self._check_inputs(request)
            except (kserve.CodecError, batching.BatchError) as e:
                replies.append(self._error(entry.reply_to, entry.id, entry_id, protocol.STATUS_INVALID, str(e)))
                continue
            jobs.append(_Job(entry, request, rows))
        return jobs, replies

    def _check_inputs(self, request: kserve.InferRequest) -> int:
        """Checks inputs against the handler's declared inputs; returns the batch size."""
        batched = self.max_batch > 0
        specs = {spec.name: spec for spec in self.handler.inputs}
        if specs:
            for name in request.inputs:
                if name not in specs:
                    known = ", ".join(f"'{n}'" for n in specs)
                    raise batching.BatchError(f"unknown input '{name}' (the model's inputs: {known})")
            for name, spec in specs.items():
                if name not in request.inputs:
                    raise batching.BatchError(f"missing input '{name}'")
                problem = spec.check(request.inputs[name], request.datatypes[name], batched)
                if problem:
                    raise batching.BatchError(problem)
        if not batched:
            return 0
        rows = batching.batch_rows(request.inputs)
        if rows > self.max_batch:
            raise batching.BatchError(f"batch size {rows} is over max_batch_size {self.max_batch}")
        return rows

    def _plan(self, jobs: List[_Job]) -> List[List[_Job]]:
        if self.max_batch <= 0:
            return [[job] for job in jobs]
        keys = [batching.signature(job.request.inputs, job.request.datatypes) for job in jobs]
        return batching.plan(jobs, keys, [job.rows for job in jobs], self.max_batch)

    def _execute(self, jobs: List[_Job]) -> List[Reply]:
        """Runs one batch; every job gets a reply."""
        now = now_ms()
        replies = [self._expired(job.entry, now) for job in jobs if job.entry.expired(now)]
        jobs = [job for job in jobs if not job.entry.expired(now)]
        if not jobs:
            return replies
        try:
            if self.max_batch > 0:
                outputs = self._outputs_of(self.handler.predict(batching.concatenate([j.request.inputs for j in jobs])))
                parts = batching.split(outputs, [job.rows for job in jobs])
            else:
                parts = [self._outputs_of(self.handler.predict(dict(jobs[0].request.inputs)))]
        except Exception as e:
            if not isinstance(e, batching.BatchError):
                traceback.print_exc()
            message = (
                f"model '{self.keys.model}' failed on a batch of {len(jobs)} request(s): {type(e).__name__}: {e}"
            )
            return replies + [
                self._error(job.entry.reply_to, job.entry.id, job.entry.entry_id, protocol.STATUS_INTERNAL, message)
                for job in jobs
            ]
        for job, outputs in zip(jobs, parts):
            replies.append(self._success(job, outputs))
        return replies

    def _outputs_of(self, result: Any) -> Dict[str, np.ndarray]:
        if not isinstance(result, Mapping):
            raise TypeError(f"predict must return a dict of output name -> array, got {type(result).__name__}")
        return {str(name): np.asarray(value) for name, value in result.items()}

    def _success(self, job: _Job, outputs: Dict[str, np.ndarray]) -> Reply:
        entry, request = job.entry, job.request
        missing = [wanted.name for wanted in request.outputs if wanted.name not in outputs]
        if missing:
            known = ", ".join(f"'{name}'" for name in outputs) or "none"
            message = f"unknown output '{missing[0]}' (the model's outputs: {known})"
            return self._error(entry.reply_to, entry.id, entry.entry_id, protocol.STATUS_INVALID, message)
        try:
            body, header_length = kserve.encode_response(
                outputs,
                model_name=self.keys.model,
                model_version=self.version,
                id=request.id,
                requested=request.outputs,
                binary_outputs=request.binary_outputs,
                datatypes=self.handler.output_datatypes,
            )
        except Exception as e:
            message = f"model '{self.keys.model}' returned an output that cannot be sent: {e}"
            return self._error(entry.reply_to, entry.id, entry.entry_id, protocol.STATUS_INTERNAL, message)
        fields = protocol.reply_fields(entry.id, self.name, protocol.STATUS_OK, body=body, header_length=header_length)
        return entry.reply_to, fields, entry.entry_id

    def _expired(self, entry: RequestEntry, now: int) -> Reply:
        message = (
            f"the request's deadline passed {now - entry.deadline_ms} ms before model '{self.keys.model}' "
            "could run it; it was not executed"
        )
        return self._error(entry.reply_to, entry.id, entry.entry_id, protocol.STATUS_DEADLINE, message)

    def _error(self, reply_to: bytes, request_id: bytes, entry_id: bytes, status: int, message: str) -> Reply:
        return reply_to, protocol.reply_fields(request_id, self.name, status, error=message), entry_id

    def _answer(self, replies: Sequence[Reply], originals: Mapping[bytes, Dict[bytes, bytes]]) -> None:
        """XADD every reply, then XACK their entries: an entry is acknowledged
        only after its reply is written. A reply Redis refuses for good
        (reply_to holds another type) gets its entry dead-lettered, with the
        reason, and acknowledged once; one that failed for a passing reason
        stays pending, for a later claim."""
        if not replies:
            return
        pipe = self._redis.pipeline(transaction=False)
        written = [reply for reply in replies if reply[0] is not None and reply[1] is not None]
        for reply_to, fields, _ in written:
            pipe.xadd(reply_to, fields, maxlen=protocol.REPLY_MAXLEN, approximate=True)
        results = pipe.execute(raise_on_error=False) if written else []
        failed = {}
        for (reply_to, _, entry_id), result in zip(written, results):
            if isinstance(result, Exception):
                _log(self.name, f"reply to {protocol.text(reply_to)} for entry {protocol.text(entry_id)}: {result}")
                failed[entry_id] = (reply_to, result)
        done = [entry_id for _, _, entry_id in replies if entry_id not in failed]
        letters = [
            (entry_id, reply_to, result) for entry_id, (reply_to, result) in failed.items() if _unwritable(result)
        ]
        if letters:
            pipe = self._redis.pipeline(transaction=False)
            for entry_id, reply_to, result in letters:
                fields = dict(originals.get(entry_id, {}))
                fields[Field.REASON] = f"the reply cannot be written to {protocol.text(reply_to)}: {result}".encode()
                fields[Field.LAST_WORKER] = self.name.encode()
                pipe.xadd(self.keys.dead, fields)
            for (entry_id, _, _), result in zip(letters, pipe.execute(raise_on_error=False)):
                if isinstance(result, Exception):
                    _log(self.name, f"dead-lettering entry {protocol.text(entry_id)}: {result}")
                else:
                    _log(self.name, f"dead-lettered entry {protocol.text(entry_id)}: its reply cannot be written")
                    done.append(entry_id)
        if done:
            self._redis.xack(self.keys.requests, GROUP, *done)
        self._heartbeat.release(entry_id for _, _, entry_id in replies)


# ----------------------------------------------------------------------
# command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The worker's options, for scripts that build their own parser."""
    parser.add_argument("--redis", default=os.environ.get("SURGE_REDIS_URL", "redis://127.0.0.1:6379/0"),
                        help="Redis URL (env SURGE_REDIS_URL; default %(default)s)")
    parser.add_argument("--model", required=True, help="the model name M of surge:M:requests")
    parser.add_argument("--name", help="worker (consumer) name; default <hostname>-<pid>")
    parser.add_argument("--version", dest="model_version", default="1", help="model version served (default 1)")
    parser.add_argument("--max-batch", type=int, default=0, help="rows per predict call; 0: no batching")
    parser.add_argument("--max-delay-ms", type=int, default=5, help="wait this long for a batch to fill")
    parser.add_argument("--heartbeat-ms", type=int, default=protocol.DEFAULT_HEARTBEAT_MS)
    parser.add_argument("--claim-idle-ms", type=int, default=protocol.DEFAULT_CLAIM_IDLE_MS)
    parser.add_argument("--max-deliveries", type=int, default=protocol.DEFAULT_MAX_DELIVERIES)


def worker_from_args(args: argparse.Namespace, handler: Union[Handler, Predict]) -> Worker:
    return Worker(
        args.redis,
        args.model,
        handler,
        name=args.name,
        version=args.model_version,
        max_batch=args.max_batch,
        max_delay_ms=args.max_delay_ms,
        heartbeat_ms=args.heartbeat_ms,
        claim_idle_ms=args.claim_idle_ms,
        max_deliveries=args.max_deliveries,
    )


def _handler_argument(text: str) -> Tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got '{text}'")
    return key, value


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m surge_client.worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--handler", required=True,
                        help="package.module:factory; factory(**handler_args) returns a Handler or a predict callable")
    parser.add_argument("--handler-arg", action="append", type=_handler_argument, default=[], metavar="KEY=VALUE",
                        help="keyword argument for the factory (repeatable)")
    add_arguments(parser)
    args = parser.parse_args(argv)
    # The handler's module is found from the current directory too, as with `python -m`.
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        handler = load_handler(args.handler, dict(args.handler_arg))
        worker = worker_from_args(args, handler)
        worker.run()
    except (WorkerError, ValueError, ImportError) as e:
        print(f"surge_client.worker: {e}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
