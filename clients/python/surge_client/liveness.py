"""The heartbeat thread: `ZADD surge:M:workers <now-ms> <name>` every
heartbeat, and `XCLAIM ... JUSTID` of the entries this worker holds, so a
batch that runs longer than claim_idle is not taken over and run twice.
Every held entry is re-claimed at every beat, not only those held a full
heartbeat already: that keeps any entry's idle time under one heartbeat.

It is a thread of its own so that a predict call that holds the main thread
for longer than claim_idle does not make the worker look dead.
"""

from __future__ import annotations

import sys
import threading
from typing import Iterable, List, Set

import redis

from surge_client.protocol import GROUP, Keys, now_ms


class Heartbeat:
    def __init__(self, client: redis.Redis, keys: Keys, name: str, interval_ms: int):
        self._redis = client
        self._keys = keys
        self._name = name
        self._interval_s = interval_ms / 1000.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._held: Set[bytes] = set()  # guarded by _lock
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{name}", daemon=True)

    def beat(self) -> None:
        """One heartbeat now (also the worker's first, before it reads)."""
        self._redis.zadd(self._keys.workers, {self._name: now_ms()})

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def hold(self, entry_ids: Iterable[bytes]) -> None:
        """Entries read or claimed by this worker and not yet acknowledged."""
        with self._lock:
            self._held.update(entry_ids)

    def release(self, entry_ids: Iterable[bytes]) -> None:
        with self._lock:
            self._held.difference_update(entry_ids)

    def _holding(self) -> List[bytes]:
        with self._lock:
            return list(self._held)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.beat()
                held = self._holding()
                if held:
                    # min-idle 0 and JUSTID: resets the idle time, leaves the delivery count alone.
                    self._redis.xclaim(self._keys.requests, GROUP, self._name, 0, held, justid=True)
            except redis.RedisError as e:
                # Redis unreachable: the next beat tries again; if it stays away
                # long enough, other workers rightly take this one's entries.
                print(f"surge_client.worker: {self._name}: heartbeat failed: {e}", file=sys.stderr, flush=True)
