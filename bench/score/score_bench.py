"""Batch scoring throughput and memory: `surge score` with the churn demo model
over PostgreSQL tables of synthetic customers of several sizes (1M and 100k by
default), in a PostgreSQL server of its own (tests/e2e/postgres_e2e.py, the
tests' fixture). For each size: rows/s from the run's own summary, and its
peak RSS, so a memory that grows with the table shows as a difference between
the sizes. Prints a table and writes a JSON report with the machine, the
versions and the exact commands. Run by bench/score/run.sh.

Peak RSS is reported twice: the summary's peak_rss_bytes, and the kernel's
VmHWM of the surge process, read from /proc/PID/status every 10 ms while it
runs. Not the child's ru_maxrss from wait4: that also carries the high-water
mark of the process that forked it, up to its exec (this script, with a
table's worth of rows generated, if it made them itself). The tables are
made by a child process of their own all the same, to keep surge's parent
small.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from postgres_e2e import PostgresServer  # noqa: E402  (needs the path above)

MODEL = "churn_xgboost"
DATA_SEED = 11
KEY = "user_id"
SAMPLE_S = 0.01


def _churn_data():
    spec = importlib.util.spec_from_file_location("churn_data", ROOT / "scripts" / "models" / "churn_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_users(conninfo: str, table: str, rows: int) -> None:
    """In the child process (--load): CREATE TABLE, COPY the customers in, VACUUM ANALYZE."""
    import psycopg

    churn_data = _churn_data()
    data = churn_data.users(rows, seed=DATA_SEED)
    with psycopg.connect(conninfo) as connection:
        with connection.cursor() as cursor:
            cursor.execute(churn_data.create_table_sql(table))
            with cursor.copy(churn_data.copy_sql(table)) as copy:
                for chunk in churn_data.copy_chunks(data):
                    copy.write(chunk)
        connection.commit()
    with psycopg.connect(conninfo, autocommit=True) as connection:  # VACUUM runs outside a transaction
        connection.execute(f"VACUUM ANALYZE {table}")


def score_command(args: argparse.Namespace, conninfo: str, table: str) -> list[str]:
    churn_data = _churn_data()
    extra = ["--backend-directory", args.backend_directory] if args.backend_directory else []
    return [
        args.surge_bin, "score", *extra,
        "--model-repository", args.model_repository,
        "--model", MODEL,
        "--from-postgres", conninfo,
        "--table", table,
        "--key", KEY,
        "--input", "features=" + ",".join(churn_data.FEATURES),
        "--output", "churn_probability=probabilities",
        "--to-table", f"{table}_scores",
        "--run-id", table,  # a run of its own per table: the ledger is shared
        "--page-rows", str(args.page_rows),
        "--in-flight", str(args.in_flight),
        "--progress", "off",
    ]


def _vm_hwm_bytes(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def run_score(command: list[str], log_dir: Path, name: str) -> dict:
    """Runs one `surge score`: its summary, wall time and sampled peak RSS."""
    stdout_path, stderr_path = log_dir / f"{name}.stdout", log_dir / f"{name}.stderr"
    began = time.monotonic()
    peak = 0
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=ROOT)
        while process.poll() is None:
            peak = max(peak, _vm_hwm_bytes(process.pid) or 0)
            time.sleep(SAMPLE_S)
    wall = time.monotonic() - began
    if process.returncode != 0:
        raise SystemExit(f"score_bench: {' '.join(command)} exited {process.returncode}:\n"
                         f"{stderr_path.read_text(errors='replace')[-4000:]}")
    lines = stdout_path.read_text().strip().splitlines()
    if len(lines) != 1:
        raise SystemExit(f"score_bench: expected one line of JSON on stdout, got:\n{stdout_path.read_text()[:2000]}")
    return {"summary": json.loads(lines[0]), "wall_seconds": wall, "vm_hwm_bytes": peak}


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cpus": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()}


def versions(args: argparse.Namespace, server: PostgresServer) -> dict:
    surge = subprocess.run([args.surge_bin, "--version"], capture_output=True, text=True).stdout.strip()
    with server.connect() as connection:
        postgres = connection.execute("SHOW server_version").fetchone()[0]
    return {"surge": surge, "postgresql": postgres}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--surge-bin", default=str(ROOT / "build" / "release" / "surge"))
    parser.add_argument("--backend-directory", default=os.environ.get("SURGE_BACKEND_DIRECTORY", ""))
    parser.add_argument("--model-repository", default=str(ROOT / "model_repository"))
    parser.add_argument("--sizes", default="1000000,100000", help="table sizes, comma-separated")
    parser.add_argument("--page-rows", type=int, default=4096)
    parser.add_argument("--in-flight", type=int, default=4)
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "score.json"))
    parser.add_argument("--load", nargs=3, metavar=("CONNINFO", "TABLE", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        load_users(args.load[0], args.load[1], int(args.load[2]))
        return 0

    if not (Path(args.model_repository) / MODEL / "1" / "model.json").is_file():
        raise SystemExit(f"score_bench: no {MODEL} in {args.model_repository} "
                         f"(/usr/bin/python3 scripts/make_models.py --output {args.model_repository} --only {MODEL})")
    if not Path(args.surge_bin).is_file():
        raise SystemExit(f"score_bench: no surge binary at {args.surge_bin}")
    sizes = [int(s) for s in args.sizes.split(",") if s]

    server = PostgresServer()
    try:
        log_dir = server.directory / "logs"
        log_dir.mkdir()
        runs = []
        for rows in sizes:
            table = f"users_{rows}"
            began = time.monotonic()
            subprocess.run([sys.executable, __file__, "--load", server.conninfo(), table, str(rows)], check=True)
            print(f"score_bench: {rows} rows loaded into {table} in {time.monotonic() - began:.1f} s",
                  file=sys.stderr)
            command = score_command(args, server.conninfo(), table)
            result = run_score(command, log_dir, table)
            summary = result["summary"]
            if summary["rows_read"] != rows or summary["rows_scored"] != rows:
                raise SystemExit(f"score_bench: {table}: {summary}")
            runs.append({"rows": rows, "command": command, **result})
        report = {
            "benchmark": "surge score, PostgreSQL table -> PostgreSQL table",
            "model": MODEL,
            "page_rows": args.page_rows,
            "in_flight": args.in_flight,
            "machine": machine(),
            "versions": versions(args, server),
            "runs": runs,
        }
    finally:
        server.stop()

    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")

    print(f"{'rows':>10} {'seconds':>8} {'rows/s':>10} {'peak RSS MiB':>13} {'summary MiB':>12}")
    for run in runs:
        s = run["summary"]
        print(f"{run['rows']:>10} {s['seconds']:>8.2f} {s['rows_per_second']:>10.0f} "
              f"{run['vm_hwm_bytes'] / 2**20:>13.1f} {s['peak_rss_bytes'] / 2**20:>12.1f}")
    print("peak RSS: VmHWM of the surge process, sampled; summary: its peak_rss_bytes")
    print(f"machine: {report['machine']}; versions: {report['versions']}")
    print(f"written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
