"""Graph selection and the write-back helpers (no server)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from topo_graphdb import writeback as W
from topo_graphdb.connector import GraphSpec, Predicate, parse_predicate, spec_from_options
from topo_graphdb.errors import InputError
from topo_graphdb.identity import resolve_identity
from topo_graphdb.linkrank import rank_links


# --------------------------------------------------------------------------- predicates
@pytest.mark.parametrize(
    "text, expected",
    [
        ("year >= 2010", ("year", ">=", 2010)),
        ("year>=2010", ("year", ">=", 2010)),
        ("score < -0.5", ("score", "<", -0.5)),
        ("name = \"Ada\"", ("name", "=", "Ada")),
        ("name = 'Ada Lovelace'", ("name", "=", "Ada Lovelace")),
        ("name <> Ada", ("name", "<>", "Ada")),
        ("kind IN [1, 2, 3]", ("kind", "IN", (1, 2, 3))),
        ("kind in ['a', \"b\"]", ("kind", "IN", ("a", "b"))),
        ("title starts  with 'Deep'", ("title", "STARTS WITH", "Deep")),
        ("title CONTAINS graph", ("title", "CONTAINS", "graph")),
        ("email IS NULL", ("email", "IS NULL", None)),
        ("email is not null", ("email", "IS NOT NULL", None)),
        ("`first name` = 'Al'", ("first name", "=", "Al")),
        ("`we``ird` <= 3", ("we`ird", "<=", 3)),
        ("flag = true", ("flag", "=", True)),
        ("größe > 1.5", ("größe", ">", 1.5)),
        ("index = 4", ("index", "=", 4)),  # a property starting with "in" is not the IN operator
    ],
)
def test_parse_predicate(text, expected):
    p = parse_predicate(text)
    assert (p.prop, p.op, p.value) == expected


@pytest.mark.parametrize("text", ["", "year", "year ~ 3", "year >=", "email IS NULL 3", "kind IN 3", "x STARTS WITH 3"])
def test_parse_predicate_rejects(text):
    with pytest.raises(InputError):
        parse_predicate(text)


@pytest.mark.parametrize(
    "args",
    [("p", "LIKE", 1), ("p", "=", None), ("p", "IS NULL", 3), ("p", "IN", "abc"), ("p", "CONTAINS", 5), ("", "=", 1)],
)
def test_predicate_validation(args):
    with pytest.raises(InputError):
        Predicate(*args)


def test_predicate_cypher_uses_parameter_and_quoted_property():
    p = Predicate("a`) DETACH DELETE n //", "=", "x")
    text = p.cypher("n", "np0")
    assert text == "n.`a``) DETACH DELETE n //` = $np0"
    assert Predicate("p", "is not null").cypher("r", "q") == "r.`p` IS NOT NULL"


# --------------------------------------------------------------------------- GraphSpec
def test_spec_normalises_and_is_hashable():
    s = GraphSpec(labels="Paper", rel_types=["CITES"], node_where=[("k", "IN", [1, 2])], rel_where="w > 0.5")
    assert s.labels == ("Paper",)
    assert s.rel_types == ("CITES",)
    assert s.node_where == (Predicate("k", "IN", (1, 2)),)
    assert s.rel_where == (Predicate("w", ">", 0.5),)
    assert hash(s) == hash(GraphSpec(labels=("Paper",), rel_types="CITES", node_where=[("k", "IN", (1, 2))], rel_where=["w > 0.5"]))
    single = GraphSpec(node_where=("year", ">=", 2000))
    assert single.node_where == (Predicate("year", ">=", 2000),)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"orientation": "both"},
        {"labels": ["A", "A"]},
        {"labels": [""]},
        {"since": 3},  # needs a time property
        {"time_property": "t", "since": "yesterday"},
        {"time_property": "t", "since": float("nan")},
        {"projection": "   "},
        {"projection": "MATCH (a)-->(b) RETURN elementId(a) AS source, elementId(b) AS target", "labels": ["A"]},
        {"projection": "RETURN 1", "weight_property": "w"},
        {"key_property": "bad\x00name"},
    ],
)
def test_spec_rejects(kwargs):
    with pytest.raises(InputError):
        GraphSpec(**kwargs)


def test_spec_from_options(tmp_path):
    proj = tmp_path / "p.cypher"
    proj.write_text("MATCH (a)-[r]->(b) RETURN elementId(a) AS source, elementId(b) AS target")
    s = spec_from_options(labels=["A", "B"], where=["x > 1"], time_property="t", since="1700000000", orientation="natural")
    assert s.labels == ("A", "B") and s.since == 1700000000 and s.node_where[0].value == 1
    p = spec_from_options(projection_file=proj, key_property="id")
    assert p.projection.startswith("MATCH") and p.key_property == "id"
    with pytest.raises(InputError, match="projection file"):
        spec_from_options(projection_file=tmp_path / "missing.cypher")
    with pytest.raises(InputError, match="since"):
        spec_from_options(time_property="t", since="[1")


def test_describe_is_json_friendly():
    import json

    s = GraphSpec(labels="A", node_where=["x IN [1, 2]"])
    d = json.loads(json.dumps(s.describe()))
    assert d["labels"] == ["A"] and d["node_where"] == ["x IN [1, 2]"]
    assert s.identity == {"labels": ["A"], "key_property": None}


# --------------------------------------------------------------------------- write-back helpers
def _naive_rank(src, dst, scores, top_k, min_score):
    best = {}
    for a, b, s in zip(src, dst, scores):
        if a == b or not np.isfinite(s) or (min_score is not None and s < min_score):
            continue
        if (a, b) not in best or s > best[(a, b)]:
            best[(a, b)] = s
    per = {}
    for (a, b), s in best.items():
        per.setdefault(a, []).append((-s, b))
    out = []
    for a in sorted(per):
        items = sorted(per[a])[: top_k if top_k else None]
        out += [(a, b, -ns) for ns, b in items]
    return out


def test_rank_links_matches_naive_oracle():
    rng = np.random.default_rng(1)
    for top_k, min_score in itertools.product([None, 1, 3], [None, 0.3]):
        for _ in range(10):
            n, m = 7, 40
            src = rng.integers(0, n, m)
            dst = rng.integers(0, n, m)
            sc = np.round(rng.random(m), 1)  # ties on purpose
            sc[rng.integers(0, m)] = np.nan
            sources, s, d, scr, _, stats = rank_links(n, src, dst, sc, top_k, min_score)
            assert list(zip(s.tolist(), d.tolist(), scr.tolist())) == _naive_rank(src, dst, sc, top_k, min_score)
            assert sources.tolist() == sorted(set(src[np.isfinite(sc)].tolist()))


def test_column_values_missing_become_none():
    vals, miss = W._column_values("c", np.array([1.0, np.nan, 3.0]), 3)
    assert vals == [1.0, None, 3.0] and miss == 1
    vals, miss = W._column_values("c", np.array([[1.0, 2.0], [np.nan, np.nan], [np.nan, 1.0]]), 3)
    assert vals[0] == [1.0, 2.0] and vals[1] is None and np.isnan(vals[2][0]) and miss == 1
    vals, miss = W._column_values("c", np.array(["a", None, "b"], dtype=object), 3)
    assert vals == ["a", None, "b"] and miss == 1
    assert W._column_values("c", np.array([1, 2, 3]), 3) == ([1, 2, 3], 0)
    with pytest.raises(InputError, match="shape"):
        W._column_values("c", np.zeros(4), 3)


def test_node_identity_patterns():
    assert W.NodeIdentity(("Paper",), "id").match("n", "row[0]") == "(n:`Paper` {`id`: row[0]})"
    assert W.NodeIdentity(("A", "B"), "id").match("n", "x") == "(n:`A`|`B`) WHERE n.`id` = x"
    assert W.NodeIdentity(("Paper",)).match("n", "row[0]") == "(n) WHERE elementId(n) = row[0] AND n:`Paper`"
    assert W.NodeIdentity(()).match("n", "row[0]") == "(n) WHERE elementId(n) = row[0]"
    assert W.NodeIdentity(("P",), "id").id_of("x") == "x.`id`"
    assert W.NodeIdentity("P").labels == ("P",)


def test_identity_resolution_order():
    from topo_graphdb.snapshot import GraphSnapshot

    snap = GraphSnapshot(np.array([1, 2]), np.array([[0], [1]]), meta={"identity": {"labels": ["M"], "key_property": "k"}})
    assert resolve_identity(snap, None, None, None) == W.NodeIdentity(("M",), "k")
    assert resolve_identity(snap, GraphSpec(labels="S"), None, None) == W.NodeIdentity(("S",), None)
    assert resolve_identity(snap, GraphSpec(labels="S"), ["E"], "e") == W.NodeIdentity(("E",), "e")


def test_write_validation_happens_before_connecting():
    from topo_graphdb.connection import ConnectionSettings

    conn = ConnectionSettings(uri="bolt://127.0.0.1:1")  # nothing listens there
    ids = np.array(["a", "b"], dtype=object)
    with pytest.raises(InputError, match="batch_size"):
        W.write_node_properties(conn, ids, {"x": np.zeros(2)}, batch_size=0)
    with pytest.raises(InputError, match="reserved"):
        W.write_node_properties(conn, ids, {"run_id": np.zeros(2)})
    with pytest.raises(InputError, match="shape"):
        W.write_node_properties(conn, ids, {"x": np.zeros(3)})
    with pytest.raises(InputError, match="rate_limit"):
        W.write_node_properties(conn, ids, {"x": np.zeros(2)}, rate_limit=-1)
    with pytest.raises(InputError, match="topo_id"):
        W.write_node_properties(conn, np.array([1, 2]), {"id": np.zeros(2)}, key_property="topo_id")
    with pytest.raises(InputError, match="indices"):
        W.write_predicted_links(conn, ids, [0, 2], [1, 0], [0.1, 0.2], model="m")
    with pytest.raises(InputError, match="model"):
        W.write_predicted_links(conn, ids, [0], [1], [0.1], model="")
    with pytest.raises(InputError, match="top_k"):
        W.write_predicted_links(conn, ids, [0], [1], [0.1], model="m", top_k=0)


def test_new_run_ids_differ():
    assert W.new_run_id() != W.new_run_id()


def test_workers_must_be_a_small_positive_integer():
    from topo_graphdb.connection import ConnectionSettings

    for bad in (0, 17, 1.5, True):
        with pytest.raises(InputError, match="workers must be an integer in 1..16"):
            W.write_node_properties(ConnectionSettings(uri="bolt://x"), ["a"], {"x": [1.0]}, workers=bad)
