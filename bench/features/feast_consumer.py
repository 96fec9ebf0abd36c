"""The Feast side's stream processor: follows the Redis stream of transactions,
keeps each user's sliding windows with the fraud demo's reference
(scripts/models/fraud_features.py, the same rules surge applies) and pushes
the affected users' features to Feast's push source, online, as the events
arrive. What a Feast user runs beside the feature store, in the place of a
Flink or Spark job, for features that must be fresh to the event.

    .bench-venvs/feast/bin/python bench/features/feast_consumer.py --repository REPO \
        --redis 127.0.0.1:6379 [--stream-db 0]

The stream is read from its start (XREAD, 1,000 entries a read, blocking
for more). After each read, every user whose window values changed is
pushed once (store.push(..., to=PushMode.ONLINE)), with its values at the
latest event time M and its static attributes from the hash user:<id>
(read at most once a minute per user, as surge caches them). A user's
values change when one of its events is applied, and when M passes the
last tile a window holds one of its events: an event in tile k leaves a
window of n tiles once M reaches tile k + n. So every user's stored row
equals its windows evaluated at M, not at the time of its own last event;
that is what surge answers at M.

After each push it records its progress in the hash fraud_bench:consumer of
the online store's db (entries taken, rows pushed, M, the last entry id),
which bench/features/features_bench.py waits on.
"""

from __future__ import annotations

import argparse
import heapq
import math
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fraud_spec import (  # noqa: E402
    FRAUD,
    PROGRESS_KEY,
    PUSH_SOURCE,
    STORED_FEATURES,
    TIMESTAMP_FIELD,
    fraud_features,
    window_lengths_in_tiles,
)

READ_COUNT = 1000  # entries per XREAD
BLOCK_MS = 1000  # how long one XREAD waits for new entries


class WindowPusher:
    def __init__(self, store, attributes_redis):
        self.store = store
        self.attributes_redis = attributes_redis
        self.reference = fraud_features.FeatureStore(FRAUD)
        self.lengths = window_lengths_in_tiles()
        self.expiries: list[tuple[int, str]] = []  # (tile at which an event leaves a window, user), a heap
        self.attribute_cache: dict[str, tuple[float, dict[str, str]]] = {}  # user -> (read at, hash)
        self.entries = 0
        self.rows_pushed = 0
        self.pushes = 0

    def take(self, fields: dict[str, str]) -> str | None:
        """Applies one entry; returns the user whose windows it changed, if any."""
        self.entries += 1
        outcome = self.reference.add(fields)
        if outcome not in (fraud_features.APPLIED, fraud_features.LATE):
            return None
        user = fields[FRAUD.entity_field]
        tile = int(fields[FRAUD.time_field]) // FRAUD.tile_ms
        for length in self.lengths:
            heapq.heappush(self.expiries, (tile + length, user))
        return user

    def expired(self) -> set[str]:
        """Users one of whose events M has moved out of a window since the last call."""
        users: set[str] = set()
        if self.reference.latest_time_ms is None:
            return users
        now = self.reference.latest_time_ms // FRAUD.tile_ms
        while self.expiries and self.expiries[0][0] <= now:
            users.add(heapq.heappop(self.expiries)[1])
        return users

    def attributes(self, users: list[str]) -> dict[str, dict[str, str]]:
        now = time.monotonic()
        ttl_s = FRAUD.static_ttl_ms / 1000.0
        stale = [u for u in users if u not in self.attribute_cache or now - self.attribute_cache[u][0] > ttl_s]
        if stale:
            pipe = self.attributes_redis.pipeline(transaction=False)
            for user in stale:
                pipe.hgetall(FRAUD.hash_prefix + user)
            for user, fields in zip(stale, pipe.execute()):
                self.attribute_cache[user] = (now, fields)
        return {u: self.attribute_cache[u][1] for u in users}

    def push(self, users: set[str]) -> None:
        import numpy as np
        import pandas as pd
        from feast.data_source import PushMode

        if not users:
            return
        ordered = sorted(users)
        static = self.attributes(ordered)
        columns: dict[str, list[float]] = {name: [] for name in STORED_FEATURES}
        for user in ordered:
            for name, value in self.reference.windows(user).items():
                columns[name].append(value)
            for name in FRAUD.static_fields:
                number = fraud_features.parse_number(static[user].get(name))
                columns[name].append(math.nan if number is None else fraud_features.float32(number))
        frame = pd.DataFrame({
            FRAUD.entity_input: ordered,
            TIMESTAMP_FIELD: pd.to_datetime([self.reference.latest_time_ms] * len(ordered), unit="ms", utc=True),
            **{name: np.asarray(values, dtype=np.float32) for name, values in columns.items()},
        })
        self.store.push(PUSH_SOURCE, frame, to=PushMode.ONLINE)
        self.rows_pushed += len(ordered)
        self.pushes += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repository", type=Path, required=True, help="the Feast feature repository")
    parser.add_argument("--redis", required=True, help="host:port of the redis-server holding the stream")
    parser.add_argument("--stream-db", type=int, default=0, help="its db, where the stream and user hashes are")
    args = parser.parse_args()

    import redis
    from feast import FeatureStore

    host, port = args.redis.rsplit(":", 1)
    source = redis.Redis(host=host, port=int(port), db=args.stream_db, decode_responses=True)
    store = FeatureStore(repo_path=str(args.repository))
    online_db = int(store.config.online_store.connection_string.rsplit("db=", 1)[1])
    progress = redis.Redis(host=host, port=int(port), db=online_db)
    pusher = WindowPusher(store, source)

    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    last_id = "0-0"
    began = time.monotonic()
    while not stopping:
        reply = source.xread({FRAUD.stream_key: last_id}, count=READ_COUNT, block=BLOCK_MS)
        if not reply:
            continue
        changed: set[str] = set()
        for entry_id, fields in reply[0][1]:
            last_id = entry_id
            user = pusher.take(fields)
            if user is not None:
                changed.add(user)
        changed |= pusher.expired()
        pusher.push(changed)
        progress.hset(PROGRESS_KEY, mapping={
            "entries": pusher.entries,
            "rows_pushed": pusher.rows_pushed,
            "pushes": pusher.pushes,
            "latest_time_ms": pusher.reference.latest_time_ms or 0,
            "last_id": last_id,
            "seconds": round(time.monotonic() - began, 3),
        })
    print(f"feast_consumer: {pusher.entries} entries, {pusher.rows_pushed} rows in {pusher.pushes} pushes",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
