"""Feast's online read alone, for context beside the served latencies: one
user's fraud_windows row at a time, one call after another, with
get_online_features_async (what feast_server.py calls) and with the
synchronous get_online_features. Prints one JSON line of p50/p99 in ms.

    .bench-venvs/feast/bin/python bench/features/feast_sdk_latency.py \
        --feature-repository REPO --users u1,u2,u3 [--calls 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import numpy as np
from feast import FeatureStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fraud_spec import FEATURE_REFS, FRAUD  # noqa: E402

WARMUP_CALLS = 100


def summary(seconds: list[float]) -> dict:
    ms = np.asarray(seconds) * 1000.0
    return {"calls": len(ms), "p50_ms": round(float(np.quantile(ms, 0.5)), 3),
            "p99_ms": round(float(np.quantile(ms, 0.99)), 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feature-repository", type=Path, required=True)
    parser.add_argument("--users", required=True, help="comma-separated user ids, read in turn")
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    store = FeatureStore(repo_path=str(args.feature_repository))
    users = args.users.split(",")
    features = list(FEATURE_REFS)
    rows = [[{FRAUD.entity_input: users[i % len(users)]}] for i in range(args.calls + WARMUP_CALLS)]

    def read_sync() -> list[float]:
        times = []
        for row in rows:
            began = time.perf_counter()
            store.get_online_features(features=features, entity_rows=row).to_dict()
            times.append(time.perf_counter() - began)
        return times[WARMUP_CALLS:]

    async def read_async() -> list[float]:
        times = []
        for row in rows:
            began = time.perf_counter()
            (await store.get_online_features_async(features=features, entity_rows=row)).to_dict()
            times.append(time.perf_counter() - began)
        return times[WARMUP_CALLS:]

    print(json.dumps({"get_online_features_async": summary(asyncio.run(read_async())),
                      "get_online_features": summary(read_sync())}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
