"""Synthetic card transactions for the fraud demo model (fraud.py) and the
features tests (tests/e2e/test_features.py): a stream of events, each a
dict of the text fields a Redis Stream entry carries, with a fraud label,
and each user's static attributes as the text fields of a Redis hash.

Needs only numpy and imports nothing from this package, so the tests' Python
(which lacks torch) can load it by its path. The same arguments always give
the same stream.

- Users have an age and an account age; a few have no hash at all.
- Each user transacts as a Poisson process over the span, at a rate of
  their own; amounts are lognormal around a typical amount of their own,
  in cents; merchants come mostly from a small set of favourites.
- Fraud: on some users (more often young accounts) a burst of transactions
  within one minute at as many distinct merchants; on others now and then
  an amount far above the user's usual one.
- On request, some events are moved later in the stream, behind events
  newer than they are: late ones by at most allowed_lateness_ms (the server
  applies them), too-late ones by more (it drops them).

    python3 scripts/models/fraud_data.py --users 2000 --jsonl stream.jsonl [--seed 1]
"""

from __future__ import annotations

import argparse
import bisect
import json
import sys
from dataclasses import dataclass

import numpy as np

ENTITY_FIELD = "user_id"
TIME_FIELD = "ts_ms"
AMOUNT_FIELD = "amount"
MERCHANT_FIELD = "merchant"
AGE_FIELD = "age"
ACCOUNT_AGE_FIELD = "account_age_days"

TRAIN_SEED = 1  # the stream the demo model is trained on
START_MS = 1_733_200_000_000  # 2024-12-03 04:26:40 UTC: where simulated event time begins
USERS = 2000
SPAN_MS = 2 * 3600 * 1000
MEDIAN_GAP_MS = 6 * 60 * 1000  # the median over users of their mean time between transactions
MERCHANTS = 5000
NO_HASH_SHARE = 0.02  # users without static attributes
BURST_SHARE = 0.04  # users with a burst over the span (whatever its length), before the young-account factor
YOUNG_ACCOUNT_DAYS = 180
YOUNG_ACCOUNT_FACTOR = 3.0  # young accounts see this many times more fraud
BURST_MS = 60 * 1000
UNUSUAL_PER_USER = 0.08  # unusual amounts per user over the span, before the young-account factor
ALLOWED_LATENESS_MS = 10_000  # the demo config's


@dataclass
class Stream:
    events: list[dict[str, str]]  # in stream order: field -> text
    labels: list[int]  # events[i] is fraud when labels[i] is 1
    attributes: dict[str, dict[str, str]]  # user id -> hash fields; users without a hash are absent
    users: list[str]  # every user id, transacting or not

    @property
    def last_time_ms(self) -> int:
        return max(int(e[TIME_FIELD]) for e in self.events)


def user_id(index: int) -> str:
    return f"u{index}"


def _cents(amount: float) -> str:
    """The amount's text: cents, at least one cent."""
    return f"{max(0.01, round(float(amount) * 100.0) / 100.0):.2f}"


def transactions(
    users: int = USERS,
    seed: int = TRAIN_SEED,
    *,
    span_ms: int = SPAN_MS,
    start_ms: int = START_MS,
    median_gap_ms: float = MEDIAN_GAP_MS,
    late: int = 0,
    too_late: int = 0,
    allowed_lateness_ms: int = ALLOWED_LATENESS_MS,
) -> Stream:
    """Events of users u0 .. u{users-1} over [start_ms, start_ms + span_ms),
    in time order but for `late` and `too_late` moved events."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / (np.arange(MERCHANTS) + 10.0)
    popularity /= popularity.sum()

    timed: list[tuple[int, int, dict[str, str], int]] = []  # (ts, tiebreak, fields, label)
    attributes: dict[str, dict[str, str]] = {}
    ids = [user_id(i) for i in range(users)]

    def add(user: str, ts: float, amount: float, merchant: int, label: int) -> None:
        ts_ms = int(start_ms + min(span_ms - 1, max(0, int(ts))))
        fields = {ENTITY_FIELD: user, TIME_FIELD: str(ts_ms), AMOUNT_FIELD: _cents(amount),
                  MERCHANT_FIELD: f"m{merchant}"}
        timed.append((ts_ms, len(timed), fields, label))

    for user in ids:
        age = int(np.clip(np.round(rng.normal(41.0, 13.0)), 18, 90))
        account_age = int(min(6000, np.floor(rng.exponential(900.0))))
        if rng.random() >= NO_HASH_SHARE:
            attributes[user] = {AGE_FIELD: str(age), ACCOUNT_AGE_FIELD: str(account_age)}
        risk = YOUNG_ACCOUNT_FACTOR if account_age < YOUNG_ACCOUNT_DAYS else 1.0
        mean_gap_ms = float(np.exp(rng.normal(np.log(median_gap_ms), 0.7)))
        typical = rng.normal(3.2, 0.7)  # log of the user's typical amount
        spread = rng.uniform(0.3, 0.6)
        favourites = rng.choice(MERCHANTS, size=int(rng.integers(2, 9)), replace=False, p=popularity)
        liking = rng.dirichlet(np.ones(len(favourites)))

        ts = rng.exponential(mean_gap_ms)
        while ts < span_ms:
            merchant = rng.choice(favourites, p=liking) if rng.random() < 0.85 else rng.integers(MERCHANTS)
            add(user, ts, np.exp(rng.normal(typical, spread)), int(merchant), 0)
            ts += rng.exponential(mean_gap_ms)

        if rng.random() < BURST_SHARE * risk:
            begin = rng.uniform(0, span_ms)
            size = 4 + int(rng.poisson(6.0))
            strangers = rng.choice(np.setdiff1d(np.arange(MERCHANTS), favourites), size=size, replace=False)
            for offset, merchant in zip(np.sort(rng.uniform(0, BURST_MS, size)), strangers):
                add(user, begin + offset, np.exp(rng.normal(typical + 0.3, 0.6)), int(merchant), 1)
        for _ in range(int(rng.poisson(UNUSUAL_PER_USER * risk))):
            amount = np.exp(typical + rng.uniform(2.3, 4.0))  # 10 to 55 times the typical amount
            add(user, rng.uniform(0, span_ms), amount, int(rng.integers(MERCHANTS)), 1)

    timed.sort(key=lambda entry: (entry[0], entry[1]))
    events = [fields for _, _, fields, _ in timed]
    labels = [label for _, _, _, label in timed]
    if late or too_late:
        events, labels = _move_behind(events, labels, late, too_late, allowed_lateness_ms, rng)
    return Stream(events, labels, attributes, ids)


def _move_behind(events, labels, late: int, too_late: int, allowed_lateness_ms: int, rng):
    """Moves `late` events behind a newer one by at most allowed_lateness_ms and
    `too_late` events by more. The others stay in time order, so the latest
    time seen where a moved event lands is that of the last unmoved event
    before it (a moved event is older than that)."""
    wanted = late + too_late
    if wanted * 4 > len(events):
        raise ValueError(f"{wanted} events to move out of {len(events)}")
    # From the middle of the stream, so there are newer events to land behind.
    candidates = list(rng.permutation(np.arange(len(events) // 10, len(events) * 8 // 10)))
    movers: dict[int, tuple[float, float]] = {}  # index -> (lag above, lag at most)
    for index in candidates:
        if len(movers) == wanted:
            break
        index = int(index)
        if len(movers) < late:
            movers[index] = (rng.uniform(0.0, 0.8) * allowed_lateness_ms, float(allowed_lateness_ms))
        else:
            movers[index] = (allowed_lateness_ms + rng.uniform(1000.0, 60000.0), float("inf"))
    staying = [i for i in range(len(events)) if i not in movers]
    staying_ts = [int(events[i][TIME_FIELD]) for i in staying]
    after: dict[int, list[int]] = {}  # position in `staying` -> moved events right after it
    for index, (above, at_most) in movers.items():
        ts = int(events[index][TIME_FIELD])
        position = bisect.bisect_right(staying_ts, ts + above)
        if position == len(staying) or staying_ts[position] - ts > at_most:
            raise ValueError(f"no place for event {index} {above:.0f} to {at_most:.0f} ms behind; a denser stream")
        after.setdefault(position, []).append(index)
    order: list[int] = []
    for position, index in enumerate(staying):
        order.append(index)
        order.extend(after.get(position, ()))
    return [events[i] for i in order], [labels[i] for i in order]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=USERS)
    parser.add_argument("--seed", type=int, default=TRAIN_SEED)
    parser.add_argument("--span-minutes", type=float, default=SPAN_MS / 60000)
    parser.add_argument("--late", type=int, default=0)
    parser.add_argument("--too-late", type=int, default=0)
    parser.add_argument("--jsonl", required=True, help="file to write, - for stdout: one event a line, with its label")
    args = parser.parse_args()
    stream = transactions(args.users, args.seed, span_ms=int(args.span_minutes * 60000), late=args.late,
                          too_late=args.too_late)
    out = sys.stdout if args.jsonl == "-" else open(args.jsonl, "w")
    try:
        for fields, label in zip(stream.events, stream.labels):
            out.write(json.dumps({**fields, "fraud": label}) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
