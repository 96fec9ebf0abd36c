"""Taking over the entries of dead workers, dead-lettering the ones that keep
killing their workers, and trimming the request stream.

Reclaimed entries are claimed one at a time and each is answered before the
next is claimed: an entry that kills every worker that runs it then takes
nothing else down with it, and only its own delivery count climbs to the
dead-letter limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import redis

from surge_client.protocol import GROUP, Field, Keys, text


@dataclass
class Claimed:
    entry_id: bytes
    fields: Dict[bytes, bytes]
    deliveries: int  # including this worker's claim
    last_worker: str  # the consumer that held it before; "" if unknown


class Reclaimer:
    def __init__(self, client: redis.Redis, keys: Keys, name: str, claim_idle_ms: int, max_deliveries: int):
        self._redis = client
        self._keys = keys
        self._name = name
        self._claim_idle_ms = claim_idle_ms
        self.max_deliveries = max_deliveries

    def claim_one(self) -> Optional[Claimed]:
        """Claims the oldest entry idle for claim_idle_ms, or returns None."""
        for _ in range(8):  # each miss means another worker or a trim got there first
            # Who held it: XAUTOCLAIM makes this worker its owner, so look first.
            idle = self._redis.xpending_range(
                self._keys.requests, GROUP, min="-", max="+", count=1, idle=self._claim_idle_ms
            )
            if not idle:
                return None
            candidate = idle[0]
            reply = self._redis.xautoclaim(
                self._keys.requests, GROUP, self._name, self._claim_idle_ms, start_id=candidate["message_id"], count=1
            )
            entries = reply[1]
            if not entries:
                # Trimmed away, or taken by another worker meanwhile: XAUTOCLAIM
                # dropped it from the pending list; look again.
                continue
            entry_id, fields = entries[0]
            if fields is None:  # deleted from the stream but still pending (Redis < 7)
                self._redis.xack(self._keys.requests, GROUP, entry_id)
                continue
            pending = self._redis.xpending_range(self._keys.requests, GROUP, min=entry_id, max=entry_id, count=1)
            deliveries = int(pending[0]["times_delivered"]) if pending else 1
            last_worker = text(candidate["consumer"]) if entry_id == candidate["message_id"] else ""
            return Claimed(entry_id, dict(fields), deliveries, last_worker)
        return None

    def exhausted(self, claimed: Claimed) -> bool:
        return claimed.deliveries > self.max_deliveries

    def dead_letter_fields(self, claimed: Claimed, reason: str) -> Dict[bytes, bytes]:
        """The dead-letter entry: the request's own fields plus why."""
        fields = dict(claimed.fields)
        fields[Field.REASON] = reason.encode()
        fields[Field.DELIVERIES] = str(claimed.deliveries).encode()
        fields[Field.LAST_WORKER] = claimed.last_worker.encode()
        return fields

    def trim(self) -> None:
        """XTRIM MINID ~ below every entry that is still pending or not yet delivered."""
        groups = self._redis.xinfo_groups(self._keys.requests)
        group = next((g for g in groups if text(g.get("name")) == GROUP), None)
        if group is None:
            return
        threshold = _stream_id(group["last-delivered-id"])
        summary = self._redis.xpending(self._keys.requests, GROUP)
        if summary["pending"]:
            threshold = min(threshold, _stream_id(summary["min"]))
        if threshold > (0, 0):
            self._redis.xtrim(self._keys.requests, minid=f"{threshold[0]}-{threshold[1]}", approximate=True)


def _stream_id(value: object) -> tuple:
    milliseconds, _, sequence = text(value).partition("-")
    return int(milliseconds), int(sequence or 0)
