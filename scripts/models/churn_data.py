"""Synthetic subscription customers for the churn demo model (churn.py), the
batch-scoring tests (tests/e2e/test_score.py) and the scoring benchmark
(bench/score/).

Needs only numpy and imports nothing from this package, so the tests' and the
benchmark's Python (which lacks torch) can load it by its path. The same
(n, seed, first_id) always gives the same rows; rows of another seed and a
higher first_id are new customers added to an existing table.

    python3 scripts/models/churn_data.py --rows 1000000 --csv users.csv [--seed 1] [--first-id 1]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

# The model's `features` input, in this order: one row of these columns is one
# row of the input tensor.
FEATURES = (
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "contract_months",
    "num_products",
    "days_since_last_login",
    "age",
)
KEY = "user_id"
LABEL = "churned"
COLUMNS = (KEY, *FEATURES, LABEL)
# The columns holding fractions; every other column is an integer.
FLOAT_COLUMNS = frozenset({"monthly_charges", "total_charges"})
# PostgreSQL types of a users table holding these columns.
SQL_TYPES = {column: ("double precision" if column in FLOAT_COLUMNS else "integer") for column in COLUMNS}
SQL_TYPES[KEY] = "bigint"

TRAIN_SEED = 1  # the rows the demo model is trained on


def cents(amounts: np.ndarray) -> np.ndarray:
    """Rounded to cents as the double nearest to the decimal, so a value read
    back from its text ("65.37") is the same double and the same float32."""
    return np.round(amounts * 100.0) / 100.0


def users(n: int, seed: int = TRAIN_SEED, first_id: int = 1) -> dict[str, np.ndarray]:
    """n customers, user_id first_id .. first_id + n - 1: column name -> array
    (int64, or float64 rounded to cents for FLOAT_COLUMNS)."""
    rng = np.random.default_rng(seed)
    # Many customers leave within their first year; a long tail stays for years.
    tenure = np.minimum(72, 1 + np.floor(rng.exponential(20.0, n))).astype(np.int64)
    # Longer-standing customers more often sit on a yearly or two-year contract.
    long_term = 1.0 / (1.0 + np.exp(-(tenure - 24) / 12.0))
    draw = rng.random(n)
    contract = np.where(draw < 0.25 + 0.45 * long_term, np.where(draw < 0.1 + 0.25 * long_term, 24, 12), 1)
    products = np.minimum(5, 1 + rng.poisson(0.8, n)).astype(np.int64)
    monthly = cents(np.clip(22.0 + 16.0 * products + rng.normal(0.0, 9.0, n), 18.25, 118.75))
    # What was billed so far: the monthly charge over the tenure, give or take
    # price changes and discounts.
    total = cents(monthly * tenure * rng.uniform(0.92, 1.04, n))
    age = np.clip(np.round(rng.normal(44.0, 14.0, n)), 18, 90).astype(np.int64)
    support = rng.poisson(0.6 + 0.012 * (monthly - 20.0) + 0.6 * (products >= 4), n).astype(np.int64)
    last_login = np.minimum(365, np.floor(rng.exponential(6.0 + 0.08 * age, n))).astype(np.int64)

    logit = (
        -0.4
        - 0.065 * tenure
        + 0.035 * (monthly - 60.0)
        + 0.6 * support
        - 1.3 * (contract == 12)
        - 2.4 * (contract == 24)
        - 0.25 * (products - 1)
        + 0.075 * np.minimum(last_login, 60)
        - 0.012 * (age - 44)
        + rng.normal(0.0, 0.4, n)
    )
    churned = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    return {
        KEY: np.arange(first_id, first_id + n, dtype=np.int64),
        "tenure_months": tenure,
        "monthly_charges": monthly,
        "total_charges": total,
        "support_calls": support,
        "contract_months": contract.astype(np.int64),
        "num_products": products,
        "days_since_last_login": last_login,
        "age": age,
        LABEL: churned,
    }


def feature_matrix(rows: dict[str, np.ndarray]) -> np.ndarray:
    """The model's input, [n, 8] float32, from users() columns."""
    return np.stack([np.asarray(rows[c], dtype=np.float64) for c in FEATURES], axis=1).astype(np.float32)


def text_value(column: str, value) -> str:
    """A value as the CSV and COPY text carry it (cents for the charges)."""
    return f"{value:.2f}" if column in FLOAT_COLUMNS else str(int(value))


def write_csv(rows: dict[str, np.ndarray], out, columns=COLUMNS) -> None:
    """Header line, then one line per user; `out` is a text stream."""
    out.write(",".join(columns) + "\n")
    formatted = [[text_value(c, v) for v in rows[c]] for c in columns]
    for line in zip(*formatted):
        out.write(",".join(line) + "\n")


def create_table_sql(table: str) -> str:
    """CREATE TABLE for users() rows, user_id the primary key."""
    columns = ", ".join(f"{c} {SQL_TYPES[c]}" + (" PRIMARY KEY" if c == KEY else "") for c in COLUMNS)
    return f"CREATE TABLE {table} ({columns})"


def copy_sql(table: str) -> str:
    return f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN"


def copy_chunks(rows: dict[str, np.ndarray], nulls: dict[int, str] | None = None, chunk_rows: int = 50_000):
    """The text COPY FROM STDIN reads for copy_sql(), in pieces of chunk_rows
    lines: tab-separated, NULL (\\N) in column nulls[user_id] of those users."""
    keys = np.asarray(rows[KEY])
    nulls = nulls or {}
    for start in range(0, len(keys), chunk_rows):
        stop = min(start + chunk_rows, len(keys))
        formatted = [[text_value(c, v) for v in rows[c][start:stop]] for c in COLUMNS]
        for offset in np.flatnonzero(np.isin(keys[start:stop], list(nulls))) if nulls else ():
            column = nulls[int(keys[start + offset])]
            formatted[COLUMNS.index(column)][offset] = "\\N"
        yield ("".join("\t".join(line) + "\n" for line in zip(*formatted))).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--seed", type=int, default=TRAIN_SEED)
    parser.add_argument("--first-id", type=int, default=1)
    parser.add_argument("--csv", required=True, help="file to write, - for stdout")
    args = parser.parse_args()
    rows = users(args.rows, args.seed, args.first_id)
    if args.csv == "-":
        write_csv(rows, sys.stdout)
    else:
        with open(args.csv, "w", newline="") as out:
            write_csv(rows, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
