"""Export from a real Neo4j: every selection option, the export report, errors, round trips."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest

from topo_graphdb._cypher import quote_identifier as qi
from topo_graphdb._export_plan import build_plan
from topo_graphdb.connection import ConnectionSettings
from topo_graphdb.connector import GraphSpec, export_graph
from topo_graphdb.errors import AuthError, EmptyGraphError, InputError, Neo4jUnavailable, SchemaError, WriteNotAllowed
from topo_graphdb.snapshot import GraphSnapshot

# The small graph (label L, key uid); hand-written so that every expectation below is computed
# by hand from these lines.
#   node uid:  0      1      2      3      4        5
#   year:      2000   2005   2010   2015   2020     -
#   name:      alpha  beta   gamma  delta  epsilon  zeta
#   f:         0.5    1.0    1.5    2.0    2.5      -
#   emb:       [0,0]  [1,-1] [2,-2] [3,-3] [4,-4]   [5,-5]
#   cls:       1      0      1      0      1        -
# T1: 0->1 (t1 w2), 1->0 (t5 w1), 1->2 (t3, no w), 2->2 (t4 w1), 0->1 (t7 w3), 3->4 (t10 w0.5)
# T2: 4->5 (t2 w1), 0->5 (t8 w1)
# plus 0 -T1-> (:M {uid: 100}), (:Ledger {uid: 200}) -T1-> 0, and 2 -PREDICTED_LINK-> 3.
NODES = [
    {"uid": 0, "year": 2000, "name": "alpha", "f": 0.5, "emb": [0.0, 0.0], "cls": 1},
    {"uid": 1, "year": 2005, "name": "beta", "f": 1.0, "emb": [1.0, -1.0], "cls": 0},
    {"uid": 2, "year": 2010, "name": "gamma", "f": 1.5, "emb": [2.0, -2.0], "cls": 1},
    {"uid": 3, "year": 2015, "name": "delta", "f": 2.0, "emb": [3.0, -3.0], "cls": 0},
    {"uid": 4, "year": 2020, "name": "epsilon", "f": 2.5, "emb": [4.0, -4.0], "cls": 1},
    {"uid": 5, "name": "zeta", "emb": [5.0, -5.0]},
]
T1 = [(0, 1, 1, 2.0), (1, 0, 5, 1.0), (1, 2, 3, None), (2, 2, 4, 1.0), (0, 1, 7, 3.0), (3, 4, 10, 0.5)]
T2 = [(4, 5, 2, 1.0), (0, 5, 8, 1.0)]


@pytest.fixture(scope="module")
def g(neo4j_driver, neo4j_conn):
    tag = uuid.uuid4().hex[:10]
    names = {"L": f"CL_{tag}", "M": f"CM_{tag}", "Ledger": f"CLedger_{tag}", "T1": f"CT1_{tag}", "T2": f"CT2_{tag}"}
    L, M, LED, R1, R2 = (qi(names[k]) for k in ("L", "M", "Ledger", "T1", "T2"))
    with neo4j_driver.session(database=neo4j_conn.database) as s:
        s.run(f"UNWIND $rows AS row CREATE (n:{L}) SET n = row", rows=NODES).consume()
        for rt, rows in ((R1, T1), (R2, T2)):
            s.run(
                f"UNWIND $rows AS row MATCH (a:{L} {{uid: row[0]}}), (b:{L} {{uid: row[1]}}) "
                f"CREATE (a)-[r:{rt} {{t: row[2]}}]->(b) SET r.w = row[3]",
                rows=[list(r) for r in rows],
            ).consume()
        s.run(
            f"MATCH (a:{L} {{uid: 0}}), (c:{L} {{uid: 2}}), (d:{L} {{uid: 3}}) "
            f"CREATE (a)-[:{R1} {{t: 1}}]->(:{M} {{uid: 100}}), (:{LED} {{uid: 200}})-[:{R1} {{t: 1}}]->(a), "
            f"(c)-[:PREDICTED_LINK {{score: 0.9}}]->(d)"
        ).consume()
        eids = {
            r["uid"]: r["eid"]
            for r in s.run(f"MATCH (n) WHERE n:{L} OR n:{M} OR n:{LED} RETURN n.uid AS uid, elementId(n) AS eid")
        }
    yield {**names, "eids": eids}
    with neo4j_driver.session(database=neo4j_conn.database) as s:
        s.run(f"MATCH (n) WHERE n:{L} OR n:{M} OR n:{LED} DETACH DELETE n").consume()


def keyed_edges(snap: GraphSnapshot, uid_of=None) -> list[tuple]:
    """Edges as (source key, target key[, time][, weight]) sorted; uid_of maps element ids to uids.
    Undirected snapshots give each pair as (smaller key, larger key)."""
    ids = snap.node_ids if uid_of is None else np.array([uid_of.get(i, i) for i in snap.node_ids], dtype=object)
    cols = [ids[snap.edge_index[0]].tolist(), ids[snap.edge_index[1]].tolist()]
    if snap.meta["orientation"] == "undirected":
        cols = [list(map(min, *cols)), list(map(max, *cols))]
    if snap.edge_time is not None:
        cols.append(snap.edge_time.tolist())
    if snap.edge_weight is not None:
        cols.append(snap.edge_weight.tolist())
    return sorted(zip(*cols))


def spec(g, **kw) -> GraphSpec:
    kw.setdefault("labels", [g["L"]])
    kw.setdefault("rel_types", [g["T1"]])
    kw.setdefault("key_property", "uid")
    return GraphSpec(**kw)


# --------------------------------------------------------------------------- orientation
def test_natural_keeps_every_relationship_with_time_and_weight(neo4j_conn, g):
    snap = export_graph(neo4j_conn, spec(g, orientation="natural", time_property="t", weight_property="w"))
    assert sorted(snap.node_ids.tolist()) == [0, 1, 2, 3, 4, 5]
    assert snap.node_ids.dtype == np.int64
    want = sorted((a, b, t, 1.0 if w is None else w) for a, b, t, w in T1)
    assert keyed_edges(snap) == want
    assert snap.edge_time.dtype == np.int64
    rep = snap.meta["report"]
    assert (rep["self_loops"], rep["duplicates"], rep["dropped"]) == (1, 1, 0)
    assert rep["weight_missing_as_1"] == 1 and rep["time_missing"] == 0 and rep["dangling"] == 0
    assert snap.meta["identity"] == {"labels": [g["L"]], "key_property": "uid", "id_kind": "key"}


def test_reverse_flips_directions(neo4j_conn, g):
    snap = export_graph(neo4j_conn, spec(g, orientation="reverse"))
    assert keyed_edges(snap) == sorted((b, a) for a, b, _, _ in T1)


def test_undirected_drops_loops_and_duplicates_keeps_earliest_time_and_summed_weight(neo4j_conn, g):
    snap = export_graph(neo4j_conn, spec(g, time_property="t", weight_property="w"))
    # {0,1}: times 1, 5, 7 -> 1; weights 2 + 1 + 3 = 6; {1,2}: t 3, w missing -> 1; {3,4}: t 10, w .5
    assert keyed_edges(snap) == [(0, 1, 1, 6.0), (1, 2, 3, 1.0), (3, 4, 10, 0.5)]
    ei = snap.edge_index
    assert np.all(ei[0] < ei[1])
    rep = snap.meta["report"]
    assert (rep["self_loops"], rep["duplicates"], rep["dropped"], rep["edges"]) == (1, 2, 3, 3)
    assert rep["relationships_read"] == 6


# --------------------------------------------------------------------------- labels and types
def test_several_labels_and_types(neo4j_conn, g):
    snap = export_graph(
        neo4j_conn, spec(g, labels=[g["L"], g["M"]], rel_types=[g["T1"], g["T2"]], orientation="natural")
    )
    assert sorted(snap.node_ids.tolist()) == [0, 1, 2, 3, 4, 5, 100]
    want = sorted([(a, b) for a, b, _, _ in T1 + T2] + [(0, 100)])
    assert keyed_edges(snap) == want


def test_label_free_selection_leaves_the_ledger_label_and_predicted_links_out(neo4j_conn, g):
    uid_of = {e: u for u, e in g["eids"].items()}
    # all labels, one type: the M node is in; the ledger label is left out (with its relationship)
    s1 = export_graph(
        neo4j_conn,
        GraphSpec(rel_types=[g["T1"]], orientation="natural", exclude_labels=[g["Ledger"]]),
    )
    assert g["eids"][200] not in set(s1.node_ids.tolist())
    assert g["eids"][100] in set(s1.node_ids.tolist())
    assert keyed_edges(s1, uid_of) == sorted([(a, b) for a, b, _, _ in T1] + [(0, 100)])
    assert s1.meta["identity"]["id_kind"] == "elementId"
    # one label, all types: T1 and T2, but not the tool's PREDICTED_LINK 2->3
    s2 = export_graph(neo4j_conn, GraphSpec(labels=[g["L"]], orientation="natural", key_property="uid"))
    assert keyed_edges(s2) == sorted((a, b) for a, b, _, _ in T1 + T2)
    # unless the exclusion is switched off
    s3 = export_graph(neo4j_conn, GraphSpec(labels=[g["L"]], orientation="natural", key_property="uid", exclude_rel_types=()))
    assert (2, 3) in keyed_edges(s3)


def test_element_ids_identify_nodes_without_key(neo4j_conn, g):
    snap = export_graph(neo4j_conn, spec(g, key_property=None))
    assert snap.node_ids.dtype == object
    assert sorted(snap.node_ids.tolist()) == sorted(g["eids"][u] for u in range(6))
    uid_of = {e: u for u, e in g["eids"].items()}
    assert keyed_edges(snap, uid_of) == [(0, 1), (1, 2), (3, 4)]


# --------------------------------------------------------------------------- the export procedure
PROCEDURE_SELECTIONS = {
    "one type, keys": lambda g: spec(g, orientation="natural"),
    "element ids, reversed": lambda g: spec(g, orientation="reverse", key_property=None),
    "two labels and types, undirected": lambda g: spec(g, labels=[g["L"], g["M"]], rel_types=[g["T1"], g["T2"]]),
    "all types but the excluded": lambda g: spec(g, rel_types=[], orientation="natural"),
    "all labels but the ledger's": lambda g: GraphSpec(rel_types=[g["T1"]], orientation="natural", exclude_labels=[g["Ledger"]]),
    "features and labels": lambda g: spec(g, rel_types=[g["T2"]], feature_properties=["f", "emb"], label_property="cls"),
}


def by_node(snap: GraphSnapshot) -> dict:
    """A snapshot independent of its node and edge order: nodes (with x and y) by id, sorted id pairs."""
    ids = snap.node_ids.tolist()
    x = None if snap.x is None else np.where(np.isnan(snap.x), None, snap.x).tolist()  # NaN != NaN
    nodes = {i: (None if x is None else x[k], None if snap.y is None else int(snap.y[k])) for k, i in enumerate(ids)}
    return {"nodes": nodes, "edges": keyed_edges(snap)}


@pytest.mark.parametrize("name", list(PROCEDURE_SELECTIONS))
def test_the_export_procedure_reads_what_the_cypher_pass_reads(neo4j_conn, g, name):
    sel = PROCEDURE_SELECTIONS[name](g)
    fast, slow = export_graph(neo4j_conn, sel), export_graph(neo4j_conn, sel, use_procedures=False)
    assert (fast.meta["report"]["relationships_via"], slow.meta["report"]["relationships_via"]) == ("procedure", "cypher")
    assert by_node(fast) == by_node(slow)  # the same nodes, values and relationships (in the procedure's order)
    assert by_node(fast)["edges"]
    same = lambda rep: {k: v for k, v in rep.items() if k not in ("relationships_via", "seconds")}  # noqa: E731
    assert same(fast.meta["report"]) == same(slow.meta["report"])
    again = export_graph(neo4j_conn, sel)
    assert np.array_equal(again.node_ids, fast.node_ids) and np.array_equal(again.edge_index, fast.edge_index)


def procedure_records(driver, conn, sel: GraphSpec, mode: str) -> tuple[list[str], list, list[tuple[str, str]]]:
    """The element ids, keys and relationships (as element id pairs) ``topo.export.relationships`` sends in ``mode``."""
    args = build_plan(sel).procedure
    ids, keys, pairs = [], [], []
    with driver.session(database=conn.database) as s:
        result = s.run("CALL topo.export.relationships($labels, $excluded_labels, $types, $excluded, 2, $mode, $key)", **args, mode=mode)
        for rec in result:
            ids.extend(rec["ids"].split("\n") if rec["ids"] else [])
            keys.extend(rec["keys"])
            src, dst = np.frombuffer(rec["sources"], "<i4"), np.frombuffer(rec["targets"], "<i4")
            assert src.size == dst.size == rec["count"]
            pairs.extend(zip(src.tolist(), dst.tolist()))
    assert len(keys) == (len(ids) if sel.key_property else 0)
    return ids, keys, sorted((ids[a], ids[b]) for a, b in pairs)


@pytest.mark.parametrize("name", list(PROCEDURE_SELECTIONS))
def test_the_export_procedure_reads_the_same_in_one_pass_and_from_each_node(neo4j_driver, neo4j_conn, g, name):
    sel = PROCEDURE_SELECTIONS[name](g)
    passed = procedure_records(neo4j_driver, neo4j_conn, sel, "pass")
    assert passed[2], "the selection has relationships"
    assert passed == procedure_records(neo4j_driver, neo4j_conn, sel, "follow")
    assert passed == procedure_records(neo4j_driver, neo4j_conn, sel, "auto")


def test_the_export_procedure_refuses_an_unknown_mode(neo4j_driver, neo4j_conn, g):
    import neo4j

    with pytest.raises(neo4j.exceptions.ClientError, match="mode must be auto, pass or follow"):
        procedure_records(neo4j_driver, neo4j_conn, spec(g), "fast")


@pytest.mark.parametrize("kw", [{"time_property": "t"}, {"weight_property": "w"}, {"rel_where": ["w > 1"]}, {"node_where": ["year >= 2005"]}])
def test_predicates_and_relationship_values_are_read_through_cypher(neo4j_conn, g, kw):
    assert export_graph(neo4j_conn, spec(g, **kw)).meta["report"]["relationships_via"] == "cypher"


# --------------------------------------------------------------------------- predicates
@pytest.mark.parametrize(
    "where, nodes",
    [
        (["year >= 2005"], {1, 2, 3, 4}),
        (["year IS NOT NULL"], {0, 1, 2, 3, 4}),
        (["year <> 2000", "year < 2020"], {1, 2, 3}),
        (["year > 2012", "year <= 2020"], {3, 4}),
        (["year = 2010", "name = 'gamma'"], {2}),
        (["name IN ['alpha', 'beta', 'nobody']"], {0, 1}),
        (["name STARTS WITH 'e'", "year IS NOT NULL"], {4}),
        (["name CONTAINS 'l'"], {0, 3, 4}),
        ([("year", "IN", [2000, 2005, 2010])], {0, 1, 2}),
    ],
)
def test_node_predicates(neo4j_conn, g, where, nodes):
    rels = [(a, b) for a, b, _, _ in T1 + T2 if a in nodes and b in nodes]
    sel = spec(g, rel_types=[g["T1"], g["T2"]], node_where=where, orientation="natural")
    if not rels:
        with pytest.raises(EmptyGraphError, match="no relationships"):
            export_graph(neo4j_conn, sel)
        return
    snap = export_graph(neo4j_conn, sel)
    assert set(snap.node_ids.tolist()) == nodes
    assert keyed_edges(snap) == sorted(rels)


@pytest.mark.parametrize(
    "kw, want",
    [
        ({"rel_where": ["w > 1"]}, [(0, 1, 1), (0, 1, 7)]),
        ({"rel_where": ["w IS NULL"]}, [(1, 2, 3)]),
        ({"rel_where": [("t", "IN", [3, 4])]}, [(1, 2, 3), (2, 2, 4)]),
        ({"since": 5}, [(0, 1, 7), (1, 0, 5), (3, 4, 10)]),
        ({"since": 5, "rel_where": ["w < 1"]}, [(3, 4, 10)]),
    ],
)
def test_relationship_predicates_and_since(neo4j_conn, g, kw, want):
    snap = export_graph(neo4j_conn, spec(g, orientation="natural", time_property="t", **kw))
    assert keyed_edges(snap) == want


# --------------------------------------------------------------------------- properties
def test_features_and_labels(neo4j_conn, g):
    snap = export_graph(
        neo4j_conn, spec(g, rel_types=[g["T2"]], feature_properties=["f", "emb"], label_property="cls")
    )
    order = snap.node_ids.tolist()
    assert sorted(order) == [0, 1, 2, 3, 4, 5]
    for i, uid in enumerate(order):
        node = NODES[uid]
        want = [node.get("f", np.nan), *node["emb"]]
        np.testing.assert_array_equal(snap.x[i], want)
        assert snap.y[i] == node.get("cls", -1)
    rep = snap.meta["report"]
    assert rep["x_missing"] == 1 and rep["y_missing"] == 1
    assert rep["x_columns"] == [{"property": "f", "width": 1}, {"property": "emb", "width": 2}]
    assert keyed_edges(snap) == [(0, 5), (4, 5)]


def test_string_labels_become_codes(neo4j_conn, g):
    snap = export_graph(neo4j_conn, spec(g, label_property="name"))
    classes = snap.meta["y_classes"]
    assert classes == sorted(n["name"] for n in NODES)
    assert [classes[c] for c in snap.y] == [NODES[u]["name"] for u in snap.node_ids.tolist()]


# --------------------------------------------------------------------------- projection
def test_projection_query(neo4j_conn, g):
    L, R1 = qi(g["L"]), qi(g["T1"])
    text = (
        f"MATCH (a:{L})-[r:{R1}]->(b:{L}) WHERE r.t > 2 "
        "RETURN elementId(a) AS source, elementId(b) AS target, r.t AS time, r.w AS weight"
    )
    snap = export_graph(neo4j_conn, GraphSpec(projection=text, orientation="natural"))
    uid_of = {e: u for u, e in g["eids"].items()}
    assert keyed_edges(snap, uid_of) == [(0, 1, 7, 3.0), (1, 0, 5, 1.0), (1, 2, 3, 1.0), (2, 2, 4, 1.0), (3, 4, 10, 0.5)]
    assert len(snap.node_ids) == 5  # endpoints only: node 5 has no T1 relationship with t > 2
    # key values instead of element ids
    keyed = export_graph(
        neo4j_conn,
        GraphSpec(projection=f"MATCH (a:{L})-[:{R1}]->(b:{L}) RETURN a.uid AS source, b.uid AS target", key_property="uid"),
    )
    assert keyed_edges(keyed) == [(0, 1), (1, 2), (3, 4)]


def test_projection_cannot_write(neo4j_conn, neo4j_driver, g):
    marker = f"Written_{uuid.uuid4().hex[:8]}"
    text = f"CREATE (n:{qi(marker)}) RETURN elementId(n) AS source, elementId(n) AS target"
    with pytest.raises(WriteNotAllowed, match="read transaction"):
        export_graph(neo4j_conn, GraphSpec(projection=text))
    with neo4j_driver.session(database=neo4j_conn.database) as s:
        assert s.run(f"MATCH (n:{qi(marker)}) RETURN count(n) AS c").single()["c"] == 0


def test_projection_errors_are_input_errors(neo4j_conn):
    with pytest.raises(InputError, match="source, target"):
        export_graph(neo4j_conn, GraphSpec(projection="RETURN 1 AS a, 2 AS b"))
    with pytest.raises(InputError, match="projection query failed"):
        export_graph(neo4j_conn, GraphSpec(projection="MATCH (a) RETURN a.x AS source, target"))


# --------------------------------------------------------------------------- errors
def test_unknown_label_type_or_property_names_what_exists(neo4j_conn, g):
    with pytest.raises(SchemaError, match=f"unknown label.*'NoSuchLabel_x'.*{g['L']}"):
        export_graph(neo4j_conn, spec(g, labels=["NoSuchLabel_x"]))
    with pytest.raises(SchemaError, match=f"unknown relationship type.*{g['T2']}"):
        export_graph(neo4j_conn, spec(g, rel_types=["NO_SUCH_TYPE_x"]))
    with pytest.raises(SchemaError, match="unknown property key.*'no_such_prop_x'"):
        export_graph(neo4j_conn, spec(g, feature_properties=["no_such_prop_x"]))


def test_injection_attempts_are_just_unknown_names(neo4j_conn, neo4j_driver, g):
    def total():
        with neo4j_driver.session(database=neo4j_conn.database) as s:
            return s.run("MATCH (n) RETURN count(n) AS c").single()["c"]

    before = total()
    for evil in ["A`) DETACH DELETE n //", "A) DETACH DELETE n //", "`"]:
        with pytest.raises(SchemaError):
            export_graph(neo4j_conn, spec(g, labels=[evil]))
        with pytest.raises(SchemaError):
            export_graph(neo4j_conn, spec(g, rel_types=[evil]))
    # a predicate value is a parameter: it matches nothing and deletes nothing
    with pytest.raises(EmptyGraphError):
        export_graph(neo4j_conn, spec(g, node_where=[("name", "=", "x' OR 1=1 DETACH DELETE n //")]))
    assert total() == before


def test_empty_selection(neo4j_conn, g):
    with pytest.raises(EmptyGraphError, match="no nodes"):
        export_graph(neo4j_conn, spec(g, node_where=["year > 3000"]))
    with pytest.raises(EmptyGraphError, match="no relationships"):
        export_graph(neo4j_conn, spec(g, since=100, time_property="t"))


@pytest.mark.parametrize("use_procedures", [True, False], ids=["procedure", "cypher"])
def test_missing_or_repeated_keys_are_input_errors(neo4j_conn, neo4j_driver, g, use_procedures):
    with pytest.raises(InputError, match="^1 selected node.s. lack the key property 'f'"):
        export_graph(neo4j_conn, spec(g, key_property="f"), use_procedures=use_procedures)
    label = f"Dup_{uuid.uuid4().hex[:10]}"
    with neo4j_driver.session(database=neo4j_conn.database) as s:
        s.run(f"CREATE (:{label} {{k: 7}})-[:{qi(g['T1'])}]->(:{label} {{k: 8}})-[:{qi(g['T1'])}]->(:{label} {{k: 7}})").consume()
    try:
        with pytest.raises(InputError, match="^key property 'k' is not unique: value 7 appears more than once"):
            export_graph(neo4j_conn, GraphSpec(labels=[label], rel_types=[g["T1"]], key_property="k"), use_procedures=use_procedures)
    finally:
        with neo4j_driver.session(database=neo4j_conn.database) as s:
            s.run(f"MATCH (n:{label}) DETACH DELETE n").consume()


def test_unreachable_and_bad_credentials(neo4j_conn):
    with pytest.raises(Neo4jUnavailable):
        export_graph(ConnectionSettings(uri="bolt://127.0.0.1:1"), GraphSpec())
    if neo4j_conn.password is None:
        pytest.skip("the server under test has authentication off")
    bad = ConnectionSettings(uri=neo4j_conn.uri, user=neo4j_conn.user, password="wrong-password-123", database=neo4j_conn.database)
    with pytest.raises(AuthError) as info:
        export_graph(bad, GraphSpec())
    assert "wrong-password-123" not in str(info.value)


def test_progress_reports_each_phase(neo4j_conn, g):
    calls = []
    export_graph(neo4j_conn, spec(g), progress=lambda *a: calls.append(a), group_size=2)
    phases = [c[0] for c in calls]
    assert phases[0] == "nodes" and phases[-1] == "relationships"
    assert ("nodes", 6, 6) in calls
    assert calls[-1] == ("relationships", 6, 6)
    assert all(done <= total for _, done, total in calls)


@pytest.mark.parametrize("group_size, fetch_size", [(1, 1), (2, 3), (1000, 20_000)])
def test_paging_does_not_change_the_result(neo4j_conn, g, group_size, fetch_size):
    snap = export_graph(neo4j_conn, spec(g, rel_types=[g["T1"], g["T2"]], orientation="natural", time_property="t"),
                        group_size=group_size, fetch_size=fetch_size)
    assert keyed_edges(snap) == sorted((a, b, t) for a, b, t, _ in T1 + T2)


# --------------------------------------------------------------------------- round trip on Cora
@pytest.fixture(scope="module")
def cora(neo4j_conn, neo4j_driver):
    from topo_graphdb.loader import load_dataset

    label = f"CoraC_{uuid.uuid4().hex[:8]}"
    load_dataset(neo4j_conn, "cora", label=label, rel_type="CITES")
    yield label
    with neo4j_driver.session(database=neo4j_conn.database) as s:
        s.run(f"MATCH (n:{qi(label)}) CALL (n) {{ DETACH DELETE n }} IN TRANSACTIONS OF 5000 ROWS").consume()
        names = [r["name"] for r in s.run("SHOW CONSTRAINTS YIELD name, labelsOrTypes WHERE $l IN labelsOrTypes RETURN name", l=label)]
        for name in names:
            s.run(f"DROP CONSTRAINT {qi(name)} IF EXISTS").consume()


def test_cora_export_matches_the_bundled_files(neo4j_conn, cora, tmp_path):
    import scipy.sparse as sp

    from topo_graphdb.loader import dataset_path

    folder = dataset_path("cora")
    snap = export_graph(
        neo4j_conn,
        GraphSpec(labels=cora, rel_types="CITES", key_property="id", feature_properties=["features"], label_property="label"),
    )
    raw = np.loadtxt(folder / "edges.csv", delimiter=",", skiprows=1, dtype=np.int64)
    want = {(min(a, b), max(a, b)) for a, b in raw.tolist() if a != b}
    ids = snap.node_ids
    got = {(int(ids[a]), int(ids[b])) for a, b in snap.edge_index.T.tolist()}
    got = {(min(p), max(p)) for p in got}
    assert got == want and snap.num_edges == 5278 and snap.num_nodes == 2708
    x = sp.load_npz(folder / "features.npz").toarray()
    y = np.load(folder / "labels.npy")
    np.testing.assert_array_equal(snap.x, x[ids])
    np.testing.assert_array_equal(snap.y, y[ids])
    # Parquet round trip
    back = GraphSnapshot.from_parquet(snap.to_parquet(tmp_path / "snap"))
    np.testing.assert_array_equal(back.node_ids, snap.node_ids)
    np.testing.assert_array_equal(back.edge_index, snap.edge_index)
    np.testing.assert_array_equal(back.x, snap.x)
    assert back.meta["identity"] == snap.meta["identity"]


def test_round_trip_export_write_reexport(neo4j_conn, cora):
    from topo_graphdb.writeback import write_node_properties

    sel = GraphSpec(labels=cora, rel_types="CITES")  # element ids
    snap = export_graph(neo4j_conn, sel)
    degree = np.bincount(snap.edge_index.ravel(), minlength=snap.num_nodes).astype(np.float64)
    half = degree / 2
    half[::7] = np.nan  # missing values: the property is not written
    rep = write_node_properties(neo4j_conn, snap, {"degree": degree, "half": half}, run_id="rt-1", batch_size=500)
    assert (rep.matched, rep.missing, rep.batches) == (2708, 0, 6)
    again = export_graph(neo4j_conn, GraphSpec(labels=cora, rel_types="CITES", feature_properties=["topo_degree", "topo_half"]))
    pos = {e: i for i, e in enumerate(snap.node_ids.tolist())}
    order = np.array([pos[e] for e in again.node_ids.tolist()])
    np.testing.assert_array_equal(again.x[:, 0], degree[order])
    np.testing.assert_array_equal(again.x[:, 1], half[order])  # NaN where nothing was written
    assert again.meta["report"]["x_missing"] == int(np.isnan(half).sum())


def test_cli_export_writes_a_snapshot(cli, cora, tmp_path):
    out = tmp_path / "snap"
    res = cli("export", "--label", cora, "--rel-type", "CITES", "--key-property", "id", "--where", "label IN [0, 1]",
              "--feature-property", "features", "--orientation", "natural", "--out", out, "--json")
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    snap = GraphSnapshot.from_parquet(out)
    from topo_graphdb.loader import dataset_path

    y = np.load(dataset_path("cora") / "labels.npy")
    assert report["nodes"] == snap.num_nodes == int(np.isin(y, [0, 1]).sum())
    assert report["edges"] == snap.num_edges
    assert set(y[snap.node_ids.astype(np.int64)].tolist()) == {0, 1}
    assert snap.x.shape == (snap.num_nodes, 1433)
    assert snap.meta["selection"]["node_where"] == ["label IN [0, 1]"]
    # errors are one line with the documented exit codes
    res = cli("export", "--label", "A`) DETACH DELETE n //", "--out", tmp_path / "x")
    assert res.exit_code == 3 and res.stderr.startswith("error: unknown label") and len(res.stderr.strip().splitlines()) == 1
    res = cli("export", "--label", cora, "--where", "label ~ 3", "--out", tmp_path / "x")
    assert res.exit_code == 3 and "expected one of" in res.stderr
    res = cli("export", "--label", cora, "--out", tmp_path / "x", env={"NEO4J_URI": "bolt://127.0.0.1:1"})
    assert res.exit_code == 4

