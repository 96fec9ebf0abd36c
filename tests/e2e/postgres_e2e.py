"""A real PostgreSQL server for the batch-scoring tests and benchmark: initdb
into a fresh temporary directory, then `postgres` as a child process on a
free loopback port, trust authentication, a superuser role `surge` and a
database `surge`.

PostgreSQL refuses to run as root. Under root (as in CI) the cluster belongs
to the unprivileged `postgres` system user that Debian's postgresql package
creates (created here when missing), and initdb and the server run as that
user; otherwise they run as the current user. The directory lives in the
system temporary directory, which that user can reach (pytest's own
temporary directories are private to the user running pytest).

Needs only the standard library and psycopg, so bench/score/ uses it too.
Every wait polls a condition against a deadline.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

READY_TIMEOUT_S = 60.0  # server start until it accepts connections
STOP_TIMEOUT_S = 30.0  # SIGINT (fast shutdown) until exit
INITDB_TIMEOUT_S = 120.0
SERVICE_USER = "postgres"  # who owns the cluster when the caller is root
ROLE = "surge"
DATABASE = "surge"

# A throwaway cluster: durability buys nothing and costs seconds.
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
    "log_min_messages": "warning",
}


def bin_directory() -> Path:
    """SURGE_POSTGRES_BIN, else PostgreSQL 15's, else the newest under
    /usr/lib/postgresql, else wherever initdb is on PATH."""
    explicit = os.environ.get("SURGE_POSTGRES_BIN")
    if explicit:
        return Path(explicit)
    root = Path("/usr/lib/postgresql")
    if (root / "15" / "bin" / "initdb").exists():
        return root / "15" / "bin"
    versions = sorted((p for p in root.glob("*/bin") if (p / "initdb").exists()),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    if versions:
        return versions[-1]
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("PostgreSQL's initdb was not found (scripts/install-deps installs postgresql)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class _Owner:
    uid: int
    gid: int
    name: str

    @property
    def is_me(self) -> bool:
        return self.uid == os.geteuid()


def _cluster_owner() -> _Owner:
    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
        return _Owner(entry.pw_uid, entry.pw_gid, entry.pw_name)
    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        result = subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", SERVICE_USER],
            capture_output=True, text=True, timeout=60,
        )
        if result.returncode != 0:
            raise RuntimeError(f"cannot create the {SERVICE_USER} user PostgreSQL runs as under root: "
                               f"{result.stderr.strip()}")
        entry = pwd.getpwnam(SERVICE_USER)
    return _Owner(entry.pw_uid, entry.pw_gid, entry.pw_name)


def _reachable_by_others(directory: Path) -> bool:
    """True when every directory from / down to `directory` can be searched by any user."""
    path = directory.resolve()
    for part in (path, *path.parents):
        if not os.stat(part).st_mode & stat.S_IXOTH:
            return False
    return True


def _base_directory(owner: _Owner) -> Path:
    parent = Path(tempfile.gettempdir())
    if not owner.is_me and not _reachable_by_others(parent):
        parent = Path("/tmp")
    base = Path(tempfile.mkdtemp(prefix="surge-postgres-", dir=parent))
    if not owner.is_me:
        os.chown(base, owner.uid, owner.gid)
    return base


class PostgresServer:
    """A PostgreSQL cluster of its own, started at construction; stop() removes it."""

    def __init__(self) -> None:
        self.bin = bin_directory()
        self.owner = _cluster_owner()
        self.directory = _base_directory(self.owner)
        self.data = self.directory / "data"
        self.port = 0
        self.process: subprocess.Popen | None = None
        try:
            self._initdb()
            for _ in range(5):  # another process may take the free port first
                self.port = free_port()
                self._spawn()
                if self._wait_ready():
                    break
                self._kill()
            else:
                raise RuntimeError(f"PostgreSQL did not start\n{self.describe()}")
            with self.connect("postgres", autocommit=True) as connection:
                connection.execute(f"CREATE DATABASE {DATABASE}")
        except BaseException:
            self.stop()
            raise

    # -- addresses ----------------------------------------------------------

    def conninfo(self, dbname: str = DATABASE) -> str:
        """A libpq connection string, as `surge score --from-postgres` takes it."""
        return f"host=127.0.0.1 port={self.port} user={ROLE} dbname={dbname}"

    def connect(self, dbname: str = DATABASE, autocommit: bool = False) -> psycopg.Connection:
        return psycopg.connect(self.conninfo(dbname), autocommit=autocommit, connect_timeout=10)

    def create_database(self, name: str) -> str:
        """A new, empty database; returns its conninfo."""
        with self.connect("postgres", autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            connection.execute(f"CREATE DATABASE {name}")
        return self.conninfo(name)

    def drop_database(self, name: str) -> None:
        with self.connect("postgres", autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    # -- logs ---------------------------------------------------------------

    @property
    def log_path(self) -> Path:
        return self.directory / "postgres.log"

    def describe(self, tail_lines: int = 100) -> str:
        parts = [f"PostgreSQL in {self.data} (bin {self.bin}, run as {self.owner.name}), port {self.port}"]
        for name in ("initdb.log", "postgres.log"):
            path = self.directory / name
            if path.exists():
                lines = path.read_text(errors="replace").splitlines()[-tail_lines:]
                parts.append(f"--- {name} ---\n" + "\n".join(lines))
        return "\n".join(parts)

    # -- life cycle ---------------------------------------------------------

    def _as_owner(self) -> dict:
        """Popen arguments that run the child as the cluster's owner."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.directory),
            "LC_ALL": "C",
            "TZ": "UTC",
        }
        options: dict = {"cwd": self.directory, "env": env, "stdin": subprocess.DEVNULL}
        if not self.owner.is_me:
            options.update(user=self.owner.uid, group=self.owner.gid, extra_groups=[])
        return options

    def _initdb(self) -> None:
        command = [str(self.bin / "initdb"), "--pgdata", str(self.data), "--username", ROLE, "--auth", "trust",
                   "--encoding", "UTF8", "--locale", "C", "--no-sync"]
        with open(self.directory / "initdb.log", "wb") as log:
            try:
                returncode = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT,
                                            timeout=INITDB_TIMEOUT_S, **self._as_owner()).returncode
                outcome = f"exit {returncode}" if returncode != 0 else ""
            except subprocess.TimeoutExpired:
                outcome = f"still running after {INITDB_TIMEOUT_S:.0f} s"
            except OSError as e:
                raise RuntimeError(f"cannot run {command[0]}: {e}") from e
        if outcome:
            raise RuntimeError(f"initdb failed ({outcome}): {' '.join(command)}\n{self.describe()}")

    def _spawn(self) -> None:
        command = [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
                   "-k", str(self.directory)]
        for key, value in SERVER_SETTINGS.items():
            command += ["-c", f"{key}={value}"]
        with open(self.log_path, "ab") as log:
            try:
                self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, **self._as_owner())
            except OSError as e:
                raise RuntimeError(f"cannot run {command[0]}: {e}") from e

    def _wait_ready(self) -> bool:
        """True once the server accepts connections; False when it exited (a taken port)."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                return False
            try:
                with psycopg.connect(self.conninfo("postgres"), connect_timeout=2) as connection:
                    connection.execute("SELECT 1")
                return True
            except psycopg.OperationalError:
                pass
            if time.monotonic() >= deadline:
                raise RuntimeError(f"PostgreSQL did not accept connections within {READY_TIMEOUT_S:.0f} s\n"
                                   f"{self.describe()}")
            time.sleep(0.05)

    def _kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_S)

    def stop(self) -> None:
        """Fast shutdown (SIGINT: connections are closed, nothing is flushed), then the directory goes."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._kill()
        shutil.rmtree(self.directory, ignore_errors=True)
