"""What both sides of bench/features share: the fraud demo's window reference
and stream generator (scripts/models/fraud_features.py and fraud_data.py,
loaded by their paths so that either virtualenv can import them), and the
names the Feast repository is built with.

Imports nothing beyond the standard library; fraud_data needs numpy, which
both virtualenvs have.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "models" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


fraud_features = _load("fraud_features")
fraud_data = _load("fraud_data")

FRAUD = fraud_features.FRAUD
MODEL = FRAUD.name  # the route both servers answer: /v2/models/fraud/infer
SCORING_MODEL = FRAUD.scoring_model
REQUEST_FIELD = "amount"
assert FRAUD.request_fields == (REQUEST_FIELD,)

# The Feast repository.
PROJECT = "fraud_bench"
ENTITY = "user"
FEATURE_VIEW = "fraud_windows"
PUSH_SOURCE = "transactions_push"
TIMESTAMP_FIELD = "event_timestamp"
WINDOW_NAMES = tuple(w.name for w in FRAUD.windows)
STORED_FEATURES = WINDOW_NAMES + FRAUD.static_fields  # what the consumer pushes, per user
FEATURE_REFS = tuple(f"{FEATURE_VIEW}:{name}" for name in STORED_FEATURES)

# Where the consumer records how far it has got (in the Feast online store's db).
PROGRESS_KEY = "fraud_bench:consumer"


def window_lengths_in_tiles() -> list[int]:
    """The distinct window lengths, in tiles: an event leaves a window this many tiles after its own."""
    return sorted({w.length_ms // FRAUD.tile_ms for w in FRAUD.windows})
