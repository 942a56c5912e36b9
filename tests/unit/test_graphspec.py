"""Graph selection, query rendering and the array building of export/write-back (no server)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from topo_graphdb import connector as C
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


# --------------------------------------------------------------------------- rendering
def test_plan_label_free_selection_leaves_tool_output_out():
    plan = C._build_plan(GraphSpec())
    assert "MATCH (n)" in plan.nodes
    assert "NOT n:`TopoRun` AND NOT n:`TopoLock`" in plan.nodes
    assert "NOT type(r) IN $excluded_types" in plan.rels
    assert plan.params["excluded_types"] == ["PREDICTED_LINK"]
    assert "collect(elementId(a)) AS sources" in plan.rels


def test_plan_selection_is_quoted_and_parameterised():
    evil = "A`) DETACH DELETE n //"
    spec = GraphSpec(
        labels=[evil, "Paper"],
        rel_types=["CITES", "my type"],
        node_where=[(evil, "=", "x) DELETE n")],
        rel_where=[("w", ">", 1)],
        time_property="t",
        since=5,
        weight_property="w",
        feature_properties=["f"],
        label_property="y",
        key_property="id",
    )
    plan = C._build_plan(spec)
    assert "(n:`A``) DETACH DELETE n //`|`Paper`)" in plan.nodes
    assert "[r:`CITES`|`my type`]" in plan.rels
    # values never appear in the text
    assert "x) DELETE n" not in plan.nodes + plan.rels
    assert plan.params["np0"] == "x) DELETE n" and plan.params["rp0"] == 1 and plan.params["since"] == 5
    assert "r.`t` >= $since" in plan.rels
    assert "collect(elementId(n)) AS ids, count(n) AS count, collect(n.`id`) AS keys, collect([n.`y`, n.`f`]) AS vals" in plan.nodes
    assert "RETURN ids, count, keys, vals" in plan.nodes
    assert "collect(elementId(b)) AS targets, collect(coalesce(r.`t`, $missing)) AS times" in plan.rels
    assert "collect(elementId(a)) AS sources" in plan.rels
    assert plan.rel_columns == ["times", "weights"]
    # both end nodes are filtered like the node pass, labels selected: no exclusion of tool output
    assert "WHERE a.`A``) DETACH DELETE n //` = $np0" in plan.rels and "b.`A``) DETACH DELETE n //` = $np0" in plan.rels
    assert "excluded_types" not in plan.params
    assert "{{" not in plan.nodes + plan.rels


# --------------------------------------------------------------------------- orientation
def _naive_undirected(src, dst):
    pairs = {}
    for i, (a, b) in enumerate(zip(src, dst)):
        if a != b:
            pairs.setdefault((min(a, b), max(a, b)), []).append(i)
    return pairs


def test_orient_undirected_matches_naive_oracle():
    rng = np.random.default_rng(0)
    for _ in range(30):
        n = int(rng.integers(2, 9))
        m = int(rng.integers(1, 30))
        src = rng.integers(0, n, m).astype(np.int64)
        dst = rng.integers(0, n, m).astype(np.int64)
        t = rng.integers(0, 100, m).astype(np.float64)
        w = rng.random(m)
        ei, et, ew, stats = C._orient(src, dst, t, w, n, "undirected")
        pairs = _naive_undirected(src.tolist(), dst.tolist())
        want = sorted(pairs)
        assert [tuple(x) for x in ei.T.tolist()] == want
        assert et.tolist() == [min(t[i] for i in pairs[p]) for p in want]
        assert np.allclose(ew, [sum(w[i] for i in pairs[p]) for p in want])
        loops = int((src == dst).sum())
        assert stats["self_loops"] == loops
        assert stats["duplicates"] == m - loops - len(want)


def test_orient_directed_keeps_everything_and_counts():
    src = np.array([0, 1, 1, 2, 0])
    dst = np.array([1, 0, 1, 0, 1])
    ei, _, _, stats = C._orient(src, dst, None, None, 3, "natural")
    assert ei.tolist() == [[0, 1, 1, 2, 0], [1, 0, 1, 0, 1]]
    assert stats == {"self_loops": 1, "duplicates": 1, "dropped": 0}
    ei, _, _, _ = C._orient(src, dst, None, None, 3, "reverse")
    assert ei.tolist() == [[1, 0, 1, 0, 1], [0, 1, 1, 2, 0]]


# --------------------------------------------------------------------------- collector (fake driver)
class _FakeResult:
    def __init__(self, keys, rows):
        self._keys = list(keys)
        self._rows = [tuple(r) for r in rows]

    def keys(self):
        return self._keys

    def fetch(self, n):
        out, self._rows = self._rows[:n], self._rows[n:]
        return out


class _FakeTx:
    def __init__(self, results):
        self.results = list(results)

    def run(self, text, params=None):
        return self.results.pop(0)


def test_collector_maps_grouped_records_and_counts_dangling():
    spec = GraphSpec(labels="A", feature_properties=["f", "g"], label_property="y", time_property="t", weight_property="w")
    plan = C._build_plan(spec)
    seen = []
    col = C._Collector(spec, plan, lambda *a: seen.append(a), group_size=2)
    nodes = _FakeResult(
        ["ids", "count", "vals"],
        [(["n0", "n1"], 2, [[3, [1.0, 2.0], 0.5], [None, None, 1]]), (["n2"], 1, [[1, [3, 4], None]])],
    )
    x, y, info = col.read_nodes(_FakeTx([nodes]), 3)
    assert col.ids == ["n0", "n1", "n2"] and col.index == {"n0": 0, "n1": 1, "n2": 2}
    assert y.tolist() == [3, -1, 1]
    np.testing.assert_array_equal(x, [[1, 2, 0.5], [np.nan, np.nan, 1], [3, 4, np.nan]])
    assert info["x_missing"] == 2 and info["y_missing"] == 1
    nan = float("nan")
    rels = _FakeResult(
        ["sources", "targets", "times", "weights"],
        [
            (["n0", "n1"], [["n1"], ["gone", "n0"]], [[5], [6, 1]], [[2.0], [1.0, 1.0]]),
            (["n2"], [["n0", "n2", nan]], [[nan, 7, 8]], [[nan, 3.0, 1.0]]),
            ([], [], [], []),
        ],
    )
    info = col.read_rels(_FakeTx([rels]), 4)
    assert col.src.tolist() == [0, 1, 2, 2] and col.dst.tolist() == [1, 0, 0, 2]
    assert np.isnan(col.time[2]) and col.time[[0, 1, 3]].tolist() == [5, 1, 7]
    assert col.weight.tolist() == [2.0, 1.0, 1.0, 3.0]
    assert info == {"relationships_read": 6, "dangling": 2, "time_missing": 1, "weight_missing_as_1": 1}
    assert ("relationships", 6, 6) in seen and ("nodes", 3, 3) in seen


def test_collector_key_mode_maps_element_ids_and_keeps_keys():
    spec = GraphSpec(labels="A", key_property="uid", label_property="y")
    col = C._Collector(spec, C._build_plan(spec), None, group_size=2)
    nodes = _FakeResult(["ids", "count", "keys", "vals"], [(["e0", "e1"], 2, [10, 11], [[1], [2]]), (["e2"], 1, [12], [[3]])])
    _, y, _ = col.read_nodes(_FakeTx([nodes]), 0)
    assert col.keys == [10, 11, 12] and col.index == {"e0": 0, "e1": 1, "e2": 2} and y.tolist() == [1, 2, 3]
    col.read_rels(_FakeTx([_FakeResult(["sources", "targets"], [(["e2"], [["e0", "e1"]])])]), 0)
    assert col.src.tolist() == [2, 2] and col.dst.tolist() == [0, 1]


def test_lookup_falls_back_for_unknown_keys():
    index = {"a": 0, "b": 1}
    assert C._lookup(index, ["b", "a", "b"]).tolist() == [1, 0, 1]
    assert C._lookup(index, ["b"]).tolist() == [1]
    assert C._lookup(index, []).tolist() == []
    assert C._lookup(index, ["a", "zz", float("nan")]).tolist() == [0, -1, -1]


def test_collector_string_labels_become_codes():
    spec = GraphSpec(labels="A", label_property="kind")
    col = C._Collector(spec, C._build_plan(spec), None, group_size=10)
    _, y, info = col.read_nodes(_FakeTx([_FakeResult(["ids", "count", "vals"], [(["a", "b", "c"], 3, [["cat"], [None], ["ant"]])])]), 0)
    assert y.tolist() == [1, -1, 0] and info["y_classes"] == ["ant", "cat"]


def test_collector_rejects_duplicate_or_missing_keys_and_ragged_features():
    spec = GraphSpec(labels="A", key_property="id")
    col = C._Collector(spec, C._build_plan(spec), None, group_size=2)
    with pytest.raises(InputError, match="value 1 appears more than once"):
        col.read_nodes(_FakeTx([_FakeResult(["ids", "count", "keys"], [(["a", "b"], 2, [1, 2]), (["c"], 1, [1])])]), 0)
    col = C._Collector(spec, C._build_plan(spec), None, group_size=2)
    with pytest.raises(InputError, match="1 selected node.s. lack the key property"):
        col.read_nodes(_FakeTx([_FakeResult(["ids", "count", "keys"], [(["a", "b"], 2, [1])])]), 0)
    spec = GraphSpec(labels="A", feature_properties=["f"])
    col = C._Collector(spec, C._build_plan(spec), None, group_size=2)
    with pytest.raises(InputError, match="one length"):
        col.read_nodes(_FakeTx([_FakeResult(["ids", "count", "vals"], [(["a", "b"], 2, [[[1, 2]], [[1]]])])]), 0)


def test_collector_projection_grows_nodes_and_checks_columns():
    spec = GraphSpec(projection="MATCH ...")
    col = C._Collector(spec, None, None, group_size=2)
    info = col.read_projection(_FakeTx([_FakeResult(["source", "target"], [("x", "y"), ("y", "z"), ("z", None)])]), "")
    assert col.ids == ["x", "y", "z"] and col.src.tolist() == [0, 1] and col.dst.tolist() == [1, 2]
    assert info["null_endpoints"] == 1
    col = C._Collector(spec, None, None, group_size=2)
    with pytest.raises(InputError, match="source, target"):
        col.read_projection(_FakeTx([_FakeResult(["a", "b"], [])]), "")
    with pytest.raises(InputError, match="unexpected column"):
        col.read_projection(_FakeTx([_FakeResult(["source", "target", "label"], [])]), "")


def test_node_id_array_types():
    assert C._node_id_array([3, 1], "k").dtype == np.int64
    assert C._node_id_array(["a", "b"], "k").dtype == object
    with pytest.raises(InputError, match="must all be integers or all strings"):
        C._node_id_array([1, "a"], "k")


@pytest.mark.parametrize("value, expected", [(None, None), (3, 3.0), (2.5, 2.5), (True, 1.0)])
def test_number(value, expected):
    got = C._number(value, "t")
    assert (np.isnan(got) if expected is None else got == expected)


def test_number_temporal():
    from neo4j.time import Date, DateTime

    assert C._number(DateTime(1970, 1, 2, 0, 0, 0), "t") == 86400.0
    assert C._number(Date(1970, 1, 3), "t") == 2 * 86400.0
    with pytest.raises(InputError, match="numeric"):
        C._number("soon", "t")


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
