"""Writes the Feast feature repository of bench/features: what a Feast user
writes for "the user's transactions in the last 5 minutes plus their static
attributes", before `feast apply`.

    .bench-venvs/feast/bin/python bench/features/feast_repo.py --directory REPO \
        --redis 127.0.0.1:6379 --db 1
    .bench-venvs/feast/bin/feast -c REPO apply

- Entity `user` (join key user_id, a string).
- FeatureView `fraud_windows`: the window features of the fraud demo model
  (count_1m, amount_sum_5m, amount_mean_5m, amount_max_5m, merchants_5m) and
  the static attributes (age, account_age_days), all Float32. No TTL: the
  values are as of the latest event time, which is simulated time, and
  the consumer keeps them current (feast_consumer.py).
- PushSource `transactions_push` over a FileSource (the file offline store's
  batch source: an empty parquet file with the view's columns).
- Online store: Redis, the same redis-server the stream is in, another db.
  `skip_dedup`: the one writer pushes in stream order, so Feast's check
  that a row is newer than the stored one (a read before every write) is
  not needed, and it would drop a row whose timestamp equals the stored
  one (a late event leaves the latest event time where it was).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fraud_spec import (  # noqa: E402
    ENTITY,
    FEATURE_VIEW,
    FRAUD,
    PROJECT,
    PUSH_SOURCE,
    STORED_FEATURES,
    TIMESTAMP_FIELD,
)

OFFLINE_FILE = "data/fraud_windows.parquet"


def feature_store_yaml(redis_address: str, db: int) -> str:
    return f"""project: {PROJECT}
registry: data/registry.db
provider: local
online_store:
  type: redis
  connection_string: "{redis_address},db={db}"
  skip_dedup: true
offline_store:
  type: file
entity_key_serialization_version: 3
"""


def definitions_py() -> str:
    fields = "\n".join(f'        Field(name="{name}", dtype=Float32),' for name in STORED_FEATURES)
    return f'''from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource, PushSource, ValueType
from feast.types import Float32, String

user = Entity(name="{ENTITY}", join_keys=["{FRAUD.entity_input}"], value_type=ValueType.STRING)

offline = FileSource(
    name="{FEATURE_VIEW}_offline",
    path="{OFFLINE_FILE}",
    timestamp_field="{TIMESTAMP_FIELD}",
)

push = PushSource(name="{PUSH_SOURCE}", batch_source=offline)

{FEATURE_VIEW} = FeatureView(
    name="{FEATURE_VIEW}",
    entities=[user],
    ttl=timedelta(0),
    schema=[
        Field(name="{FRAUD.entity_input}", dtype=String),
{fields}
    ],
    source=push,
    online=True,
)
'''


def write(directory: Path, redis_address: str, db: int) -> None:
    import pandas as pd

    (directory / "data").mkdir(parents=True, exist_ok=True)
    (directory / "feature_store.yaml").write_text(feature_store_yaml(redis_address, db))
    (directory / "definitions.py").write_text(definitions_py())
    columns = {FRAUD.entity_input: pd.Series([], dtype="string"),
               TIMESTAMP_FIELD: pd.Series([], dtype="datetime64[ns, UTC]")}
    columns.update({name: pd.Series([], dtype="float32") for name in STORED_FEATURES})
    pd.DataFrame(columns).to_parquet(directory / OFFLINE_FILE)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--directory", type=Path, required=True)
    parser.add_argument("--redis", required=True, help="host:port of the online store's redis-server")
    parser.add_argument("--db", type=int, default=1)
    args = parser.parse_args()
    write(args.directory, args.redis, args.db)
    return 0


if __name__ == "__main__":
    sys.exit(main())
