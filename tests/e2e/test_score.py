"""`surge score` end to end: the churn demo model (churn_xgboost) scores a
PostgreSQL table of 100k synthetic customers, and every score equals what
XGBoost's own Python package predicts on the same float32 features; rows with
a NULL feature land in the reject table, named by their column, and never
stop the job. A run killed with SIGKILL halfway resumes after its last
committed page and leaves exactly one score per customer; a finished run
rerun scores only the customers added since; a --query source scores the rows
it selects; a CSV file is scored into a CSV file with its bad values
rejected; the offline scores equal what `surge serve` answers for the same
rows; bad invocations exit 2 naming what is wrong.

One PostgreSQL server serves every test (conftest.py `postgres`); each test
has a database of its own.
"""

from __future__ import annotations

import csv
import itertools
import re
import signal
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg
import pytest
import tritonclient.http as httpclient

from score_e2e import (
    CHURN_MODEL,
    FEATURES,
    KEY,
    OUTPUT_COLUMN,
    SCORE_TIMEOUT_S,
    ScoreProcess,
    assert_close,
    churn_data,
    churn_model_dir,
    column_types,
    copy_users,
    create_users,
    ledger_of,
    mapping_args,
    python_predictions,
    rejects_of,
    run_score,
    scores_of,
    table_exists,
)
from surge_e2e import wait_until

ROWS = 100_000
DATA_SEED = 7
NULL_ROWS = 300  # customers with one feature column NULL, spread over every feature
NEW_ROWS = 500  # customers added after a finished run
NEW_SEED = 8
RUN_ID = "nightly"
KILL_AFTER_ROWS = 30_000
SLOW_PAGE_S = 0.02  # what a trigger adds to each page's write in the kill test


@dataclass
class Churn:
    rows: dict  # churn_data.users(ROWS, DATA_SEED): column -> array, user_id 1..ROWS
    nulls: dict[int, str]  # user_id -> the feature column that is NULL in the tables
    new_rows: dict  # NEW_ROWS more customers, user_id ROWS+1 ..
    expected: np.ndarray  # XGBoost's P(churn) of user_id k at [k - 1], over rows then new_rows
    model_dir: Path

    def scorable(self, keys) -> list[int]:
        """Of `keys`, those without a NULL feature, in order."""
        return [int(k) for k in keys if int(k) not in self.nulls]


@pytest.fixture(scope="module")
def churn(demo_repository: Path) -> Churn:
    try:
        model_dir = churn_model_dir(demo_repository)
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    rows = churn_data.users(ROWS, seed=DATA_SEED)
    rng = np.random.default_rng(DATA_SEED + 1)
    null_keys = sorted(int(k) for k in rng.choice(np.arange(1, ROWS + 1), NULL_ROWS, replace=False))
    nulls = {key: FEATURES[i % len(FEATURES)] for i, key in enumerate(null_keys)}
    new_rows = churn_data.users(NEW_ROWS, seed=NEW_SEED, first_id=ROWS + 1)
    features = np.concatenate([churn_data.feature_matrix(rows), churn_data.feature_matrix(new_rows)])
    return Churn(rows, nulls, new_rows, python_predictions(model_dir, features), model_dir)


@dataclass
class Database:
    conninfo: str
    connection: psycopg.Connection

    def source_args(self, table: str = "users") -> list[str]:
        return ["--from-postgres", self.conninfo, "--table", table]


_databases = itertools.count(1)


@pytest.fixture
def database(postgres, request: pytest.FixtureRequest):
    """A fresh database of the shared PostgreSQL server, for this test alone."""
    name = f"score_{next(_databases)}_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())
    name = name[:63].rstrip("_")  # PostgreSQL's longest name
    conninfo = postgres.create_database(name)
    with psycopg.connect(conninfo) as connection:
        yield Database(conninfo, connection)
    postgres.drop_database(name)


def _wait_for_other_connections_to_end(connection: psycopg.Connection) -> None:
    """Until the killed run's connections are gone: a COMMIT it sent just
    before it died is then either in or not, and nothing moves under the test."""

    def alone() -> bool:
        others = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchone()[0]
        connection.rollback()
        return others == 0

    wait_until(alone, "the killed run's PostgreSQL connections to end", 60.0)


def _head(rows: dict, n: int) -> dict:
    return {column: values[:n] for column, values in rows.items()}


def _assert_rejects(rejects: dict[str, tuple], expected: dict[str, str], what: str) -> None:
    """rejects: key text -> (reason, row_values); expected: key text -> the column the reason must name."""
    assert set(rejects) == set(expected), (
        f"{what}: rejected keys differ: unexpected {sorted(set(rejects) - set(expected))[:10]}, "
        f"missing {sorted(set(expected) - set(rejects))[:10]}"
    )
    unnamed = [(key, reason) for key, (reason, _) in rejects.items() if expected[key] not in (reason or "")]
    assert not unnamed, f"{what}: reasons that do not name the column: {unnamed[:5]}"
    assert all(values for _, values in rejects.values()), f"{what}: rejects without row_values"


def _assert_scores(churn: Churn, connection: psycopg.Connection, run_id: str, keys: list[int], what: str) -> None:
    """The run's scores are exactly `keys`, each within 1e-6 of XGBoost's."""
    scored, values = scores_of(connection, run_id)
    assert scored.tolist() == sorted(keys), (
        f"{what}: {len(scored)} keys scored ({len(np.unique(scored))} distinct), {len(keys)} expected; "
        f"missing {sorted(set(keys) - set(scored.tolist()))[:10]}, "
        f"unexpected {sorted(set(scored.tolist()) - set(keys))[:10]}"
    )
    assert_close(scored, values, churn.expected[scored - 1], what)


def test_postgres_fixture_serves_its_database_to_the_surge_role(postgres):
    with postgres.connect() as connection:
        user, database, version = connection.execute(
            "SELECT current_user, current_database(), current_setting('server_version_num')::int").fetchone()
        connection.execute("CREATE TABLE probe (id bigint PRIMARY KEY)")
        connection.execute("INSERT INTO probe VALUES (1)")
        assert connection.execute("SELECT count(*) FROM probe").fetchone()[0] == 1
        connection.rollback()
    assert (user, database) == ("surge", "surge")
    assert version >= 150000, version


def test_table_scores_equal_xgboost_and_null_features_are_rejected(churn, database, demo_repository):
    create_users(database.connection, churn.rows, churn.nulls)
    run = run_score([*database.source_args(), *mapping_args(demo_repository), "--to-table", "scores",
                     "--run-id", RUN_ID])
    summary = run.summary
    assert summary["run_id"] == RUN_ID
    assert (summary["rows_read"], summary["rows_scored"], summary["rows_rejected"]) == (
        ROWS, ROWS - NULL_ROWS, NULL_ROWS), run.stdout
    assert summary["resumed_after_key"] is None, run.stdout

    connection = database.connection
    _assert_scores(churn, connection, RUN_ID, churn.scorable(range(1, ROWS + 1)), "scores")
    _assert_rejects(rejects_of(connection, RUN_ID), {str(k): c for k, c in churn.nulls.items()}, "rejects")
    types = column_types(connection, "scores")
    assert types.get(KEY) == "bigint" and types.get(OUTPUT_COLUMN) == "double precision", types
    assert ledger_of(connection, RUN_ID) == {
        "last_key": str(ROWS), "rows_scored": ROWS - NULL_ROWS, "rows_rejected": NULL_ROWS, "finished": True}


def test_killed_run_resumes_after_its_last_committed_page(churn, database, demo_repository, tmp_path):
    connection = database.connection
    create_users(connection, churn.rows, churn.nulls)
    # The output table as surge score creates it, with a trigger that makes
    # each page's write take SLOW_PAGE_S: the job is still running when the
    # ledger passes KILL_AFTER_ROWS, however fast the scoring itself is.
    connection.execute(
        f"CREATE TABLE scores (run_id text NOT NULL, {KEY} bigint NOT NULL, {OUTPUT_COLUMN} double precision,"
        f" scored_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (run_id, {KEY}))"
    )
    connection.execute(
        "CREATE FUNCTION slow_page() RETURNS trigger LANGUAGE plpgsql AS"
        f" $$ BEGIN PERFORM pg_sleep({SLOW_PAGE_S}); RETURN NULL; END $$"
    )
    connection.execute(
        "CREATE TRIGGER slow_page AFTER INSERT ON scores FOR EACH STATEMENT EXECUTE FUNCTION slow_page()")
    connection.commit()

    args = [*database.source_args(), *mapping_args(demo_repository), "--to-table", "scores", "--run-id", RUN_ID,
            "--page-rows", "1000"]
    first = ScoreProcess(args, tmp_path / "first")
    try:
        def far_enough() -> bool:
            if first.process.poll() is not None:
                raise AssertionError(f"surge score exited before it was killed\n{first.describe()}")
            ledger = ledger_of(connection, RUN_ID)
            return ledger is not None and ledger["rows_scored"] >= KILL_AFTER_ROWS

        wait_until(far_enough, f"the ledger to count {KILL_AFTER_ROWS} rows scored", SCORE_TIMEOUT_S)
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=30)
    finally:
        first.kill()
    _wait_for_other_connections_to_end(connection)

    # What the killed run committed: whole pages, each with its ledger update.
    ledger = ledger_of(connection, RUN_ID)
    assert ledger is not None and not ledger["finished"], ledger
    last_key = int(ledger["last_key"])
    scored, _ = scores_of(connection, RUN_ID)
    rejected = rejects_of(connection, RUN_ID)
    assert (ledger["rows_scored"], ledger["rows_rejected"]) == (len(scored), len(rejected)), ledger
    assert len(scored) + len(rejected) == last_key, f"{ledger}: keys up to the last key are scored or rejected"
    assert scored.size == 0 or scored.max() <= last_key, ledger
    assert last_key < ROWS, ledger

    connection.execute("DROP TRIGGER slow_page ON scores")
    connection.commit()
    second = run_score(args).summary
    assert second["resumed_after_key"] == str(last_key), second
    assert second["rows_read"] == ROWS - last_key < ROWS, second

    _assert_scores(churn, connection, RUN_ID, churn.scorable(range(1, ROWS + 1)), "scores after the resumed run")
    count, distinct = connection.execute(
        f"SELECT count(*), count(DISTINCT {KEY}) FROM scores WHERE run_id = %s", (RUN_ID,)).fetchone()
    assert count == distinct == ROWS - NULL_ROWS
    _assert_rejects(rejects_of(connection, RUN_ID), {str(k): c for k, c in churn.nulls.items()}, "rejects")
    assert ledger_of(connection, RUN_ID) == {
        "last_key": str(ROWS), "rows_scored": ROWS - NULL_ROWS, "rows_rejected": NULL_ROWS, "finished": True}


def test_rerun_of_a_finished_run_scores_only_new_rows(churn, database, demo_repository):
    connection = database.connection
    create_users(connection, churn.rows, churn.nulls)
    args = [*database.source_args(), *mapping_args(demo_repository), "--to-table", "scores", "--run-id", RUN_ID]
    assert run_score(args).summary["rows_scored"] == ROWS - NULL_ROWS
    before, last_scored_at = connection.execute(
        "SELECT count(*), max(scored_at) FROM scores WHERE run_id = %s", (RUN_ID,)).fetchone()

    with connection.cursor() as cursor:
        copy_users(cursor, churn.new_rows)
    connection.commit()
    summary = run_score(args).summary
    assert summary["resumed_after_key"] == str(ROWS), summary
    assert (summary["rows_read"], summary["rows_scored"], summary["rows_rejected"]) == (NEW_ROWS, NEW_ROWS, 0), summary

    new_keys = list(range(ROWS + 1, ROWS + NEW_ROWS + 1))
    _assert_scores(churn, connection, RUN_ID, churn.scorable(range(1, ROWS + 1)) + new_keys, "scores after the rerun")
    untouched = connection.execute(
        "SELECT count(*) FROM scores WHERE run_id = %s AND scored_at <= %s", (RUN_ID, last_scored_at)).fetchone()[0]
    assert untouched == before, "the rerun wrote rows the finished run had scored"
    assert ledger_of(connection, RUN_ID) == {
        "last_key": str(ROWS + NEW_ROWS), "rows_scored": ROWS - NULL_ROWS + NEW_ROWS, "rows_rejected": NULL_ROWS,
        "finished": True}


def test_query_source_scores_the_rows_it_selects(churn, database, demo_repository):
    connection = database.connection
    create_users(connection, churn.rows, churn.nulls)
    run = run_score(["--from-postgres", database.conninfo, "--query", "SELECT * FROM users WHERE age >= 50",
                     *mapping_args(demo_repository), "--to-table", "scores", "--run-id", "over_50"])
    summary = run.summary

    ages = churn.rows["age"]
    selected = [k for k in range(1, ROWS + 1) if ages[k - 1] >= 50 and churn.nulls.get(k) != "age"]
    rejected = {str(k): churn.nulls[k] for k in selected if k in churn.nulls}
    assert (summary["rows_read"], summary["rows_rejected"]) == (len(selected), len(rejected)), summary
    _assert_scores(churn, connection, "over_50", churn.scorable(selected), "scores of the query's rows")
    _assert_rejects(rejects_of(connection, "over_50"), rejected, "rejects of the query's rows")


def test_csv_to_csv_scores_in_file_order_and_rejects_bad_values(churn, demo_repository, tmp_path):
    n = 3000
    rows = _head(churn.rows, n)
    keys = rows[KEY].tolist()
    rng = np.random.default_rng(DATA_SEED + 2)
    order = rng.permutation(n)
    picked = [int(keys[i]) for i in rng.choice(n, 6, replace=False)]
    # key -> (column, text written instead of its value)
    bad = {picked[0]: ("monthly_charges", "abc"), picked[1]: ("monthly_charges", "abc"),
           picked[2]: ("total_charges", "abc"), picked[3]: ("age", ""), picked[4]: ("support_calls", "")}
    no_key = picked[5]  # written with an empty user_id

    columns = churn_data.COLUMNS
    source = tmp_path / "users.csv"
    with open(source, "w", newline="") as out:
        out.write(",".join(columns) + "\n")
        for i in order:
            key = int(keys[i])
            fields = [churn_data.text_value(c, rows[c][i]) for c in columns]
            if key in bad:
                column, text = bad[key]
                fields[columns.index(column)] = text
            if key == no_key:
                fields[columns.index(KEY)] = ""
            out.write(",".join(fields) + "\n")

    target = tmp_path / "scores.csv"
    mapping = mapping_args(demo_repository, output=f"{OUTPUT_COLUMN}=probabilities:0")
    run = run_score(["--from-csv", str(source), *mapping, "--to-csv", str(target), "--run-id", "csv"])
    summary = run.summary
    assert (summary["rows_read"], summary["rows_scored"], summary["rows_rejected"]) == (n, n - 6, 6), summary

    with open(target, newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == [KEY, OUTPUT_COLUMN], table[0]
    scored = np.asarray([int(r[0]) for r in table[1:]], dtype=np.int64)
    in_file_order = [int(keys[i]) for i in order if int(keys[i]) not in bad and int(keys[i]) != no_key]
    assert scored.tolist() == in_file_order, "the output rows are not the good rows in file order"
    assert_close(scored, np.asarray([float(r[1]) for r in table[1:]]), churn.expected[scored - 1], "CSV scores")

    with open(Path(str(target) + ".rejects.csv"), newline="") as f:
        rejected = list(csv.reader(f))
    assert rejected[0] == [KEY, "reason", "row_values"], rejected[0]
    expected = {str(k): column for k, (column, _) in bad.items()} | {"": KEY}
    _assert_rejects({r[0]: (r[1], r[2]) for r in rejected[1:]}, expected, "CSV rejects")
    assert len(rejected) - 1 == 6, rejected
    assert Path(str(target) + ".ledger").exists()


def test_offline_scores_equal_online_inference(surge, churn, database, demo_repository):
    n = 2000
    rows = _head(churn.rows, n)
    create_users(database.connection, rows)
    summary = run_score([*database.source_args(), *mapping_args(demo_repository), "--to-table", "scores",
                         "--run-id", "offline"]).summary
    assert summary["rows_scored"] == n, summary
    keys, offline = scores_of(database.connection, "offline")
    assert keys.tolist() == rows[KEY].tolist()

    features = churn_data.feature_matrix(rows)
    online = []
    with surge.client() as client:
        for start in range(0, n, 500):
            batch = features[start:start + 500]
            tensor = httpclient.InferInput("features", list(batch.shape), "FP32")
            tensor.set_data_from_numpy(batch, binary_data=True)
            probabilities = client.infer(CHURN_MODEL, [tensor]).as_numpy("probabilities")
            assert probabilities.shape == (len(batch), 1), probabilities.shape
            online.append(probabilities.reshape(-1))
    online = np.concatenate(online)
    differ = np.flatnonzero(offline.astype(np.float32) != online)
    assert differ.size == 0, (
        f"{differ.size} of {n} offline scores differ from the server's, e.g. "
        + ", ".join(f"{KEY} {keys[i]}: {offline[i]!r} vs {online[i]!r}" for i in differ[:5])
    )


_BAD_INVOCATIONS = {
    "unknown_input_column": (dict(columns=(*FEATURES[:-1], "no_such_column")), "no_such_column"),
    "unknown_key_column": (dict(key="no_such_key"), "no_such_key"),
    "7_columns_for_an_8_wide_input": (dict(columns=FEATURES[:7]), "features"),
    "unknown_model": (dict(model="no_such_model"), "no_such_model"),
    "unknown_output": (dict(output=f"{OUTPUT_COLUMN}=no_such_output"), "no_such_output"),
    "index_past_a_1_wide_output": (dict(output=f"{OUTPUT_COLUMN}=probabilities:1"), "probabilities"),
}


@pytest.mark.parametrize("case", list(_BAD_INVOCATIONS))
def test_bad_invocation_exits_2_naming_the_problem_from_postgres(case, churn, database, demo_repository):
    mapping, named = _BAD_INVOCATIONS[case]
    create_users(database.connection, _head(churn.rows, 100))
    run = run_score([*database.source_args(), *mapping_args(demo_repository, **mapping), "--to-table", "scores"])
    assert run.returncode == 2, run.describe()
    assert named in run.stderr, run.describe()
    connection = database.connection
    if table_exists(connection, "scores"):
        assert connection.execute("SELECT count(*) FROM scores").fetchone()[0] == 0


@pytest.mark.parametrize("case", list(_BAD_INVOCATIONS))
def test_bad_invocation_exits_2_naming_the_problem_from_csv(case, churn, demo_repository, tmp_path):
    mapping, named = _BAD_INVOCATIONS[case]
    source = tmp_path / "users.csv"
    with open(source, "w", newline="") as out:
        churn_data.write_csv(_head(churn.rows, 100), out)
    target = tmp_path / "scores.csv"
    run = run_score(["--from-csv", str(source), *mapping_args(demo_repository, **mapping), "--to-csv", str(target)])
    assert run.returncode == 2, run.describe()
    assert named in run.stderr, run.describe()
    if target.exists():
        assert len(target.read_text().splitlines()) <= 1, "rows were written"


def test_missing_source_exits_2_naming_it(churn, database, demo_repository, tmp_path):
    run = run_score([*database.source_args("no_such_table"), *mapping_args(demo_repository), "--to-table", "scores"])
    assert run.returncode == 2, run.describe()
    assert "no_such_table" in run.stderr, run.describe()

    missing = tmp_path / "no_such_file.csv"
    run = run_score(["--from-csv", str(missing), *mapping_args(demo_repository), "--to-csv", str(tmp_path / "out.csv")])
    assert run.returncode == 2, run.describe()
    assert "no_such_file.csv" in run.stderr, run.describe()

