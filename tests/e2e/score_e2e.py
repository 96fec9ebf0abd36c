"""What the batch-scoring tests share: the churn demo's customers
(scripts/models/churn_data.py, loaded by its path: the venv has no torch for
the package around it), users tables in PostgreSQL, `surge score` runs and
their one-line JSON summaries, and the predictions of XGBoost's own Python
package on the same float32 features.

XGBoost's predictions come from the Python that makes the demo models
(SURGE_MODELS_PYTHON, default /usr/bin/python3): Debian's python3-xgboost is
the same release as the libxgboost the xgboost backend links.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import psycopg

from surge_e2e import REPO_ROOT, backend_directory_args, surge_binary

_spec = importlib.util.spec_from_file_location("churn_data", REPO_ROOT / "scripts" / "models" / "churn_data.py")
assert _spec is not None and _spec.loader is not None
churn_data = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(churn_data)

CHURN_MODEL = "churn_xgboost"
KEY = churn_data.KEY
FEATURES: tuple[str, ...] = churn_data.FEATURES
OUTPUT_COLUMN = "churn_probability"
LEDGER_TABLE = "surge_score_ledger"

SCORE_TIMEOUT_S = 180.0  # one `surge score` run of the tests' tables
PREDICT_TIMEOUT_S = 300.0  # XGBoost's Python predictions


def churn_model_dir(repository: Path) -> Path:
    model_dir = repository / CHURN_MODEL
    if not (model_dir / "1" / "model.json").is_file() or not (model_dir / "config.pbtxt").is_file():
        raise RuntimeError(
            f"{model_dir} is incomplete: make it with "
            f"/usr/bin/python3 scripts/make_models.py --output {repository} --only {CHURN_MODEL}"
        )
    return model_dir


def mapping_args(
    repository: Path,
    *,
    model: str = CHURN_MODEL,
    key: str = KEY,
    columns: Sequence[str] = FEATURES,
    output: str = f"{OUTPUT_COLUMN}=probabilities",
) -> list[str]:
    """The model and how the churn columns map onto it."""
    return [
        "--model-repository", str(repository),
        "--model", model,
        "--key", key,
        "--input", "features=" + ",".join(columns),
        "--output", output,
    ]


def score_command(args: Sequence[str]) -> list[str]:
    return [str(surge_binary()), "score", *backend_directory_args(), *args]


@dataclass
class ScoreRun:
    command: list[str]
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return (
            f"command: {' '.join(self.command)}\nexit status: {self.returncode}\n"
            f"--- stdout ---\n{self.stdout[-4000:]}\n--- stderr ---\n{self.stderr[-4000:]}"
        )

    @property
    def summary(self) -> dict:
        """The one line of JSON a successful run prints on stdout (not a TTY here)."""
        assert self.returncode == 0, f"surge score failed\n{self.describe()}"
        lines = self.stdout.strip().splitlines()
        assert len(lines) == 1, f"stdout is not one line of JSON\n{self.describe()}"
        summary = json.loads(lines[0])
        for field in ("run_id", "rows_read", "rows_scored", "rows_rejected", "resumed_after_key", "seconds",
                      "rows_per_second", "peak_rss_bytes"):
            assert field in summary, f"summary lacks {field}: {lines[0]}"
        assert summary["rows_scored"] + summary["rows_rejected"] == summary["rows_read"], lines[0]
        assert summary["peak_rss_bytes"] > 0, lines[0]
        return summary


def run_score(args: Sequence[str], timeout_s: float = SCORE_TIMEOUT_S) -> ScoreRun:
    command = score_command(args)
    if not Path(command[0]).exists():
        raise RuntimeError(f"surge binary not found at {command[0]}: build it or point SURGE_BIN at one")
    try:
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=timeout_s, cwd=REPO_ROOT)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"surge score ran past {timeout_s:.0f} s: {' '.join(command)}\n"
                             f"--- stderr ---\n{(e.stderr or b'')[-4000:]!r}")
    return ScoreRun(command, result.returncode, result.stdout, result.stderr)


class ScoreProcess:
    """A `surge score` in the background, its output in files (a killed run leaves no pipe to drain)."""

    def __init__(self, args: Sequence[str], log_dir: Path):
        self.command = score_command(args)
        log_dir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = log_dir / "score.stdout"
        self.stderr_path = log_dir / "score.stderr"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                            cwd=REPO_ROOT)

    def describe(self) -> str:
        return (
            f"command: {' '.join(self.command)}\nexit status: {self.process.poll()}\n"
            f"--- stdout ---\n{self.stdout_path.read_text(errors='replace')[-4000:]}\n"
            f"--- stderr ---\n{self.stderr_path.read_text(errors='replace')[-4000:]}"
        )

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)


# ---------------------------------------------------------------------------
# Tables


def create_users(connection: psycopg.Connection, rows: dict, nulls: dict[int, str] | None = None,
                 table: str = "users") -> None:
    """CREATE TABLE and COPY the rows in; nulls: user_id -> the column left NULL."""
    with connection.cursor() as cursor:
        cursor.execute(churn_data.create_table_sql(table))
        copy_users(cursor, rows, nulls, table)
    connection.commit()


def copy_users(cursor: psycopg.Cursor, rows: dict, nulls: dict[int, str] | None = None,
               table: str = "users") -> None:
    with cursor.copy(churn_data.copy_sql(table)) as copy:
        for chunk in churn_data.copy_chunks(rows, nulls):
            copy.write(chunk)


def scores_of(connection: psycopg.Connection, run_id: str, table: str = "scores") -> tuple[np.ndarray, np.ndarray]:
    """(keys, probabilities) of a run, in key order."""
    rows = connection.execute(
        f"SELECT {KEY}, {OUTPUT_COLUMN} FROM {table} WHERE run_id = %s ORDER BY {KEY}", (run_id,)
    ).fetchall()
    keys = np.asarray([r[0] for r in rows], dtype=np.int64)
    values = np.asarray([r[1] for r in rows], dtype=np.float64)
    return keys, values


def rejects_of(connection: psycopg.Connection, run_id: str, table: str = "scores_rejects") -> dict[str, tuple]:
    """key (text) -> (reason, row_values) of a run's rejected rows; none while the table is missing."""
    try:
        rows = connection.execute(f"SELECT {KEY}, reason, row_values FROM {table} WHERE run_id = %s",
                                  (run_id,)).fetchall()
    except psycopg.errors.UndefinedTable:
        connection.rollback()
        return {}
    return {r[0]: (r[1], r[2]) for r in rows}


def ledger_of(connection: psycopg.Connection, run_id: str) -> dict | None:
    """The ledger row of a run, None before its first page is committed."""
    try:
        row = connection.execute(
            f"SELECT last_key, rows_scored, rows_rejected, finished FROM {LEDGER_TABLE} WHERE run_id = %s",
            (run_id,),
        ).fetchone()
    except psycopg.errors.UndefinedTable:
        connection.rollback()
        return None
    connection.rollback()  # a fresh snapshot for the next look
    if row is None:
        return None
    return {"last_key": row[0], "rows_scored": row[1], "rows_rejected": row[2], "finished": row[3]}


def column_types(connection: psycopg.Connection, table: str) -> dict[str, str]:
    rows = connection.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s", (table,)
    ).fetchall()
    return dict(rows)


def table_exists(connection: psycopg.Connection, table: str) -> bool:
    return connection.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]


# ---------------------------------------------------------------------------
# XGBoost's own predictions

_PREDICT = """
import sys
import numpy as np
import xgboost
booster = xgboost.Booster(model_file=sys.argv[1])
features = np.load(sys.argv[2])
np.save(sys.argv[3], booster.predict(xgboost.DMatrix(features, missing=np.nan)).astype(np.float32))
"""


def python_predictions(model_dir: Path, features: np.ndarray) -> np.ndarray:
    """P(churn) for each row of `features` ([n, 8] float32), from xgboost.Booster."""
    python = os.environ.get("SURGE_MODELS_PYTHON", "/usr/bin/python3")
    with tempfile.TemporaryDirectory(prefix="surge-churn-") as directory:
        features_path = Path(directory) / "features.npy"
        out_path = Path(directory) / "predictions.npy"
        np.save(features_path, np.ascontiguousarray(features, dtype=np.float32))
        result = subprocess.run(
            [python, "-c", _PREDICT, str(model_dir / "1" / "model.json"), str(features_path), str(out_path)],
            capture_output=True, text=True, timeout=PREDICT_TIMEOUT_S,
        )
        if result.returncode != 0:
            raise RuntimeError(f"XGBoost's predictions with {python} failed:\n{result.stderr[-4000:]}")
        predictions = np.load(out_path)
    assert predictions.shape == (len(features),), predictions.shape
    return predictions


def assert_close(keys: np.ndarray, values: np.ndarray, expected: np.ndarray, what: str,
                 tolerance: float = 1e-6) -> None:
    """values[i] (the score of keys[i]) within `tolerance` of expected[i]."""
    assert len(values) == len(expected), f"{what}: {len(values)} scores, {len(expected)} expected"
    difference = np.abs(np.asarray(values, dtype=np.float64) - np.asarray(expected, dtype=np.float64))
    bad = np.flatnonzero(~(difference <= tolerance))
    assert bad.size == 0, (
        f"{what}: {bad.size} of {len(values)} scores differ from XGBoost's by more than {tolerance}, e.g. "
        + ", ".join(f"{KEY} {keys[i]}: {values[i]!r} vs {expected[i]!r}" for i in bad[:5])
    )
