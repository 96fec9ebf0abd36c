"""The features of a `platform: "features"` model, computed in Python exactly
as the server computes them: per-entity sliding-window aggregates over a
stream of events, static attributes from hashes, and the vector the scoring
model reads. The fraud demo (fraud.py) builds its training set with it and the
end-to-end tests (tests/e2e/test_features.py) hold the server's vectors equal
to it, bit for bit.

Pure Python and imports nothing from this package, so the tests' Python can
load it by its path.

The rules, which the server implements the same way:

- Event time is cut into tiles of tile_ms; an event at ts_ms lies in tile
  ts_ms // tile_ms. Every window's length is a whole number of tiles.
- Events are taken in stream order. M is the latest event time accepted so
  far. An event older than M - allowed_lateness_ms is dropped (too_late);
  any other is applied, and counted late as well when older than M.
- An entry without the entity or the time field, with a time that is not an
  integer, or without a field some window aggregates (or, for SUM, MEAN,
  MAX and MIN, with one that is not a number) is malformed and dropped
  whole, before its time is looked at.
- Per entity and tile: the number of events; per aggregated field the sum
  (a double, the values added in stream order), the count, the maximum and
  the minimum; per DISTINCT_COUNT field the set of values.
- At evaluation time t a window of length L covers the tiles k with
  t // tile_ms - L / tile_ms + 1 <= k <= t // tile_ms: the whole of t's own
  tile, events later than t in it included. COUNT counts its events, SUM
  adds the tiles' sums to 0.0 in ascending tile order, MEAN is SUM over the
  count (NaN for none), MAX the largest tile maximum and MIN the smallest
  tile minimum (NaN for none), DISTINCT_COUNT the size of the union of the sets. Every value is then
  rounded to float32.
- Without an explicit evaluation time, t is M; before any event is accepted
  every window is empty.
- A static attribute is the field of the hash <hash_prefix><entity>; a
  missing hash or field, or a value that is not a number, is NaN.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import re
import struct
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

COUNT = "COUNT"
SUM = "SUM"
MEAN = "MEAN"
MAX = "MAX"
MIN = "MIN"
DISTINCT_COUNT = "DISTINCT_COUNT"
AGGREGATES = (COUNT, SUM, MEAN, MAX, MIN, DISTINCT_COUNT)
NUMERIC_AGGREGATES = frozenset({SUM, MEAN, MAX, MIN})

# Outcomes of one stream entry, as the server's surge_feature_events_total
# labels them. A late event is applied too, and counted under both.
APPLIED = "applied"
LATE = "late"
TOO_LATE = "too_late"
MALFORMED = "malformed"
OUTCOMES = (APPLIED, LATE, TOO_LATE, MALFORMED)

_INTEGER = re.compile(r"-?[0-9]+")


def float32(value: float) -> float:
    """value rounded to the nearest float32 (ties to even), as a Python float."""
    if math.isnan(value) or math.isinf(value):
        return value
    try:
        return struct.unpack("<f", struct.pack("<f", value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


def float32_bits(value: float) -> int:
    """The float32 bit pattern of value (already a float32, or rounded to one)."""
    return struct.unpack("<I", struct.pack("<f", float32(value)))[0]


def parse_number(text: str | None) -> float | None:
    """A field's text as a double, as Python's float() reads it; None when it is not one."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def parse_time(text: str | None) -> int | None:
    """An event time: decimal digits with an optional minus sign, nothing else."""
    if text is None or not _INTEGER.fullmatch(text):
        return None
    return int(text)


@dataclass(frozen=True)
class Window:
    name: str
    aggregate: str  # one of AGGREGATES
    length_ms: int
    field: str | None = None  # what SUM, MEAN, MAX and DISTINCT_COUNT aggregate; COUNT has none

    def __post_init__(self):
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"window {self.name}: unknown aggregate {self.aggregate}")
        if self.aggregate != COUNT and not self.field:
            raise ValueError(f"window {self.name}: {self.aggregate} needs a field")


@dataclass(frozen=True)
class FeatureSpec:
    """What a features model's config says, and the request inputs it reads."""

    name: str
    scoring_model: str
    model_input: str
    entity_input: str
    request_fields: tuple[str, ...]  # FP32 request inputs besides the entity
    stream_key: str
    entity_field: str
    time_field: str
    tile_ms: int
    allowed_lateness_ms: int
    windows: tuple[Window, ...]
    hash_prefix: str
    static_fields: tuple[str, ...]
    static_ttl_ms: int
    vector: tuple[str, ...]
    outputs: tuple[str, ...] = ("probabilities",)
    max_batch_size: int = 64

    def __post_init__(self):
        for window in self.windows:
            if window.length_ms <= 0 or window.length_ms % self.tile_ms != 0:
                raise ValueError(f"window {window.name}: {window.length_ms} ms is not a whole number of tiles")
        known = set(self.request_fields) | {w.name for w in self.windows} | set(self.static_fields)
        unknown = [name for name in self.vector if name not in known]
        if unknown:
            raise ValueError(f"vector names {unknown}, which are neither inputs, windows nor static fields")

    def replace(self, **changes) -> "FeatureSpec":
        return dataclasses.replace(self, **changes)

    def numeric_fields(self) -> list[str]:
        """Stream fields some SUM, MEAN, MAX or MIN aggregates, in window order."""
        return _unique(w.field for w in self.windows if w.aggregate in NUMERIC_AGGREGATES)

    def distinct_fields(self) -> list[str]:
        return _unique(w.field for w in self.windows if w.aggregate == DISTINCT_COUNT)


def _unique(names: Iterable[str | None]) -> list[str]:
    seen: list[str] = []
    for name in names:
        if name is not None and name not in seen:
            seen.append(name)
    return seen


FRAUD = FeatureSpec(
    name="fraud",
    scoring_model="fraud_xgboost",
    model_input="features",
    entity_input="user_id",
    request_fields=("amount",),
    stream_key="transactions",
    entity_field="user_id",
    time_field="ts_ms",
    tile_ms=1000,
    allowed_lateness_ms=10000,
    windows=(
        Window("count_1m", COUNT, 60000),
        Window("amount_sum_5m", SUM, 300000, "amount"),
        Window("amount_mean_5m", MEAN, 300000, "amount"),
        Window("amount_max_5m", MAX, 300000, "amount"),
        Window("merchants_5m", DISTINCT_COUNT, 300000, "merchant"),
    ),
    hash_prefix="user:",
    static_fields=("age", "account_age_days"),
    static_ttl_ms=60000,
    vector=(
        "amount",
        "count_1m",
        "amount_sum_5m",
        "amount_mean_5m",
        "amount_max_5m",
        "merchants_5m",
        "age",
        "account_age_days",
    ),
)


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def config_pbtxt(spec: FeatureSpec) -> str:
    """The features model's config.pbtxt."""
    inputs = [f'  {{ name: "{spec.entity_input}" data_type: TYPE_STRING dims: [ 1 ] }}']
    inputs += [f'  {{ name: "{name}" data_type: TYPE_FP32 dims: [ 1 ] }}' for name in spec.request_fields]
    outputs = ", ".join(f'{{ name: "{name}" data_type: TYPE_FP32 dims: [ 1 ] }}' for name in spec.outputs)
    windows = []
    for window in spec.windows:
        field_text = f' field: "{window.field}"' if window.aggregate != COUNT else ""
        windows.append(
            f'    {{ name: "{window.name}"{field_text} aggregate: {window.aggregate} length_ms: {window.length_ms} }}'
        )
    lines = [
        f'name: "{spec.name}"',
        'platform: "features"',
        f"max_batch_size: {spec.max_batch_size}",
        "input [",
        ",\n".join(inputs),
        "]",
        f"output [ {outputs} ]",
        "features {",
        f'  model: "{spec.scoring_model}"',
        f'  model_input: "{spec.model_input}"',
        f'  entity_input: "{spec.entity_input}"',
        f'  stream {{ key: "{spec.stream_key}" entity_field: "{spec.entity_field}" '
        f'time_field: "{spec.time_field}" }}',
        f"  tile_ms: {spec.tile_ms}",
        f"  allowed_lateness_ms: {spec.allowed_lateness_ms}",
        "  window [",
        ",\n".join(windows),
        "  ]",
        f'  static_attributes {{ hash_prefix: "{spec.hash_prefix}" fields: [ {_quoted(spec.static_fields)} ] '
        f"ttl_ms: {spec.static_ttl_ms} }}",
        f"  vector: [ {_quoted(spec.vector)} ]",
        "}",
    ]
    return "\n".join(lines) + "\n"


@dataclass
class _Tile:
    events: int = 0
    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    maxima: dict[str, float] = field(default_factory=dict)
    minima: dict[str, float] = field(default_factory=dict)
    distinct: dict[str, set[str]] = field(default_factory=dict)


@dataclass
class _Entity:
    tiles: dict[int, _Tile] = field(default_factory=dict)
    keys: list[int] = field(default_factory=list)  # the tiles' numbers, ascending


class FeatureStore:
    """The window state of one features model, fed entry by entry in stream order."""

    def __init__(self, spec: FeatureSpec):
        self.spec = spec
        self.latest_time_ms: int | None = None  # M
        self.counts = {outcome: 0 for outcome in OUTCOMES}
        self._entities: dict[str, _Entity] = {}
        self._numeric = spec.numeric_fields()
        self._distinct = spec.distinct_fields()

    @property
    def entities(self) -> int:
        """Entities with at least one applied event."""
        return len(self._entities)

    def entity_ids(self) -> list[str]:
        return list(self._entities)

    def add(self, fields: Mapping[str, str]) -> str:
        """Takes one stream entry (field -> text); returns its outcome: APPLIED,
        LATE (applied, and older than M), TOO_LATE or MALFORMED."""
        entity = fields.get(self.spec.entity_field)
        ts = parse_time(fields.get(self.spec.time_field))
        numbers = {name: parse_number(fields.get(name)) for name in self._numeric}
        values = {name: fields.get(name) for name in self._distinct}
        if (entity is None or ts is None or any(v is None for v in numbers.values())
                or any(v is None for v in values.values())):
            self.counts[MALFORMED] += 1
            return MALFORMED
        latest = self.latest_time_ms
        if latest is not None and ts < latest - self.spec.allowed_lateness_ms:
            self.counts[TOO_LATE] += 1
            return TOO_LATE
        late = latest is not None and ts < latest
        self._apply(entity, ts, numbers, values)
        self.latest_time_ms = ts if latest is None else max(latest, ts)
        self.counts[APPLIED] += 1
        if late:
            self.counts[LATE] += 1
            return LATE
        return APPLIED

    def _apply(self, entity_id: str, ts: int, numbers: dict[str, float], values: dict[str, str]) -> None:
        entity = self._entities.setdefault(entity_id, _Entity())
        k = ts // self.spec.tile_ms
        tile = entity.tiles.get(k)
        if tile is None:
            tile = entity.tiles[k] = _Tile()
            bisect.insort(entity.keys, k)
        tile.events += 1
        for name, value in numbers.items():
            tile.sums[name] = tile.sums.get(name, 0.0) + value
            tile.counts[name] = tile.counts.get(name, 0) + 1
            tile.maxima[name] = value if name not in tile.maxima else max(tile.maxima[name], value)
            tile.minima[name] = value if name not in tile.minima else min(tile.minima[name], value)
        for name, value in values.items():
            tile.distinct.setdefault(name, set()).add(value)

    def evaluation_time(self, event_time_ms: int | None) -> int | None:
        return self.latest_time_ms if event_time_ms is None else event_time_ms

    def windows(self, entity_id: str, event_time_ms: int | None = None) -> dict[str, float]:
        """Each window's float32 value for entity_id at event_time_ms (default M)."""
        t = self.evaluation_time(event_time_ms)
        entity = self._entities.get(entity_id)
        values = {}
        for window in self.spec.windows:
            tiles: list[_Tile] = []
            if entity is not None and t is not None:
                last = t // self.spec.tile_ms
                first = last - window.length_ms // self.spec.tile_ms + 1
                begin = bisect.bisect_left(entity.keys, first)
                end = bisect.bisect_right(entity.keys, last)
                tiles = [entity.tiles[k] for k in entity.keys[begin:end]]
            values[window.name] = float32(_aggregate(window, tiles))
        return values

    def vector(
        self,
        entity_id: str,
        request: Mapping[str, float],
        static: Mapping[str, str] | None,
        event_time_ms: int | None = None,
    ) -> list[float]:
        """The scoring model's input row: `vector` names in order, each a float32.

        request: the request's numeric inputs (already float32 values, as the
        FP32 tensor carries them); static: the entity's hash (field -> text),
        None when there is none.
        """
        named: dict[str, float] = {name: float32(float(request[name])) for name in self.spec.request_fields}
        named.update(self.windows(entity_id, event_time_ms))
        for name in self.spec.static_fields:
            number = parse_number(static.get(name)) if static is not None else None
            named[name] = math.nan if number is None else float32(number)
        return [named[name] for name in self.spec.vector]


def _aggregate(window: Window, tiles: list[_Tile]) -> float:
    if window.aggregate == COUNT:
        return float(sum(tile.events for tile in tiles))
    if window.aggregate == DISTINCT_COUNT:
        union: set[str] = set()
        for tile in tiles:
            union |= tile.distinct.get(window.field, set())
        return float(len(union))
    total = 0.0
    for tile in tiles:
        total += tile.sums.get(window.field, 0.0)
    if window.aggregate == SUM:
        return total
    if window.aggregate == MEAN:
        events = sum(tile.events for tile in tiles)
        return total / events if events else math.nan
    if window.aggregate == MAX:
        maxima = [tile.maxima[window.field] for tile in tiles if window.field in tile.maxima]
        return max(maxima) if maxima else math.nan
    minima = [tile.minima[window.field] for tile in tiles if window.field in tile.minima]
    return min(minima) if minima else math.nan
