"""Connection checks and errors against the real server: any database, unknown procedures, versions."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import neo4j
import pytest

from topo_graphdb.connection import open_driver
from topo_graphdb.db import Database
from topo_graphdb.ledger import Ledger, ensure_ledger_schema, get_run, list_runs, neo4j_versions
from topo_graphdb.pipeline.run import software_versions


def _one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got: {stderr!r}"
    assert lines[0].startswith("error: ") and "Traceback" not in stderr
    return lines[0]


def test_query_on_the_system_database(cli, neo4j_conn) -> None:
    result = cli("query", "--database", "system", "SHOW USERS YIELD user RETURN user", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert neo4j_conn.user in {row["user"] for row in json.loads(result.stdout)}


def test_open_driver_checks_every_database(neo4j_conn) -> None:
    from dataclasses import replace  # noqa: PLC0415

    for database in ("system", neo4j_conn.database):
        open_driver(replace(neo4j_conn, database=database)).close()


def test_missing_database_is_exit_4(cli) -> None:
    result = cli("query", "--database", f"nosuch{uuid.uuid4().hex[:8]}", "RETURN 1")
    assert result.exit_code == 4
    assert "does not exist" in _one_line_error(result.stderr)


def test_projection_calling_an_unknown_procedure_is_exit_3(cli, tmp_path: Path) -> None:
    projection = tmp_path / "projection.cypher"
    projection.write_text("CALL nosuch.procedure() YIELD x RETURN x AS source, x AS target\n")
    result = cli("export", "--projection", projection, "--out", tmp_path / "out")
    assert result.exit_code == 3, result.stderr
    assert "nosuch.procedure" in _one_line_error(result.stderr)


def test_query_calling_an_unknown_procedure_is_exit_3(cli) -> None:
    result = cli("query", "CALL nosuch.procedure()")
    assert result.exit_code == 3, result.stderr
    assert "nosuch.procedure" in _one_line_error(result.stderr)


@pytest.fixture(scope="module")
def db(neo4j_conn):
    with Database(neo4j_conn) as database:
        yield database


def test_versions_name_the_server_and_the_driver(db) -> None:
    found = neo4j_versions(db)
    assert found["neo4j_driver"] == neo4j.__version__
    assert found["neo4j_server"].split(".")[0] == "5" and found["neo4j_server"] != neo4j.__version__
    assert found["neo4j_edition"] in ("community", "enterprise")


@pytest.fixture
def scope(neo4j_driver, neo4j_conn, db):
    name = f"test-versions-{uuid.uuid4().hex[:8]}"
    ensure_ledger_schema(db)
    yield name
    neo4j_driver.execute_query("MATCH (r:TopoRun {scope: $scope}) DELETE r", scope=name, database_=neo4j_conn.database)


def test_ledger_records_server_and_driver_versions(neo4j_conn, db, scope) -> None:
    ledger = Ledger(db, scope)
    ledger.start(f"{scope}-new", {"version": software_versions(db)})
    run = get_run(neo4j_conn, f"{scope}-new")
    server_version = neo4j_versions(db)["neo4j_server"]
    assert run["version_neo4j_server"] == server_version and run["version_neo4j_server"].startswith("5.")
    assert run["version_neo4j_edition"] in ("community", "enterprise")
    assert run["version_neo4j_driver"] == neo4j.__version__
    assert "version_neo4j" not in run and "version_server" not in run
    # a run recorded under the old names reads back under the new ones
    ledger.start(f"{scope}-old", {"version": {"neo4j": "5.28.1", "server": "Neo4j Kernel 5.26.0 community"}})
    old = get_run(neo4j_conn, f"{scope}-old")
    assert (old["version_neo4j_driver"], old["version_neo4j_server"], old["version_neo4j_edition"]) == (
        "5.28.1", "5.26.0", "community",
    )  # fmt: skip
    assert {r["run_id"] for r in list_runs(neo4j_conn, scope=scope)} == {f"{scope}-new", f"{scope}-old"}
