"""Fixtures that run the real surge binary.

`surge` is one server on the demo repository (model_repository/), shared by the
whole session. `surge_factory(repository, *args)` starts a server of the test's
own, stopped with SIGTERM at teardown, which must then exit 0. When a test fails,
the logs of every server it used are attached to its report. `postgres` is one
PostgreSQL server for every test that uses it (postgres_e2e.py).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from surge_e2e import REPO_ROOT, SurgeServer, launch_surge


def _servers_of(item: pytest.Item) -> list[SurgeServer]:
    if not hasattr(item, "_surge_servers"):
        item._surge_servers = []  # type: ignore[attr-defined]
    return item._surge_servers  # type: ignore[attr-defined]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for index, server in enumerate(_servers_of(item)):
            report.sections.append((f"surge server {index} ({server.repository})", server.describe()))


def _start(repository: Path, log_dir: Path, args: tuple[str, ...], wait_ready: bool) -> SurgeServer:
    try:
        server = launch_surge(repository, log_dir, args)
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    if wait_ready:
        try:
            server.wait_ready()
        except RuntimeError:
            server.stop()
            raise
    return server


@pytest.fixture(scope="session")
def demo_repository() -> Path:
    """model_repository/ (or SURGE_MODEL_REPOSITORY), built by scripts/make_models.py if missing."""
    repository = Path(os.environ.get("SURGE_MODEL_REPOSITORY", REPO_ROOT / "model_repository"))
    if not repository.is_dir():
        script = REPO_ROOT / "scripts" / "make_models.py"
        if not script.exists():
            pytest.fail(f"{repository} is missing and there is no {script} to build it", pytrace=False)
        python = os.environ.get("SURGE_MODELS_PYTHON", "/usr/bin/python3")
        subprocess.run([python, str(script), "--output", str(repository)], cwd=REPO_ROOT, check=True, timeout=1800)
    return repository


@pytest.fixture(scope="session")
def _demo_server(demo_repository: Path, tmp_path_factory: pytest.TempPathFactory):
    server = _start(demo_repository, tmp_path_factory.mktemp("surge-demo"), (), wait_ready=True)
    yield server
    running = server.process.poll() is None
    status = server.stop()
    if running:
        assert status == 0, f"surge exited {status} after SIGTERM\n{server.describe()}"


@pytest.fixture
def surge(_demo_server: SurgeServer, request: pytest.FixtureRequest) -> SurgeServer:
    """The shared server on the demo repository."""
    _servers_of(request.node).append(_demo_server)
    return _demo_server


@pytest.fixture
def surge_factory(request: pytest.FixtureRequest, tmp_path: Path):
    """Starts servers for one test: surge_factory(repository, *extra_args, wait_ready=True)."""
    started: list[SurgeServer] = []

    def start(repository: Path, *extra_args: str, wait_ready: bool = True) -> SurgeServer:
        log_dir = tmp_path / f"surge-{len(started)}"
        server = _start(Path(repository), log_dir, extra_args, wait_ready)
        started.append(server)
        _servers_of(request.node).append(server)
        return server

    yield start

    problems = []
    for server in started:
        # A server the test already stopped (or that exited on its own) is the
        # test's business; one still running must drain and exit 0 on SIGTERM.
        running = server.process.poll() is None
        status = server.stop()
        if running and status != 0:
            problems.append(f"surge exited {status} after SIGTERM\n{server.describe()}")
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server on a free loopback port, removed once the tests are done.

    One that cannot start fails the tests that use it, with its log.
    """
    # Imported here: psycopg is needed only by the tests that use PostgreSQL.
    from postgres_e2e import PostgresServer

    try:
        server = PostgresServer()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    yield server
    server.stop()
