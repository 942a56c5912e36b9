"""Unit tests of the foundation pieces: edge files, snapshots, identifiers, query rendering."""

from __future__ import annotations

import json

import numpy as np
import pytest

from topo_graphdb._cypher import quote_identifier
from topo_graphdb.connection import settings_from
from topo_graphdb.edgefile import read_edge_csv, read_node_list
from topo_graphdb.errors import EmptyGraphError, InputError
from topo_graphdb.query import parse_params, render_result
from topo_graphdb.snapshot import GraphSnapshot, simple_undirected


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


class TestEdgeFile:
    def test_reads_ids_and_ignores_other_columns(self, tmp_path):
        p = write(tmp_path, "e.csv", "src,dst,weight\n1,2,0.5\n2,3,1.0\n")
        t = read_edge_csv(p)
        assert t.src.tolist() == [1, 2] and t.dst.tolist() == [2, 3]
        assert t.src.dtype == np.int64

    def test_time_column(self, tmp_path):
        p = write(tmp_path, "e.csv", "src,dst,t\n1,2,10\n2,3,20\n")
        assert read_edge_csv(p, time_col="t").time.tolist() == [10, 20]

    @pytest.mark.parametrize(
        "text, exc, words",
        [
            ("a,b\n1,2\n", InputError, "missing column"),
            ("src,dst\n1,x\n", InputError, "integer ids"),
            ("src,dst\n1,2.5\n", InputError, "integer ids"),
            ("src,dst\n", EmptyGraphError, "no edges"),
            ("", EmptyGraphError, "empty"),
        ],
    )
    def test_bad_input_is_one_line(self, tmp_path, text, exc, words):
        p = write(tmp_path, "e.csv", text)
        with pytest.raises(exc) as info:
            read_edge_csv(p)
        assert words in str(info.value) and "\n" not in str(info.value)

    def test_missing_file(self, tmp_path):
        with pytest.raises(InputError, match="not found"):
            read_edge_csv(tmp_path / "nope.csv")

    def test_node_list_with_and_without_header(self, tmp_path):
        assert read_node_list(write(tmp_path, "a.csv", "node\n3\n1\n")).tolist() == [3, 1]
        assert read_node_list(write(tmp_path, "b.txt", "5\n6\n")).tolist() == [5, 6]


class TestSnapshot:
    def test_simple_undirected_counts(self):
        ei = np.array([[0, 1, 2, 2, 3], [1, 0, 2, 3, 2]])
        edges, stats = simple_undirected(ei, 4)
        assert edges.tolist() == [[0, 2], [1, 3]]
        assert stats == {"input": 5, "self_loops": 1, "duplicates": 2, "edges": 2}

    def test_from_edges_maps_ids_in_sorted_order(self):
        s = GraphSnapshot.from_edges(np.array([30, 10]), np.array([10, 20]), nodes=np.array([99]))
        assert s.node_ids.tolist() == [10, 20, 30, 99]
        assert s.edge_index.tolist() == [[2, 0], [0, 1]]
        assert s.index_of(np.array([99, 10])).tolist() == [3, 0]
        with pytest.raises(InputError, match="unknown node ids"):
            s.index_of(np.array([7]))

    def test_rejects_out_of_range_edges(self):
        with pytest.raises(InputError):
            GraphSnapshot(np.array([1, 2]), np.array([[0], [2]]))

    def test_parquet_round_trip(self, tmp_path):
        s = GraphSnapshot(
            np.array(["4:a:0", "4:a:1", "4:a:2"], dtype=object),
            np.array([[0, 1], [1, 2]]),
            edge_time=np.array([5.0, 6.0]),
            x=np.arange(6, dtype=float).reshape(3, 2),
            y=np.array([0, 1, 1]),
            meta={"source": "test"},
        )
        back = GraphSnapshot.from_parquet(s.to_parquet(tmp_path / "snap"))
        assert back.node_ids.tolist() == s.node_ids.tolist()
        assert np.array_equal(back.edge_index, s.edge_index)
        assert np.array_equal(back.edge_time, s.edge_time)
        assert np.array_equal(back.x, s.x) and np.array_equal(back.y, s.y)
        assert back.meta == {"source": "test"}


class TestIdentifiers:
    @pytest.mark.parametrize(
        "name, quoted",
        [("Paper", "`Paper`"), ("my label", "`my label`"), ("a`b", "`a``b`"), ("Zeitschrift_ä", "`Zeitschrift_ä`")],
    )
    def test_quotes(self, name, quoted):
        assert quote_identifier(name) == quoted

    def test_injection_stays_inside_the_quotes(self):
        q = quote_identifier("X`) DETACH DELETE n //")
        assert q.startswith("`") and q.endswith("`")
        # every backtick inside is doubled, so the name cannot close the quoting early
        assert q[1:-1].replace("``", "") .count("`") == 0

    @pytest.mark.parametrize("bad", ["", "   ", "a\x00b", "line\nbreak", "x" * 300])
    def test_rejects(self, bad):
        with pytest.raises(InputError):
            quote_identifier(bad)


class TestQueryHelpers:
    def test_params_json_or_string(self):
        assert parse_params(["a=1", "b=[1,2]", "c=Paper", "d="]) == {"a": 1, "b": [1, 2], "c": "Paper", "d": ""}
        with pytest.raises(InputError):
            parse_params(["novalue"])

    def test_render_formats(self):
        keys, rows = ["n", "m"], [[1, {"a": 1}], [None, "x"]]
        assert render_result(keys, rows, "csv").splitlines() == ["n,m", '1,"{""a"": 1}"', ",x"]
        assert json.loads(render_result(keys, rows, "json")) == [{"n": 1, "m": {"a": 1}}, {"n": None, "m": "x"}]
        table = render_result(keys, rows, "table").splitlines()
        assert table[0].split("|")[0].strip() == "n" and table[-1] == "(2 rows)"


class TestSettings:
    def test_env_and_empty_values(self, monkeypatch, tmp_path):
        monkeypatch.setenv("NEO4J_URI", "neo4j+s://example.databases.neo4j.io")
        monkeypatch.setenv("NEO4J_USER", "")
        monkeypatch.setenv("NEO4J_PASSWORD", "")
        pw = tmp_path / "pw"
        pw.write_text("s3cret\n")
        monkeypatch.setenv("NEO4J_PASSWORD_FILE", str(pw))
        monkeypatch.setenv("NEO4J_DATABASE", "")
        s = settings_from()
        assert (s.uri, s.user, s.password, s.database) == ("neo4j+s://example.databases.neo4j.io", "neo4j", "s3cret", "neo4j")
        assert "s3cret" not in repr(s) and "s3cret" not in s.describe()

    def test_without_a_uri_the_local_server_is_asked_or_it_is_an_error(self, monkeypatch):
        from types import SimpleNamespace

        from topo_graphdb.errors import Neo4jUnavailable

        for name in ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "NEO4J_PASSWORD_FILE", "NEO4J_DATABASE"):
            monkeypatch.delenv(name, raising=False)
        with pytest.raises(Neo4jUnavailable, match="no Neo4j URI given"):
            settings_from()
        local = SimpleNamespace(uri="bolt://127.0.0.1:7999", user="neo4j", password="localpw")
        s = settings_from(local=lambda: local)
        assert (s.uri, s.user, s.password) == ("bolt://127.0.0.1:7999", "neo4j", "localpw")
        assert settings_from(user="other", local=lambda: local).password is None  # another user's password is never borrowed

    def test_explicit_beats_env(self, monkeypatch):
        monkeypatch.setenv("NEO4J_URI", "bolt://a:1")
        monkeypatch.setenv("NEO4J_PASSWORD", "envpw")
        s = settings_from(uri="bolt://b:2", password="optpw", database="db2")
        assert (s.uri, s.password, s.database) == ("bolt://b:2", "optpw", "db2")
