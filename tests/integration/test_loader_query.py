"""Loading graphs and querying them through the CLI, against the real server."""

from __future__ import annotations

import json

import pytest


def count(cli, label: str, rel_type: str) -> tuple[int, int]:
    res = cli(
        "query", "-f", "cypher/graph_summary.cypher", "--param", f"label={label}", "--param", f"rel_type={rel_type}",
        "--format", "json",
    )
    assert res.exit_code == 0, res.stderr
    row = json.loads(res.stdout)[0]
    return row["nodes"], row["relationships"]


def test_cora_twice_leaves_the_same_graph(cli, unique_label):
    for _ in range(2):
        res = cli("load-dataset", "cora", "--label", unique_label, "--rel-type", "CITES_T", "--json")
        assert res.exit_code == 0, res.stderr
        report = json.loads(res.stdout)
        assert (report["nodes"], report["relationships"]) == (2708, 5278)
    assert count(cli, unique_label, "CITES_T") == (2708, 5278)
    res = cli("query", f"MATCH (n:`{unique_label}` {{id: 0}}) RETURN n.label AS label, size(n.features) AS dim", "--format", "json")
    row = json.loads(res.stdout)[0]
    assert row == {"label": 3, "dim": 1433}  # Cora node 0: class 3, 1433 features


def test_load_edges_with_time_and_duplicates(cli, unique_label, tmp_path):
    f = tmp_path / "e.csv"
    f.write_text("a,b,t,extra\n1,2,10,x\n2,3,20,y\n1,2,10,dup\n1,2,11,z\n3,3,5,loop\n")
    for _ in range(2):
        res = cli("load-edges", f, "--label", unique_label, "--rel-type", "R", "--src-col", "a", "--dst-col", "b",
                  "--time-col", "t", "--json")
        assert res.exit_code == 0, res.stderr
        assert json.loads(res.stdout)["duplicates_skipped"] == 1
    res = cli("query", f"MATCH (a:`{unique_label}`)-[r:R]->(b) RETURN a.id AS a, b.id AS b, r.t AS t ORDER BY a, b, t",
              "--format", "csv")
    assert res.stdout.splitlines()[1:] == ["1,2,10", "1,2,11", "2,3,20", "3,3,5"]
    res = cli("query", "SHOW CONSTRAINTS YIELD labelsOrTypes, properties RETURN labelsOrTypes, properties", "--format", "json")
    assert {"labelsOrTypes": [unique_label], "properties": ["id"]} in json.loads(res.stdout)


@pytest.mark.parametrize(
    "content, words",
    [
        ("src,dst\n1,2\n", None),
        ("src,x\n1,2\n", "missing column"),
        ("src,dst\n1,abc\n", "integer ids"),
        ("", "empty"),
    ],
)
def test_load_edges_bad_input(cli, unique_label, tmp_path, content, words):
    f = tmp_path / "e.csv"
    f.write_text(content)
    res = cli("load-edges", f, "--label", unique_label, "--rel-type", "R")
    if words is None:
        assert res.exit_code == 0, res.stderr
        return
    assert res.exit_code == 3
    assert words in res.stderr and len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr


def test_unknown_dataset_is_a_usage_error(cli):
    res = cli("load-dataset", "nope")
    assert res.exit_code == 2 and "nope" in res.stderr


def test_query_is_read_only_by_default(cli, unique_label):
    res = cli("query", f"CREATE (:`{unique_label}` {{id: 1}})")
    assert res.exit_code == 6 and "read" in res.stderr.lower()
    res = cli("query", f"CREATE (n:`{unique_label}` {{id: $id}}) RETURN n.id AS id", "--param", "id=7", "--write", "--format", "csv")
    assert res.exit_code == 0 and res.stdout.splitlines() == ["id", "7"]


def test_query_errors(cli, tmp_path):
    res = cli("query", "MATCH (n RETURN n")
    assert res.exit_code == 3 and res.stderr.startswith("error: the query failed")
    res = cli("query", "-f", tmp_path / "missing.cypher")
    assert res.exit_code == 3 and "not found" in res.stderr


def test_connection_errors_are_one_line(cli):
    res = cli("query", "RETURN 1", env={"NEO4J_PASSWORD": "definitely-wrong"})
    assert res.exit_code == 5 and "authentication failed" in res.stderr
    assert "definitely-wrong" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = cli("query", "RETURN 1", env={"NEO4J_URI": "bolt://127.0.0.1:1"})
    assert res.exit_code == 4 and "cannot reach" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = cli("query", "RETURN 1", env={"NEO4J_URI": "nonsense://x"})
    assert res.exit_code == 3 and len(res.stderr.strip().splitlines()) == 1


def test_http_uri_is_a_usage_error_even_when_http_answers(cli):
    """An HTTP URI (the driver's preview HTTP support) is refused before anything is sent."""
    import http.server  # noqa: PLC0415
    import threading  # noqa: PLC0415

    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    with http.server.HTTPServer(("127.0.0.1", 0), Answer) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            res = cli("query", "RETURN 1", env={"NEO4J_URI": f"http://127.0.0.1:{httpd.server_address[1]}"})
        finally:
            httpd.shutdown()
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 3 and len(lines) == 1, res.stderr
    assert lines[0].startswith("error: ") and "use bolt:// or neo4j://" in lines[0]
