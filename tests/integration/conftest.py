"""Fixtures for tests against a real Neo4j.

One server serves the whole session: the local server this project assembles, started once on
a free port with its own data dir under pytest's temporary folder (with authentication, so the
password path is exercised) and stopped at the end; or, when ``NEO4J_URI`` is set, that server
(``NEO4J_USER``, ``NEO4J_PASSWORD`` or ``NEO4J_PASSWORD_FILE``, ``NEO4J_DATABASE``).

Every test under ``tests/integration`` carries the ``integration`` marker.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from topo_graphdb.connection import ConnectionSettings
from topo_graphdb.server import free_port

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(_HERE):
            item.add_marker(pytest.mark.integration)


@dataclass(frozen=True)
class ServerUnderTest:
    """The server the session talks to; ``data_dir`` is None for an external ``NEO4J_URI``."""

    conn: ConnectionSettings
    data_dir: Path | None = None
    port: int | None = None
    started: dict[str, Any] | None = None


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture(scope="session")
def neo4j_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerUnderTest]:
    """The session's Neo4j (started here unless ``NEO4J_URI`` is set)."""
    if os.environ.get("NEO4J_URI"):
        from topo_graphdb.connection import settings_from  # noqa: PLC0415

        yield ServerUnderTest(conn=settings_from())  # NEO4J_URI is set: no local server needed
        return
    from topo_graphdb import server  # noqa: PLC0415

    data_dir = tmp_path_factory.mktemp("neo4j")
    port = free_port()
    started = server.start(
        data_dir=data_dir,
        port=port,
        heap=os.environ.get("TOPO_GRAPHDB_TEST_HEAP", "2g"),
        pagecache="256m",
        auth=True,
        timeout=600,
        progress=lambda msg: print(msg, file=sys.stderr),
    )
    try:
        local = server.local_connection(data_dir)
        conn = ConnectionSettings(uri=local.uri, user=local.user, password=local.password)
        yield ServerUnderTest(conn=conn, data_dir=data_dir, port=port, started=started)
    finally:
        server.stop(data_dir=data_dir)


@pytest.fixture(scope="session")
def neo4j_conn(neo4j_server: ServerUnderTest) -> ConnectionSettings:
    """Connection settings of the session's server."""
    return neo4j_server.conn


@pytest.fixture(scope="session")
def neo4j_driver(neo4j_conn: ConnectionSettings) -> Iterator[Any]:
    """An open :class:`neo4j.Driver` to the session's server."""
    from topo_graphdb.connection import open_driver  # noqa: PLC0415

    driver = open_driver(neo4j_conn)
    try:
        yield driver
    finally:
        driver.close()


@pytest.fixture
def unique_label(neo4j_driver: Any, neo4j_conn: ConnectionSettings) -> Iterator[str]:
    """A fresh label ``T_<hex>``; its nodes are deleted after the test."""
    label = f"T_{uuid.uuid4().hex[:12]}"
    yield label
    from topo_graphdb._cypher import quote_identifier  # noqa: PLC0415

    with neo4j_driver.session(database=neo4j_conn.database) as session:
        session.run(
            f"MATCH (n:{quote_identifier(label, what='label')}) "
            "CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
        ).consume()


@pytest.fixture
def cli(neo4j_conn: ConnectionSettings) -> Callable[..., CliResult]:
    """Run ``python -m topo_graphdb ARGS`` against the session's server.

    ``cli(*args, input=None, env=None)``: ``env`` entries override the environment (a None
    value removes the variable); returns ``.exit_code``, ``.stdout``, ``.stderr``.
    """
    base = {k: v for k, v in os.environ.items() if not k.startswith("NEO4J_")}
    base.update(NEO4J_URI=neo4j_conn.uri, NEO4J_USER=neo4j_conn.user, NEO4J_DATABASE=neo4j_conn.database)
    if neo4j_conn.password is not None:
        base["NEO4J_PASSWORD"] = neo4j_conn.password

    def run(*args: Any, input: str | None = None, env: dict[str, str | None] | None = None) -> CliResult:
        full = dict(base)
        for key, value in (env or {}).items():
            if value is None:
                full.pop(key, None)
            else:
                full[key] = value
        proc = subprocess.run(
            [sys.executable, "-m", "topo_graphdb", *map(str, args)],
            input=input,
            env=full,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        return CliResult(exit_code=proc.returncode, stdout=proc.stdout, stderr=proc.stderr)

    return run
