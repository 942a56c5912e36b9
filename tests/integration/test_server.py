"""The local Neo4j server: start, status, stop, errors; APOC and GDS answer."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from topo_graphdb import server
from topo_graphdb.connection import open_driver
from topo_graphdb.errors import AuthError


@pytest.fixture(scope="module")
def local_server(neo4j_server):
    if neo4j_server.data_dir is None:
        pytest.skip("NEO4J_URI names an external server; these tests are about the local one")
    return neo4j_server


def _one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got: {stderr!r}"
    assert lines[0].startswith("error: ")
    assert "Traceback" not in stderr
    return lines[0]


def test_status_shows_version_apoc_and_gds(cli, local_server) -> None:
    result = cli("neo4j", "status", "--data-dir", local_server.data_dir, "--json")
    assert result.exit_code == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["running"] is True and info["ready"] is True
    assert info["version"].startswith("5.26.")
    assert info["edition"] == "community"
    assert info["port"] == local_server.port
    assert info["auth"] is True
    assert info["mode"] == server.MODE_SERVER
    assert info["apoc_error"] is None and info["apoc_version"] == info["version"]
    assert info["gds_error"] is None, info["gds_error"]
    assert info["gds_version"].startswith("2.13.")
    assert info["write_procedures"] is True and info["export_procedure"] is True


def test_apoc_and_gds_compute(neo4j_driver, neo4j_conn, unique_label: str) -> None:
    db = neo4j_conn.database
    records, _, _ = neo4j_driver.execute_query(
        "RETURN apoc.coll.sum([1, 2, 3.5]) AS total, apoc.text.join(['a', 'b'], '-') AS joined", database_=db
    )
    assert records[0]["total"] == 6.5 and records[0]["joined"] == "a-b"
    # a path a-b-c-d: undirected degrees 1, 2, 2, 1
    neo4j_driver.execute_query(
        f"CREATE (:{unique_label} {{name: 'a'}})-[:R]->(:{unique_label} {{name: 'b'}})"
        f"-[:R]->(:{unique_label} {{name: 'c'}})-[:R]->(:{unique_label} {{name: 'd'}})",
        database_=db,
    )
    graph = f"g_{unique_label}"
    records, _, _ = neo4j_driver.execute_query(
        "CALL gds.graph.project($graph, $label, {R: {orientation: 'UNDIRECTED'}}) "
        "YIELD nodeCount, relationshipCount RETURN nodeCount, relationshipCount",
        graph=graph,
        label=unique_label,
        database_=db,
    )
    assert (records[0]["nodeCount"], records[0]["relationshipCount"]) == (4, 6)
    try:
        records, _, _ = neo4j_driver.execute_query(
            "CALL gds.degree.stream($graph) YIELD nodeId, score "
            "RETURN gds.util.asNode(nodeId).name AS name, score",
            graph=graph,
            database_=db,
        )
    finally:
        neo4j_driver.execute_query("CALL gds.graph.drop($graph)", graph=graph, database_=db)
    assert {r["name"]: r["score"] for r in records} == {"a": 1.0, "b": 2.0, "c": 2.0, "d": 1.0}


def test_auth_is_on_with_a_private_password(cli, local_server) -> None:
    password_file = local_server.data_dir / "password"
    assert local_server.conn.password
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    result = cli("neo4j", "password", "--data-dir", local_server.data_dir)
    assert result.exit_code == 0
    assert result.stdout.strip() == local_server.conn.password


def test_wrong_password_is_an_auth_error(neo4j_conn) -> None:
    if neo4j_conn.password is None:
        pytest.skip("the server runs without authentication")
    with pytest.raises(AuthError) as info:
        open_driver(replace(neo4j_conn, password=neo4j_conn.password + "-wrong"))
    assert info.value.exit_code == 5
    assert "\n" not in str(info.value) and neo4j_conn.password not in str(info.value)


def test_start_on_a_running_server_reports_it(cli, local_server) -> None:
    pid = server.status(data_dir=local_server.data_dir)["pid"]
    result = cli("neo4j", "start", "--data-dir", local_server.data_dir, "--port", local_server.port)
    assert result.exit_code == 0, result.stderr
    assert "already running" in result.stdout
    again = server.start(data_dir=local_server.data_dir)
    assert again["already_running"] is True and again["pid"] == pid


def test_port_in_use_is_a_one_line_error(cli, local_server, tmp_path: Path) -> None:
    # the port of the running server, from another data dir
    result = cli("neo4j", "start", "--data-dir", tmp_path / "other", "--port", local_server.port)
    assert result.exit_code == 8
    assert "already in use" in _one_line_error(result.stderr)
    # a port some other program listens on
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        result = cli("neo4j", "start", "--data-dir", tmp_path / "other", "--port", sock.getsockname()[1])
    assert result.exit_code == 8
    assert "already in use" in _one_line_error(result.stderr)


def test_start_status_stop_and_stale_pid(cli, tmp_path: Path) -> None:
    """One throwaway server, without authentication: the full life cycle through the CLI."""
    data_dir = tmp_path / "throwaway"
    port = server.free_port()
    result = cli("neo4j", "start", "--data-dir", data_dir, "--port", port, "--no-auth",
                 "--heap", "1g", "--pagecache", "64m", "--timeout", "600")  # fmt: skip
    try:
        assert result.exit_code == 0, result.stderr
        assert "waiting for Bolt" in result.stderr  # progress goes to stderr
        status = cli("neo4j", "status", "--data-dir", data_dir, "--json")
        assert status.exit_code == 0
        info = json.loads(status.stdout)
        assert info["running"] and info["ready"] and info["auth"] is False and info["port"] == port
        # the CLI process that started it has exited: the server outlived it
        assert server.local_connection(data_dir).password is None
    finally:
        stopped = cli("neo4j", "stop", "--data-dir", data_dir)
    assert stopped.exit_code == 0 and "stopped" in stopped.stdout
    assert not (data_dir / "neo4j.pid").exists()

    status = cli("neo4j", "status", "--data-dir", data_dir)
    assert status.exit_code == 4
    assert "not running" in status.stdout
    assert "topo-graphdb neo4j start" in _one_line_error(status.stderr)

    # a stale pid file: a process that has exited
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (data_dir / "neo4j.pid").write_text(f"{dead.pid}\n")
    status = cli("neo4j", "status", "--data-dir", data_dir, "--json")
    assert status.exit_code == 4 and json.loads(status.stdout)["running"] is False
    assert not (data_dir / "neo4j.pid").exists()
    (data_dir / "neo4j.pid").write_text(f"{dead.pid}\n")
    stopped = cli("neo4j", "stop", "--data-dir", data_dir)
    assert stopped.exit_code == 0 and "not running" in stopped.stdout


@pytest.mark.parametrize(
    "password",
    ['-pa ss#"q" \'s\' back\\slash wörd€ ', '@at-first # not a comment \\"both\\" \'\'  '],
    ids=["leading-dash", "leading-at"],
)
def test_start_with_a_password_file_of_odd_characters(cli, tmp_path: Path, password: str) -> None:
    """The password given to `neo4j start` is the one Bolt accepts, also read back through NEO4J_PASSWORD_FILE."""
    pfile = tmp_path / "pw"
    pfile.write_text(password + "\n", encoding="utf-8")
    data_dir = tmp_path / "odd"
    port = server.free_port()
    result = cli("neo4j", "start", "--data-dir", data_dir, "--port", port, "--password-file", pfile,
                 "--heap", "1g", "--pagecache", "64m", "--timeout", "600")  # fmt: skip
    try:
        assert result.exit_code == 0, result.stderr
        assert password not in result.stdout + result.stderr
        uri = f"bolt://127.0.0.1:{port}"
        import neo4j  # noqa: PLC0415

        with neo4j.GraphDatabase.driver(uri, auth=("neo4j", password)) as driver:
            records, _, _ = driver.execute_query("RETURN 1 AS one", database_="neo4j")
        assert records[0]["one"] == 1
        via_file = cli("query", "RETURN 2 AS two", "--format", "csv",
                       env={"NEO4J_URI": uri, "NEO4J_USER": "neo4j", "NEO4J_PASSWORD": None, "NEO4J_PASSWORD_FILE": str(pfile)})  # fmt: skip
        assert via_file.exit_code == 0, via_file.stderr
        assert via_file.stdout.split() == ["two", "2"]
        stored = cli("neo4j", "password", "--data-dir", data_dir)
        assert stored.exit_code == 0 and stored.stdout == password + "\n"
        wrong = cli("query", "RETURN 1", env={"NEO4J_URI": uri, "NEO4J_PASSWORD": password.strip()})
        assert wrong.exit_code == 5  # the spaces are part of the password
    finally:
        stopped = cli("neo4j", "stop", "--data-dir", data_dir)
    assert stopped.exit_code == 0, stopped.stderr
